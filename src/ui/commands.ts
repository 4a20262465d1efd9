// Command id -> handler, each loaded on first use so activation stays cheap.
import * as vscode from 'vscode';
import type { Controller } from './controller';
import { loadHeavy } from './load-heavy';

type Handler = (ctl: Controller, ...args: unknown[]) => Promise<unknown>;

const HANDLERS: Record<string, () => Promise<Handler>> = {
  'ota.generateManifest': () => Promise.resolve(loadHeavy().generateManifest),
  'ota.publishRelease': () => Promise.resolve(loadHeavy().publishRelease),
  'ota.installUpdater': () => Promise.resolve(loadHeavy().installUpdater),
  'ota.updateDevice': () => Promise.resolve(loadHeavy().updateDevice),
  'ota.watchDevice': () => Promise.resolve(loadHeavy().watchDevice),
  'ota.confirmUpdate': () => Promise.resolve(loadHeavy().confirmUpdate),
  'ota.rollbackDevice': () => Promise.resolve(loadHeavy().rollbackDevice),
  'ota.checkForUpdates': () => Promise.resolve((ctl) => ctl.checkForUpdates(true)),
  'ota.startVirtualBoard': () => Promise.resolve(loadHeavy().startVirtualBoard),
  'ota.selectPort': () => Promise.resolve(loadHeavy().selectPort),
  'ota.configureDevice': () => Promise.resolve(loadHeavy().configureDevice),
  'ota.setGitHubToken': () => Promise.resolve((ctl) => ctl.auth.prompt()),
  'ota.refreshDevices': () =>
    Promise.resolve(async (ctl) => {
      await ctl.boards.rescan();
      await ctl.boards.refresh();
    }),
  'ota.refreshReleases': () => Promise.resolve((ctl) => ctl.checkForUpdates(true)),
};

/** Shows a failure the way the user can act on it: OtaError messages as they are, with their code. */
function report(ctl: Controller, id: string, err: unknown): void {
  // The commands' bundle has its own OtaError class: recognise the shape, not the class.
  const code = (err as { code?: unknown } | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  const message = typeof code === 'string' ? `${text} [${code}]` : text;
  ctl.output.error(`${id}: ${message}`);
  void vscode.window.showErrorMessage(ctl.redactor.redact(message));
}

export function registerCommands(ctl: Controller): vscode.Disposable[] {
  return Object.entries(HANDLERS).map(([id, load]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        const handler = await load();
        return await handler(ctl, ...args);
      } catch (err) {
        report(ctl, id, err);
        return undefined;
      }
    }),
  );
}
