// A hostile fleet broker (host-side attack review): statuses with huge, malformed or control-laden
// fields. The Fleet view is a tree (plain-text labels and a string tooltip: no markup is ever
// rendered from a board), each board is shown in bounded, one-line-per-field text, and malformed
// messages are dropped and counted. Thousands of boards page: test/fleet-view.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetModel } from '../src/core/fleet/model';
import { topics } from '../src/core/fleet/protocol';
import { boardSummary, fleetChildren } from '../src/core/fleet/view';

const t = topics('f');
const status = (id: string, extra: Record<string, unknown>) =>
  Buffer.from(JSON.stringify({ id, app: '1.0.0', state: 'idle', checked: 1, ...extra }));

/** Payloads a board (or anyone with the broker's password) could publish, and whether each is kept. */
const CASES: [what: string, id: string, payload: Buffer, kept: boolean][] = [
  ['a 100 KB status', 'b1', status('b1', { board: 'x'.repeat(100_000) }), false],
  ['not JSON', 'b2', Buffer.from('{"id": "b2", '), false],
  ['a JSON array', 'b3', Buffer.from('[1,2,3]'), false],
  ['an id that is not the topic', 'b4', status('b5', {}), false],
  ['an id with a newline', 'b6\n', status('b6\n', {}), false],
  ['fields of the wrong type', 'b7', status('b7', { app: { $gt: 1 }, free: 'lots', checked: null }), true],
  ['a 5 000-character field', 'b8', status('b8', { msg: 'm'.repeat(5000), code: 'network' }), true],
  [
    'escapes, a newline forging a row, and HTML',
    'b9',
    status('b9', {
      app: '1.0\nlast error: none',
      group: '\x1b]52;c;cm0gLXJm\x07north',
      board: '<img src=x onerror=alert(1)>',
      code: 'network',
      msg: '\u202eevil\x1b[2J',
    }),
    true,
  ],
];

test('hostile statuses: malformed ones are dropped, kept ones are shown bounded, one line per field, no controls', () => {
  const m = new FleetModel('f');
  for (const [what, id, payload, kept] of CASES) {
    const before = m.dropped;
    m.handle(t.status(id), payload);
    assert.equal(m.get(id) !== undefined, kept, what);
    // A topic that names no valid board is not the fleet's at all: ignored without counting.
    if (!id.includes('\n')) assert.equal(m.dropped, before + (kept ? 0 : 1), what);
    const b = m.get(id);
    if (!b) continue;
    const s = boardSummary(b);
    const rows = s.tooltip.split('\n');
    assert.equal(rows.length, 13, `${what}: one row per field`);
    assert.ok(s.tooltip.length < 4000 && s.description.length < 600, `${what}: bounded`);
    // eslint-disable-next-line no-control-regex
    const controls = /[\x00-\x1f\x7f-\x9f\u202a-\u202e]/;
    assert.doesNotMatch(s.description, controls, what);
    assert.ok(
      rows.every((r) => !controls.test(r)),
      what,
    );
  }
  const b9 = boardSummary(m.get('b9')!);
  assert.match(b9.tooltip, /^app version: 1\.0\\nlast error: none$/m);
  assert.match(b9.tooltip, /^group: \\x1b\]52;c;cm0gLXJm\\x07north$/m);
  assert.match(b9.tooltip, /^hardware: <img src=x onerror=alert\(1\)>$/m); // plain text in a tree tooltip
  assert.doesNotMatch(b9.tooltip, /^last error: none$/m);
  // The tree's group node carries the board's group as data; the view escapes it in its label.
  const groups = fleetChildren(
    m,
    fleetChildren(m).find((n) => n.kind === 'version' && n.version === '1.0\nlast error: none'),
  );
  assert.ok(groups.some((g) => g.kind === 'group' && g.group.includes('\x1b')));
});
