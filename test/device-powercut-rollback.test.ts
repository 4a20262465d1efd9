// A power cut after every filesystem mutation of a rollback (rollback hook,
// restoring replaced and deleted files, removing added ones): after the next
// boot the app is exactly the old release or exactly the new one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';

const cleanups: string[] = [];
let updated: string;

const FILES = {
  ...fx.APP_1_1_0,
  'ota_hooks/rb.py': 'f = open("rb_ran.txt", "w")\nf.write("yes")\nf.close()\n',
};
const OLD = fx.hashFiles(fx.APP_1_0_0);
const NEW = fx.hashFiles({ ...FILES, 'settings.json': fx.APP_1_0_0['settings.json'] });
const SKIP = [...fx.NOT_APP, 'rb_ran.txt'];

before(async () => {
  const rel = await fx.makeRelease('1.1.0', FILES, {
    delete: ['old.py'],
    keep: ['settings.json'],
    hooks: { post_update: 'ota_hooks/post.py', rollback: 'ota_hooks/rb.py' },
  });
  const host = fx.tempDir('host');
  cleanups.push(rel.dir, host);
  fx.publishStatic(host, rel);
  const srv = await fx.serveFolder(host);
  updated = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(updated);
  try {
    const r = await fx.runBoard({ fsDir: updated, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  } finally {
    await srv.close();
  }
});
after(() => fx.cleanup(...cleanups));

function board(): string {
  const d = fx.tempDir('cut');
  cleanups.push(d);
  cpSync(updated, d, { recursive: true });
  return d;
}

function which(fsDir: string): 'old' | 'new' {
  const got = JSON.stringify(fx.hashTree(fsDir, SKIP));
  const v = JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
  if (got === JSON.stringify(OLD) && v === '1.0.0') return 'old';
  if (got === JSON.stringify(NEW) && v === '1.1.0') return 'new';
  assert.fail(`app files are neither release (version.json ${v}): ${got}`);
}

test(
  'power cut after each mutation of a rollback: the next boot has the old or the new release',
  { timeout: 300_000 },
  async (t) => {
    const ROLLBACK = 'import ota\nota.rollback()\n';
    const full = await fx.runBoard({ fsDir: board(), boot: false, code: ROLLBACK });
    assert.equal(full.error, undefined, full.output);
    const total = full.mutations;
    assert.ok(total > 5, `a rollback makes several mutations (${total})`);
    const seen = { old: 0, new: 0 };
    for (let k = 1; k <= total; k++) {
      const fsDir = board();
      const cut = await fx.runBoard({ fsDir, boot: false, cutAfterMutations: k, code: ROLLBACK });
      assert.ok(cut.powerCut || k === total, `cut after mutation ${k} of ${total}`);
      const b = await fx.runBoard({ fsDir });
      assert.equal(b.error, undefined, b.output);
      seen[which(fsDir)]++;
    }
    assert.ok(seen.old > 0, JSON.stringify(seen));
    t.diagnostic(`${total} mutations; after a cut the board booted old ${seen.old}x, new ${seen.new}x`);
  },
);
