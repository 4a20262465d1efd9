// VS Code entry point: builds the controller and registers commands and views.
// Everything heavy loads later, inside the command that needs it.
import type * as vscode from 'vscode';
import { registerCommands } from './ui/commands';
import { Controller } from './ui/controller';
import { registerFleet } from './ui/fleet-register';

/** What the extension exports, for the tests that run inside VS Code. */
export interface OtaExtensionApi {
  activationMs: number;
  controller: Controller;
}

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): OtaExtensionApi {
  const started = performance.now();
  controller = new Controller(context);
  context.subscriptions.push(
    controller,
    ...registerCommands(controller),
    registerFleet(context, controller.output),
  );
  // The first check and port scan run after activation returns, so startup never waits on the network.
  setTimeout(() => {
    void controller?.rescanAndRead();
    void controller?.status.run();
  }, 0);
  return { activationMs: performance.now() - started, controller };
}

export function deactivate(): void {
  controller = undefined;
}
