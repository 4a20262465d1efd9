// Commands that run the updater on a board: update now (or to a release picked in the Releases
// view), confirm, roll back, watch. Prerequisites are checked before the board is touched.
import * as vscode from 'vscode';
import type { OtaEvent } from '../../core/events';
import { isErrorCode } from '../../core/error-codes';
import { OtaError } from '../../core/errors';
import { listenPlan } from '../../core/local-host';
import { networkReason, type ReleaseEntry } from '../../core/release-channels';
import { explainBoardEvent } from '../../core/user-errors';
import type { Controller } from '../controller';
import { withEventProgress } from '../progress';
import { releaseHost } from '../settings';

/** An error the board reported: its words are the board's ("The board cannot reach …"). */
function boardError(ctl: Controller, ev: OtaEvent): OtaError {
  const s = ctl.settings();
  const a = explainBoardEvent(ev, { source: s.source, host: releaseHost(s) });
  const code = isErrorCode(a.code) ? a.code : 'device_error';
  return Object.assign(new OtaError(code, String(ev.msg ?? a.message)), { onBoard: true });
}

/** Runs `code` on the board through the core's update runner, streaming console and events. */
async function runOnBoard(ctl: Controller, port: string, title: string, code: string): Promise<OtaEvent[]> {
  ctl.output.channel.show(true);
  ctl.output.info(`${title} on ${port}`);
  const events = await withEventProgress(title, (onEvent, signal) =>
    ctl.connections.use(port, async (board) => {
      const { runUpdate } = await import('../../core/serial/console');
      const abort = () => void board.interrupt();
      signal.addEventListener('abort', abort);
      try {
        const run = await runUpdate(board, {
          code,
          text: (line) => ctl.output.board(port, line),
          event: (e) => {
            ctl.output.event(port, e);
            onEvent(e);
          },
        });
        if (signal.aborted)
          throw new OtaError(
            'cancelled',
            `${title} cancelled; the board keeps its journal and finishes or undoes the step at next boot.`,
          );
        return run.events;
      } finally {
        signal.removeEventListener('abort', abort);
      }
    }),
  );
  await ctl.boards.refresh(port);
  ctl.showStatus();
  const failed = events.find((e) => e.ev === 'error');
  if (failed) throw boardError(ctl, failed);
  return events;
}

/** What must hold before an update can work: an updater on the board, a configured, reachable host. */
async function checkPrerequisites(ctl: Controller, port: string): Promise<void> {
  if (ctl.boards.info(port).otaState === 'no updater')
    throw new OtaError('no_updater', 'The updater is not installed on this board: install it first.');
  const s = ctl.settings();
  if (!ctl.deviceConfig() && s.source === 'static' && !s.staticUrl)
    throw new OtaError('no_config', 'No release host configured for this board: run Configure Device.');
  if (s.source === 'github' && !s.repo)
    throw new OtaError('no_repo', 'No GitHub repository configured for this board: run Configure Device.');
  if (s.source === 'oci' && !s.ociRef)
    throw new OtaError(
      'bad_ref',
      'No OCI reference configured for this board: set ota.oci.ref (host/repository).',
    );
  // A host on this computer: when it does not answer here, it does not answer the board either.
  if (s.source === 'static' && listenPlan(s.staticUrl)) {
    try {
      await fetch(`${s.staticUrl.replace(/\/+$/, '')}/latest.json`, {
        method: 'HEAD',
        signal: AbortSignal.timeout(3000),
      });
    } catch (err) {
      throw new OtaError('unreachable', `Cannot reach ${s.staticUrl} (${networkReason(err)})`);
    }
  }
}

