// `ota demo --fleet`'s engine: embedded aedes broker, six virtual boards, 34% then 100%, one rollback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runFleetDemo } from '../src/demo/fleet';

test(
  'the fleet demo: 34% then 100% of six boards, one fails its health check and rolls back',
  { timeout: 180_000 },
  async () => {
    const s = await runFleetDemo({ deviceDir: join(__dirname, '..', 'device') });
    assert.equal(s.boards.length, 6);
    const [first, second] = s.steps;
    assert.ok(first.updated.length >= 1 && first.updated.length < 6, JSON.stringify(first));
    assert.equal(first.updated.length + first.held.length, 6);
    assert.deepEqual([...first.updated, ...second.updated].sort(), s.boards.map((b) => b.id).sort());
    for (const b of s.boards) {
      if (b.id === s.failedBoard) assert.deepEqual([b.version, b.bad, b.state], ['1.0.0', '1.1.0', 'idle']);
      else assert.deepEqual([b.version, b.state], ['1.1.0', 'idle'], b.id);
    }
    assert.deepEqual(s.rollout, { targeted: 6, updated: 5, failed: 1, pending: 0, status: 'done' });
  },
);
