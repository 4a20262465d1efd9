// Commands that run the updater on a board: update now, confirm, roll back, watch.
import * as vscode from 'vscode';
import type { OtaEvent } from '../../core/events';
import { OtaError } from '../../core/errors';
import { toErrorCode } from '../../core/error-codes';
import type { Controller } from '../controller';
import { withEventProgress } from '../progress';

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
            ctl.output.board(port, `OTA:${JSON.stringify(e)}`);
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
  if (failed)
    throw new OtaError(toErrorCode(failed.code), String(failed.msg ?? 'the board reported an error'));
  return events;
}

export async function updateDevice(ctl: Controller, arg?: unknown): Promise<OtaEvent[]> {
  const port = await ctl.board(arg);
  const events = await runOnBoard(ctl, port, 'Updating board', 'import ota\nota.update()');
  const done = events.find((e) => e.ev === 'done');
  const version = ctl.boards.info(port).appVersion;
  void vscode.window.showInformationMessage(
    done
      ? `Board updated to ${version ?? String(done.version ?? '')}.`
      : `Board is up to date (${version ?? 'no release'}).`,
  );
  return events;
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
  ctl.output.channel.show(true);
  if (ctl.connections.isWatching(port)) {
    await ctl.connections.unwatch(port);
    ctl.output.info(`Stopped watching ${port}`);
    return false;
  }
  await ctl.connections.watch(port);
  ctl.output.info(`Watching ${port} (run "OTA: Watch Device" again to stop)`);
  return true;
}
