// The named vocabularies the host and the board share, each one table on the host: error codes
// (src/core/error-codes.ts), log events (src/core/events.ts, the board's ev() calls) and journal
// states (src/core/journal-states.ts). Every spelling the board uses must be in its table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, isErrorCode } from '../src/core/error-codes';
import { EVENT_NAMES } from '../src/core/events';
import { JOURNAL_STATES, isJournalState } from '../src/core/journal-states';
import { HELPERS, PUSH_HOOK_LINES, PUSH_MARKS } from '../src/core/serial/board-helpers';

const DEVICE = join(__dirname, '..', 'device', 'ota');
const sources = readdirSync(DEVICE)
  .filter((f) => f.endsWith('.py'))
  .map((f) => ({ file: f, text: readFileSync(join(DEVICE, f), 'utf8') }));

/** Every first capture of `re` in the device sources (or only in `files`), with the file it is in. */
function found(re: RegExp, files?: string[]): { file: string; value: string }[] {
  return sources
    .filter(({ file }) => !files || files.includes(file))
    .flatMap(({ file, text }) => [...text.matchAll(re)].map((m) => ({ file, value: m[1]! })));
}

/** The modules that read and write the journal. */
const JOURNAL = ['journal.py', 'updater.py', '__init__.py'];

test('every error code is snake_case with a sentence for the user', () => {
  for (const [code, message] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z][a-z0-9_]*$/, code);
    assert.match(message, /^[A-Z].*\.$/, `${code}: ${message}`);
  }
});

test('every error code the board raises is in the table, spelled the same', () => {
  const raised = [...found(/\bFail\(\s*"([^"]+)"/g), ...found(/\bcode="([^"]+)"/g)];
  assert.ok(raised.length > 20, `found only ${raised.length} codes: has Fail() changed shape?`);
  // A Fail() whose code is not a literal takes it from a local `code = "a" if … else "b"`.
  for (const { file, value } of found(/\bFail\(\s*([^"\s,()][^,()]*),/g)) {
    assert.equal(value, 'code', `${file}: Fail(${value}, …) does not name its code literally`);
    const text = sources.find((s) => s.file === file)!.text;
    const assigned = [...text.matchAll(/^\s*code = (.+)$/gm)].flatMap((m) => [
      ...m[1]!.matchAll(/"([^"]+)"/g),
    ]);
    assert.ok(assigned.length > 0, `${file}: Fail(code, …) without a literal code = "…"`);
    for (const m of assigned) raised.push({ file, value: m[1]! });
  }
  for (const { file, value } of raised)
    assert.ok(isErrorCode(value), `${file}: Fail("${value}") is not in error-codes.ts`);
});

test("the events the board's ev() calls name and the host's OtaEvent are the same set", () => {
  // ev() is always called with a literal name, so the calls are the board's full list.
  const anyCall = found(/\bev\(\s*([^)\s,]+)/g).filter(({ value }) => value !== 'name');
  for (const { file, value } of anyCall)
    assert.match(value, /^"[a-z_]+"$/, `${file}: ev(${value}) does not name its event literally`);
  const calls = found(/\bev\(\s*"([^"]+)"/g);
  assert.ok(calls.length > 10, `found only ${calls.length} ev() calls`);
  const board = new Set(calls.map((c) => c.value));
  for (const { file, value } of calls)
    assert.ok(
      (EVENT_NAMES as readonly string[]).includes(value),
      `${file}: ev("${value}") is not in OtaEvent`,
    );
  assert.deepEqual([...board].sort(), [...EVENT_NAMES].sort());
});

test('every journal state the board writes or tests is in the table', () => {
  const written = [
    ...found(/\["state"\]\s*=\s*"([^"]+)"/g, JOURNAL),
    ...found(/\{"state":\s*"([^"]+)"\}/g, JOURNAL),
    ...found(/\["state"\]\s*[!=]=\s*"([^"]+)"/g, JOURNAL),
    ...found(/\bs\s*==\s*"([^"]+)"/g, JOURNAL),
  ];
  const tuples = found(/\["state"\]\)?\s+not in\s+\(([^)]*)\)/g, JOURNAL).concat(
    found(/get\("state"\)\s+not in\s+\(([^)]*)\)/g, JOURNAL),
  );
  for (const t of tuples) {
    for (const m of t.value.matchAll(/"([^"]+)"/g)) written.push({ file: t.file, value: m[1]! });
  }
  const seen = new Set(written.map((w) => w.value));
  for (const { file, value } of written)
    assert.ok(isJournalState(value), `${file}: state "${value}" is not in journal-states.ts`);
  assert.deepEqual(
    [...seen].sort(),
    Object.keys(JOURNAL_STATES).sort(),
    'the board uses every state of the table',
  );
});

test('one spelling per code: the board and the host share each one, no alias is left', () => {
  // The board once said config, schema, busy, connection, auth and insecure where the host said
  // bad_config, schema_unsupported, board_busy, network, auth_failed and tls_insecure; the host
  // said sig_invalid where the board said bad_signature. One spelling each now, on both sides.
  const retired = [
    'config',
    'schema',
    'busy',
    'connection',
    'auth',
    'insecure',
    'sig_invalid',
    'bad_rollout',
    'fleet_bad_command',
    'fleet_bad_document',
    'fleet_bad_signature',
  ];
  for (const code of retired) assert.ok(!isErrorCode(code), `${code} is back in error-codes.ts`);
  for (const code of ['bad_config', 'schema_unsupported', 'board_busy', 'network', 'bad_signature'])
    assert.ok(
      sources.some(({ text }) => text.includes(`Fail("${code}"`)),
      `the board no longer raises ${code}: is its spelling still shared?`,
    );
});

test("the push's marks are install.py's one list: the helpers get it, boot.py's lines and ota.boot() name the push's two", () => {
  assert.deepEqual(PUSH_MARKS, ['push.json', 'push.new', 'hook.json']);
  assert.match(HELPERS.split('\n')[0], /, \("push\.json", "push\.new", "hook\.json"\)\)$/);
  const helpers = readFileSync(
    join(__dirname, '..', 'src', 'core', 'serial', 'py', 'board_helpers.py'),
    'utf8',
  );
  const init = sources.find((s) => s.file === '__init__.py')!.text;
  const install = readFileSync(join(__dirname, '..', 'device', 'install.py'), 'utf8');
  for (const name of PUSH_MARKS) {
    // Spelled once on the board's side: in install.py's list (and the boot.py lines it writes).
    assert.equal(helpers.split(name).length, 1, `board_helpers.py spells ${name}: it takes _OTA_MARKS`);
    assert.equal(install.split(`"${name}"`).length, 2, `install.py spells "${name}" once, in _OTA_MARKS`);
  }
  const push = PUSH_MARKS.slice(0, 2);
  assert.ok(push.every((n) => PUSH_HOOK_LINES[0].includes(`'${n}'`)));
  assert.deepEqual(
    [...init.matchAll(/"\/\.ota\/(push\.[a-z]+)"/g)].map((m) => m[1]),
    push,
  );
});
