// Registers the Fleet view at activation; it connects to the broker in the background when one is
// configured (never delaying activation), and loads the MQTT client only then.
import type * as vscode from 'vscode';
import { FleetView } from './fleet-view';
import { loadHeavy } from './load-heavy';
import type { OtaOutput } from './output';

export function registerFleet(context: vscode.ExtensionContext, output: OtaOutput): vscode.Disposable {
  const view = new FleetView(context, output, () => loadHeavy().fleet);
  setTimeout(() => void view.connect(false), 0);
  return view;
}
