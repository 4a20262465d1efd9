import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildManifest, serializeManifest } from '../src/core/manifest';
import { verifyTree } from '../src/core/verify';
import { CREATED, ota, tempDir, writeTree } from './manifest-tree';

test('verify passes on the tree a manifest was made from', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'a', 'lib/b.py': 'b', empty: '' });
    const m = await buildManifest(t.dir, { version: '1.0.0', created: CREATED });
    assert.deepEqual(await verifyTree(m, t.dir), {
      ok: true,
      missing: [],
      extra: [],
      changed: [],
      matched: 3,
    });
    const mf = join(t.dir, '.ota', 'm.json');
    writeTree(t.dir, { '.ota/m.json': serializeManifest(m) });
    const r = ota(['verify', mf, t.dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok: 3 files match/);
  } finally {
    t.cleanup();
  }
});

test('verify names each missing, extra and changed file and exits 1', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, {
      'main.py': 'a',
      'lib/b.py': 'b',
      'lib/c.py': 'c',
      'd.py': 'd',
      '.otaignore': '*.log\n',
    });
    const m = await buildManifest(t.dir, { version: '1.0.0', created: CREATED });
    rmSync(join(t.dir, 'lib/b.py'));
    writeFileSync(join(t.dir, 'lib/c.py'), 'cc');
    writeFileSync(join(t.dir, 'd.py'), 'D'); // same size, other bytes
    writeTree(t.dir, { 'new.py': 'n', 'debug.log': 'ignored' });
    const report = await verifyTree(m, t.dir);
    assert.deepEqual(report, {
      ok: false,
      missing: ['lib/b.py'],
      extra: ['new.py'],
      changed: [
        { path: 'd.py', reason: 'sha1, sha256' },
        { path: 'lib/c.py', reason: 'size 2 != 1, sha1, sha256' },
      ],
      matched: 1,
    });
    const mf = join(t.dir, 'm.json');
    writeFileSync(mf, serializeManifest(m));
    rmSync(join(t.dir, 'new.py'));
    const r = ota(['verify', mf, t.dir]);
    assert.equal(r.status, 1);
    assert.equal(
      r.stdout,
      [
        'missing  lib/b.py',
        'extra    m.json',
        'changed  d.py (sha1, sha256)',
        'changed  lib/c.py (size 2 != 1, sha1, sha256)',
        '4 difference(s), 1 files match',
        '',
      ].join('\n'),
    );
    const j = ota(['verify', mf, t.dir, '--json']);
    assert.equal(j.status, 1);
    assert.deepEqual(JSON.parse(j.stdout).missing, ['lib/b.py']);
  } finally {
    t.cleanup();
  }
});

test('verify refuses a bad manifest and a missing one with specific codes', () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'a', 'm.json': '{"schema": 9, "files": []}', 'bad.json': '{"schema": 1}' });
    const newer = ota(['verify', join(t.dir, 'm.json'), t.dir]);
    assert.equal(newer.status, 1);
    assert.match(newer.stderr, /\[schema_unsupported\]/);
    assert.match(ota(['verify', join(t.dir, 'bad.json'), t.dir]).stderr, /\[bad_manifest\]/);
    assert.match(
      ota(['verify', join(t.dir, 'nope.json'), t.dir]).stderr,
      /: no such file or folder \(ENOENT\) \(ota manifest <dir> writes <dir>\/\.ota\/manifest\.json\) \[unreadable\]/,
    );
    assert.match(ota(['verify']).stderr, /usage: ota verify .*\[bad_option\]/);
  } finally {
    t.cleanup();
  }
});
