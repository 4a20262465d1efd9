// Command id -> handler, each loaded on first use so activation stays cheap.
import * as vscode from 'vscode';
import { OtaError } from '../core/errors';
import type { Controller } from './controller';

type Handler = (ctl: Controller, ...args: unknown[]) => Promise<unknown>;

const HANDLERS: Record<string, () => Promise<Handler>> = {
  'ota.generateManifest': () => import('./actions/manifest').then((m) => m.generateManifest),
  'ota.publishRelease': () => import('./actions/publish').then((m) => m.publishRelease),
  'ota.installUpdater': () => import('./actions/install').then((m) => m.installUpdater),
  'ota.updateDevice': () => import('./actions/device').then((m) => m.updateDevice),
  'ota.watchDevice': () => import('./actions/device').then((m) => m.watchDevice),
  'ota.confirmUpdate': () => import('./actions/device').then((m) => m.confirmUpdate),
  'ota.rollbackDevice': () => import('./actions/device').then((m) => m.rollbackDevice),
  'ota.checkForUpdates': () => Promise.resolve((ctl) => ctl.checkForUpdates(true)),
  'ota.startVirtualBoard': () => import('./actions/virtual-board').then((m) => m.startVirtualBoard),
  'ota.selectPort': () => import('./actions/select-port').then((m) => m.selectPort),
  'ota.configureDevice': () => import('./actions/configure').then((m) => m.configureDevice),
  'ota.setGitHubToken': () => Promise.resolve((ctl) => ctl.auth.prompt()),
  'ota.refreshDevices': () =>
    Promise.resolve(async (ctl) => (await ctl.boards.rescan(), ctl.boards.refresh())),
  'ota.refreshReleases': () => Promise.resolve((ctl) => ctl.checkForUpdates(true)),
};

/** Shows a failure the way the user can act on it: OtaError messages as they are, with their code. */
function report(ctl: Controller, id: string, err: unknown): void {
  const message =
    err instanceof OtaError
      ? `${err.message} [${err.code}]`
      : err instanceof Error
        ? err.message
        : String(err);
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
