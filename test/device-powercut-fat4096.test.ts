// Block-level power cuts on the fat4096 flash model (test/support/powercut-sweep.ts): an update, a fresh
// install and a rollback, cut at a deterministic sample of their block writes, dropped and torn. After
// each: boot, SHA-256 of every app file on the board, update again, 32 KB of app data, SHA-256 again:
// one release whole every time. Every cut point: `npm run bench powercut fat4096`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FS_CASES, MODES, SCENARIOS, Sweeper } from './support/powercut-sweep';

const sw = new Sweeper(FS_CASES.find((c) => c.name === 'fat4096')!);
/** Cut points per scenario and mode: the whole file stays near a minute. */
const SAMPLE = 3;
const LABEL = { update: 'an update', fresh: 'a fresh install', rollback: 'a rollback' };

before(() => sw.setup());
after(() => sw.close());

for (const s of SCENARIOS) {
  test(`fat4096: power cut at sampled block writes of ${LABEL[s]}`, { timeout: 300_000 }, async (t) => {
    const seen = { old: 0, new: 0 };
    for (const [m, mode] of MODES.entries()) {
      for (const k of sw.sample(s, SAMPLE, m)) seen[await sw.point(s, mode, k)]++;
    }
    assert.equal(seen.old + seen.new, SAMPLE * MODES.length);
    t.diagnostic(`${sw.total(s)} block writes; after the sampled cuts: old ${seen.old}x, new ${seen.new}x`);
  });
}
