// The board's journal states (/.ota/state.json "state"; docs/protocols.md, "Board layout and
// journal"), one table with what each means to a user. device/ota/journal.py and updater.py write
// the same strings; test/vocabularies.test.ts holds the board's to this table.
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
