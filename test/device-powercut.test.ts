// A power cut after every filesystem mutation of an update that adds, changes
// and deletes files and runs a hook: after the next boot the app is exactly
// the old release or exactly the new one, and a later update completes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';

const keys = fx.makeKeys();
const cleanups: string[] = [];
let srv: fx.StaticServer;
let template: string;

before(async () => {
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, {
    delete: ['old.py'],
    keep: ['settings.json'],
    hooks: { post_update: 'ota_hooks/post.py' },
  });
  const host = fx.tempDir('host');
  cleanups.push(rel.dir, host);
  fx.publishStatic(host, rel, { sign: { keys, alg: 'hmac-sha256' } });
  srv = await fx.serveFolder(host);
  template = fx.makeBoard(
    { source: 'static', url: srv.url, keys: [fx.boardKey(keys, 'hmac-sha256')] },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(template);
});
after(async () => {
  await srv.close();
  fx.cleanup(...cleanups);
});

const OLD = fx.hashFiles(fx.APP_1_0_0);
const NEW = fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] });
const UPDATE = 'import ota\nota.update()\n';

function board(): string {
  const d = fx.tempDir('cut');
  cleanups.push(d);
  cpSync(template, d, { recursive: true });
  return d;
}

function which(fsDir: string): 'old' | 'new' {
  const got = fx.hashTree(fsDir, fx.NOT_APP);
  const v = JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
  if (JSON.stringify(got) === JSON.stringify(OLD) && v === '1.0.0') return 'old';
  if (JSON.stringify(got) === JSON.stringify(NEW) && v === '1.1.0') return 'new';
  assert.fail(`app files are neither release (version.json ${v}): ${JSON.stringify(got)}`);
}

test(
  'power cut after each mutation: the next boot has the old or the new release, whole',
  { timeout: 600_000 },
  async (t) => {
    const full = await fx.runBoard({ fsDir: board(), code: UPDATE });
    assert.deepEqual(fx.errorCodes(full.output), [], full.output);
    const total = full.mutations;
    assert.ok(total > 10, `an update makes several mutations (${total})`);
    const seen = { old: 0, new: 0 };
    for (let k = 1; k < total; k++) {
      const fsDir = board();
      const cut = await fx.runBoard({ fsDir, cutAfterMutations: k, code: UPDATE });
      assert.ok(cut.powerCut, `cut after mutation ${k} of ${total}`);
      const b = await fx.runBoard({ fsDir });
      assert.equal(b.error, undefined, b.output);
      const state = fx.eventsOf(b.output).find((e) => e.ev === 'state');
      assert.ok(state && state.state !== 'swapping' && state.state !== 'rolling_back', `k=${k}: ${b.output}`);
      const w = which(fsDir);
      seen[w]++;
      if (w === 'new')
        assert.equal(readFileSync(join(fsDir, 'hook_ran.txt'), 'utf8'), '1.1.0', `k=${k}: hook ran`);
      // The interrupted update completes on the next try (every 6th cut point, to keep the test short).
      if (k % 6 === 0) {
        const again = await fx.runBoard({ fsDir, code: UPDATE });
        assert.deepEqual(fx.errorCodes(again.output), [], `k=${k}: ${again.output}`);
        assert.equal(which(fsDir), 'new', `k=${k}`);
      }
    }
    assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    t.diagnostic(`${total} mutations; after a cut the board booted old ${seen.old}x, new ${seen.new}x`);
  },
);
