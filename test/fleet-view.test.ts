// The Fleet view's shape (src/core/fleet/view.ts) over a model fed the messages boards send: versions,
// groups, pages of at most PAGE boards, the filter, and a board's summary in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetModel } from '../src/core/fleet/model';
import { topics } from '../src/core/fleet/protocol';
import { boardSummary, fleetChildren, fleetStatusText, PAGE } from '../src/core/fleet/view';

const t = topics('f');

function feed(m: FleetModel, n: number): void {
  for (let i = 0; i < n; i++) {
    const id = `b${String(i).padStart(5, '0')}`;
    const status = {
      id,
      online: i % 10 !== 0,
      app: i % 4 ? '1.1.0' : '1.0.0',
      group: i % 2 ? 'north' : 'south',
      state: 'idle',
    };
    m.handle(t.status(id), Buffer.from(JSON.stringify(status)));
  }
}

test('versions (newest first), groups, then boards in pages of at most PAGE', () => {
  const m = new FleetModel('f');
  feed(m, 2000);
  const versions = fleetChildren(m);
  assert.deepEqual(
    versions.map((v) => (v.kind === 'version' ? [v.version, v.count, v.online] : [])),
    [
      ['1.1.0', 1500, 1400],
      ['1.0.0', 500, 400],
    ],
  );
  const groups = fleetChildren(m, versions[0]);
  assert.deepEqual(
    groups.map((g) => (g.kind === 'group' ? [g.group, g.count] : [])),
    [
      ['north', 1000],
      ['south', 500],
    ],
  );
  const pages = fleetChildren(m, groups[0]);
  assert.ok(pages.every((p) => p.kind === 'page'));
  let boards = 0;
  for (const p of pages) {
    const kids = fleetChildren(m, p);
    assert.ok(kids.length <= PAGE && kids.every((k) => k.kind === 'board'));
    boards += kids.length;
  }
  assert.equal(boards, 1000);
  assert.equal(fleetStatusText(m), 'Fleet: 2000 boards, 1800 online, 1500 on 1.1.0');
});

test('the filter matches id, group, version, state, online/offline and error words', () => {
  const m = new FleetModel('f');
  feed(m, 40);
  m.handle(
    t.status('b00003'),
    Buffer.from(
      JSON.stringify({ id: 'b00003', app: '1.1.0', result: 'error', code: 'no_space', msg: 'needs 9 bytes' }),
    ),
  );
  const count = (f: string): number =>
    fleetChildren(m, undefined, f).reduce((n, v) => n + (v.kind === 'version' ? v.count : 0), 0);
  assert.equal(count(''), 40);
  assert.equal(count('b0001'), 10);
  assert.equal(count('offline'), 4);
  assert.equal(count('free flash'), 1);
  assert.equal(count('1.0.0'), 10);
  const b = m.get('b00003')!;
  assert.match(boardSummary(b).description, /not enough free flash for the update \(needs 9 bytes\)/);
  assert.match(boardSummary(b).tooltip, /last error: not enough free flash/);
});
