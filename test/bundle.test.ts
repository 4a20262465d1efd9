import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeBundle } from '../src/core/bundle';
import { buildManifest, parseManifest } from '../src/core/manifest';
import { OtaError } from '../src/core/errors';
import { CREATED, bytes, ota, tempDir, writeTree } from './manifest-tree';

const TREE = {
  'main.py': 'print("hello")\n',
  'empty.txt': '',
  'exact512.bin': bytes(512, 9),
  'lib/big.bin': bytes(5 * 1024 * 1024 + 17, 4),
  'lib/sensor.py': 'def read():\n    return 21.5\n',
  'données/☕.txt': 'unicode\n',
  // longer than 100 bytes: stored with the ustar prefix field
  [`${'p'.repeat(80)}/${'q'.repeat(60)}/leaf.py`]: 'long\n',
};

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

test('the bundle extracts with the system tar to the same bytes, and is deterministic', async () => {
  const t = tempDir();
  try {
    const src = join(t.dir, 'src');
    writeTree(src, TREE);
    const m = await buildManifest(src, { version: '1.0.0', created: CREATED });
    const out1 = join(t.dir, 'b1.tar.gz');
    const out2 = join(t.dir, 'b2.tar.gz');
    const mtime = Date.parse(CREATED) / 1000;
    const b1 = await writeBundle(src, m.files, out1, { mtime });
    const b2 = await writeBundle(src, m.files, out2, { mtime });
    const bytes1 = readFileSync(out1);
    assert.ok(bytes1.equals(readFileSync(out2)), 'two builds differ');
    assert.deepEqual(b1, { name: 'b1.tar.gz', size: bytes1.length, sha256: sha256(bytes1) });
    assert.equal(b2.sha256, b1.sha256);
    assert.deepEqual([...bytes1.subarray(4, 8)], [0, 0, 0, 0], 'gzip header mtime must be fixed');

    const x = join(t.dir, 'x');
    mkdirSync(x);
    const r = spawnSync('tar', ['-xzf', out1, '-C', x], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const f of m.files) {
      const got = readFileSync(join(x, f.path));
      assert.ok(got.equals(readFileSync(join(src, f.path))), f.path);
      assert.equal(statSync(join(x, f.path)).mtimeMs, mtime * 1000, f.path);
    }
    const listing = spawnSync('tar', ['-tvzf', out1], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.equal(listing.length, m.files.length);
    for (const line of listing) assert.match(line, /^-rw-r--r-- 0\/0 /);
    // nothing but the files (no directory entries, no extras)
    const extracted = spawnSync('find', [x, '-type', 'f'], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.equal(extracted.length, m.files.length);
  } finally {
    t.cleanup();
  }
});

test('a file changed after the manifest is refused and no bundle is left behind', async () => {
  const t = tempDir();
  try {
    const src = join(t.dir, 'src');
    writeTree(src, { 'a.py': 'one', 'b.py': 'two' });
    const m = await buildManifest(src, { version: '1.0.0', created: CREATED });
    writeFileSync(join(src, 'b.py'), 'TWO');
    const out = join(t.dir, 'b.tar.gz');
    await assert.rejects(writeBundle(src, m.files, out), (err: unknown) => {
      assert.ok(err instanceof OtaError);
      assert.equal(err.code, 'file_changed');
      assert.match(err.message, /b\.py changed since the manifest was made/);
      return true;
    });
    assert.deepEqual(readdirSync(t.dir), ['src']);
  } finally {
    t.cleanup();
  }
});

test('ota bundle writes the bundle and a manifest that lists it, outside the released files', () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'x = 1\n', 'lib/a.py': 'a\n' });
    const args = ['bundle', t.dir, '--version', '1.1.0', '--name', 'demo', '--created', CREATED, '--json'];
    const r1 = ota(args);
    assert.equal(r1.status, 0, r1.stderr);
    const info = JSON.parse(r1.stdout);
    const outDir = join(t.dir, '.ota', 'release');
    assert.equal(info.bundle, join(outDir, 'demo-1.1.0.tar.gz'));
    const archive = readFileSync(info.bundle);
    const m = parseManifest(readFileSync(join(outDir, 'manifest.json')));
    assert.deepEqual(m.bundle, { name: 'demo-1.1.0.tar.gz', size: archive.length, sha256: sha256(archive) });
    assert.deepEqual(
      m.files.map((f) => f.path),
      ['lib/a.py', 'main.py'],
    );
    // a second run sees its first output in the tree but never releases it
    assert.equal(ota(args).status, 0);
    assert.ok(readFileSync(info.bundle).equals(archive));
    const custom = join(t.dir, 'out');
    const r3 = ota([...args, '--out-dir', custom]);
    assert.equal(r3.status, 0, r3.stderr);
    assert.ok(readFileSync(join(custom, 'demo-1.1.0.tar.gz')).equals(archive));
    assert.ok(existsSync(join(custom, 'manifest.json')));
    const bad = ota(['bundle', t.dir, '--version', '1.1', '--created', CREATED]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /\[bad_version\]/);
  } finally {
    t.cleanup();
  }
});
