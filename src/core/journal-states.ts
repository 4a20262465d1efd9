// The board's journal states (/.ota/state.json "state"; docs/protocols.md, "Board layout and
// journal"), one table with what each means to a user. device/ota/journal.py and updater.py write
// the same strings; test/vocabularies.test.ts holds the board's to this table.
import { compareVersions } from './version';

export const JOURNAL_STATES = {
  idle: 'Nothing under way.',
  staging: 'Downloading an update; the running release is untouched.',
  swapping: 'Installing a downloaded update; finished at the next boot if interrupted.',
  confirm_pending: 'Running a new release that the app has not confirmed yet.',
  rolling_back: 'Restoring the previous release; finished at the next boot if interrupted.',
} as const satisfies Record<string, string>;

export type JournalState = keyof typeof JOURNAL_STATES;

export function isJournalState(s: unknown): s is JournalState {
  return typeof s === 'string' && Object.hasOwn(JOURNAL_STATES, s);
}

/**
 * What a user must be told about the board's release after an update or in its info, from its
 * journal (/.ota/state.json) and the release it runs: an update waiting for the app's
 * `ota.confirm()` (rolled back by itself after `confirm_boots` boots), or a newer release the board
 * rolled back, which it never installs again (device/ota/updater.py skips its "bad" version), so
 * "up to date" would be untrue. Undefined when there is nothing to say. The CLI and the editor add
 * their own way to confirm by hand.
 */
export function releaseNotice(
  otaState: unknown,
  running: string | null | undefined,
): { kind: 'unconfirmed' | 'rolled_back'; version: string; text: string } | undefined {
  if (!otaState || typeof otaState !== 'object') return undefined;
  const st = otaState as { state?: unknown; bad?: unknown };
  if (st.state === 'confirm_pending' && running)
    return {
      kind: 'unconfirmed',
      version: running,
      text:
        `${running} runs unconfirmed: the app must call ota.confirm() once it runs well, or the board ` +
        'rolls it back after a few boots ("confirm_boots" in ota_config.json, 3 by default)',
    };
  if (typeof st.bad !== 'string' || !st.bad || st.state !== 'idle') return undefined;
  if (running) {
    try {
      if (compareVersions(st.bad, running) <= 0) return undefined;
    } catch {
      return undefined; // not semver (the developer channel's commits): nothing to compare
    }
  }
  return {
    kind: 'rolled_back',
    version: st.bad,
    text:
      `the board rolled ${st.bad} back (its app did not call ota.confirm() in time, or it was rolled ` +
      `back by hand) and never installs it again; it runs ${running ?? 'no release'}. Publish a newer ` +
      'version, whose app calls ota.confirm() once it runs well',
  };
}