export async function updateDevice(ctl: Controller, arg?: unknown): Promise<OtaEvent[]> {
  const port = await ctl.board(arg);
  await checkPrerequisites(ctl, port);
  const events = await runOnBoard(ctl, port, 'Updating board', 'import ota\nota.update()');
  const done = events.find((e) => e.ev === 'done');
  const { appVersion: version, notice } = ctl.boards.info(port);
  // "Up to date" is untrue while the host offers a release the board rolled back and skips.
  if (!done && notice?.kind === 'rolled_back')
    throw new OtaError('rolled_back', `${notice.text.charAt(0).toUpperCase()}${notice.text.slice(1)}.`);
  const said = done
    ? `Board updated to ${version ?? String(done.version ?? '')}.`
    : `Board is up to date (${version ?? 'no release'}).`;
  if (notice?.kind === 'unconfirmed')
    void vscode.window
      .showWarningMessage(`${said} ${notice.text}.`, 'Confirm Update')
      .then((pick) => pick && vscode.commands.executeCommand('ota.confirmUpdate', port));
  else void vscode.window.showInformationMessage(said);
  return events;
}

function releaseOf(arg: unknown): ReleaseEntry {
  const entry = (arg as { entry?: ReleaseEntry } | undefined)?.entry;
  if (!entry) throw new OtaError('no_selection', 'Pick a release in the Releases view.');
  return entry;
}

/** "Update Device to This Release": the board installs what its channel offers, so that must be this one. */
export async function updateToRelease(ctl: Controller, arg?: unknown): Promise<OtaEvent[]> {
  const entry = releaseOf(arg);
  const { channel } = ctl.settings();
  if (entry.channel !== channel)
    throw new OtaError(
      'not_offered',
      `The board follows the ${channel} channel; ${entry.version} is on ${entry.channel}. Change the channel with Configure Device.`,
    );
  if (!(arg as { latest?: boolean }).latest)
    throw new OtaError(
      'not_offered',
      `Boards on ${channel} get its newest release, not ${entry.version}: pin it with Configure Device (channel "tag").`,
    );
  return updateDevice(ctl);
}

export async function openRelease(_ctl: Controller, arg?: unknown): Promise<void> {
  const { url } = releaseOf(arg);
  if (!url) throw new OtaError('not_found', 'This release has no page to open.');
  await vscode.env.openExternal(vscode.Uri.parse(url));
}

export async function copyReleaseUrl(_ctl: Controller, arg?: unknown): Promise<string> {
  const { url } = releaseOf(arg);
  if (!url) throw new OtaError('not_found', 'This release has no URL.');
  await vscode.env.clipboard.writeText(url);
  return url;
}

export async function confirmUpdate(ctl: Controller, arg?: unknown): Promise<OtaEvent[]> {
  const port = await ctl.board(arg);
  return runOnBoard(ctl, port, 'Confirming update', 'import ota\nota.confirm()');
}

export async function rollbackDevice(ctl: Controller, arg?: unknown): Promise<OtaEvent[]> {
  const port = await ctl.board(arg);
  const ok = await vscode.window.showWarningMessage(
    `Roll ${port} back to the release before the current one?`,
    { modal: true },
    'Roll Back',
  );
  if (ok !== 'Roll Back') throw new OtaError('cancelled', 'Roll back cancelled.');
  return runOnBoard(ctl, port, 'Rolling back', 'import ota\nota.rollback()');
}

/** Toggles streaming the board's console into the output channel. */
export async function watchDevice(ctl: Controller, arg?: unknown): Promise<boolean> {
  const port = await ctl.board(arg);
  if (ctl.connections.isWatching(port)) {
    await stopWatching(ctl, port);
    return false;
  }
  ctl.output.channel.show(true);
  await ctl.connections.watch(port);
  ctl.output.info(`Watching ${port} (click "Watching" in the status bar, or run Stop Watching, to stop)`);
  return true;
}

export async function stopWatching(ctl: Controller, arg?: unknown): Promise<void> {
  const port =
    typeof arg === 'string' || (arg && typeof arg === 'object')
      ? await ctl.board(arg)
      : ctl.connections.watched()[0];
  if (!port || !ctl.connections.isWatching(port)) return;
  await ctl.connections.unwatch(port);
  ctl.output.info(`Stopped watching ${port}`);
}
