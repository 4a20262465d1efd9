// Command id -> handler, each loaded on first use so activation stays cheap. A failure is shown
// the way the user can act on it (src/core/user-errors.ts): a sentence naming the host, and
// buttons that run the fix. A command that succeeds ticks its walkthrough step.
import * as vscode from 'vscode';
import { explainError, type Fix } from '../core/user-errors';
import type { Controller } from './controller';
import { loadHeavy } from './load-heavy';
import { releaseHost } from './settings';

type Handler = (ctl: Controller, ...args: unknown[]) => Promise<unknown>;

const heavy =
  (name: keyof ReturnType<typeof loadHeavy>): (() => Promise<Handler>) =>
  () =>
    Promise.resolve(loadHeavy()[name] as Handler);

const HANDLERS: Record<string, () => Promise<Handler>> = {
  'ota.generateManifest': heavy('generateManifest'),
  'ota.publishRelease': heavy('publishRelease'),
  'ota.installUpdater': heavy('installUpdater'),
  'ota.updateDevice': heavy('updateDevice'),
  'ota.updateToRelease': heavy('updateToRelease'),
  'ota.watchDevice': heavy('watchDevice'),
  'ota.stopWatching': heavy('stopWatching'),
  'ota.confirmUpdate': heavy('confirmUpdate'),
  'ota.rollbackDevice': heavy('rollbackDevice'),
  'ota.checkForUpdates': () => Promise.resolve((ctl) => ctl.checkForUpdates(true)),
  'ota.startVirtualBoard': heavy('startVirtualBoard'),
  'ota.selectPort': heavy('selectPort'),
  'ota.configureDevice': heavy('configureDevice'),
  'ota.createSigningKey': heavy('createSigningKey'),
  'ota.serveReleases': heavy('serveReleases'),
  'ota.openRepl': heavy('openRepl'),
  'ota.openBoardFile': heavy('openBoardFile'),
  'ota.downloadBoardFile': heavy('downloadBoardFile'),
  'ota.deleteBoardFile': heavy('deleteBoardFile'),
  'ota.compareBoardFile': heavy('compareBoardFile'),
  'ota.refreshFiles': () => Promise.resolve((ctl) => Promise.resolve(ctl.files.refresh())),
  'ota.stopServing': heavy('stopServing'),
  'ota.openRelease': heavy('openRelease'),
  'ota.copyReleaseUrl': heavy('copyReleaseUrl'),
  'ota.setGitHubToken': () =>
    Promise.resolve(async (ctl) => {
      const t = await ctl.auth.prompt(ctl.settings().apiUrl);
      if (t) void ctl.checkForUpdates(false).catch(() => undefined);
      return t;
    }),
  'ota.showOutput': () => Promise.resolve((ctl) => Promise.resolve(ctl.output.channel.show(true))),
  'ota.refreshDevices': () =>
    Promise.resolve(async (ctl) => {
      await ctl.boards.rescan();
      await ctl.boards.refresh();
    }),
  // { signIn: true }: the Releases view's "Sign in to GitHub" for a private ghcr.io package.
  'ota.refreshReleases': () =>
    Promise.resolve((ctl, arg) =>
      ctl.checkForUpdates(true, Boolean((arg as { signIn?: unknown } | undefined)?.signIn)),
    ),
};

/** The buttons of an error, and the command each one runs. */
const FIXES: Record<Fix, { label: string; command: string }> = {
  configure: { label: 'Configure Device', command: 'ota.configureDevice' },
  token: { label: 'Set GitHub Token', command: 'ota.setGitHubToken' },
  install: { label: 'Install Updater', command: 'ota.installUpdater' },
  serve: { label: 'Serve Releases Locally', command: 'ota.serveReleases' },
  output: { label: 'Show Output', command: 'ota.showOutput' },
  key: { label: 'Create Signing Key', command: 'ota.createSigningKey' },
  confirm: { label: 'Confirm Update', command: 'ota.confirmUpdate' },
};

/** Commands whose success ticks a walkthrough step (package.json walkthroughs completionEvents). */
const STEPS = new Set([
  'ota.startVirtualBoard',
  'ota.selectPort',
  'ota.configureDevice',
  'ota.installUpdater',
  'ota.publishRelease',
  'ota.serveReleases',
  'ota.updateDevice',
]);

/** Shows a failure with the buttons that fix it; returns the button pressed (for tests). */
export function report(ctl: Controller, id: string, err: unknown): Thenable<string | undefined> {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'cancelled') {
    ctl.output.info(`${id}: ${err instanceof Error ? err.message : String(err)}`);
    return Promise.resolve(undefined);
  }
  const s = ctl.settings();
  const onBoard = Boolean((err as { onBoard?: unknown } | undefined)?.onBoard);
  const a = explainError(err, {
    source: s.source,
    host: releaseHost(s),
    onBoard,
  });
  const message = ctl.redactor.redact(a.message);
  ctl.output.error(`${id}: ${message} [${a.code}]`);
  const fixes = a.fixes.map((f) => FIXES[f]);
  return vscode.window.showErrorMessage(message, ...fixes.map((f) => f.label)).then((picked) => {
    const fix = fixes.find((f) => f.label === picked);
    if (fix) void vscode.commands.executeCommand(fix.command);
    return picked;
  });
}

export function registerCommands(ctl: Controller): vscode.Disposable[] {
  return Object.entries(HANDLERS).map(([id, load]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        const handler = await load();
        const result = await handler(ctl, ...args);
        if (STEPS.has(id)) void vscode.commands.executeCommand('setContext', `ota.done.${id.slice(4)}`, true);
        return result;
      } catch (err) {
        void report(ctl, id, err);
        return undefined;
      }
    }),
  );
}
