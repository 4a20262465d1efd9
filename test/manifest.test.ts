import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildManifest, buildRelease, listProjectFiles, serializeManifest } from '../src/core/manifest';
import { RESERVED_WHY } from '../src/core/reserved';
import { hashFile, gitBlobSha1 } from '../src/core/hash';
import { OtaError } from '../src/core/errors';
import { CREATED, NO_GIT_CONFIG, bytes, git, ota, tempDir, writeTree } from './manifest-tree';

const NAMES = {
  'main.py': 'import app\napp.run()\n',
  'empty.txt': '',
  'data/blob.bin': bytes(70_000, 7),
  'data/big.bin': bytes(5 * 1024 * 1024, 3),
  'lib/deep/er/still/mod.py': 'X = 1\n',
  'données/café ☕.txt': 'unicode\n',
  '日本/テスト.py': 'print("こんにちは")\n',
  '.hidden': 'dot files are released\n',
};

function rejects(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  return assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof OtaError, String(err));
    assert.equal(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return true;
  });
}

test('sha1 equals git hash-object and sha256 equals node crypto on a generated tree', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, NAMES);
    const m = await buildManifest(t.dir, { version: '1.0.0', created: CREATED });
    const paths = m.files.map((f) => f.path);
    assert.deepEqual(
      paths,
      Object.keys(NAMES).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    const gitSha1 = spawnSync('git', ['hash-object', '--stdin-paths'], {
      cwd: t.dir,
      env: { ...process.env, ...NO_GIT_CONFIG },
      input: paths.join('\n') + '\n',
      encoding: 'utf8',
    })
      .stdout.trim()
      .split('\n');
    m.files.forEach((f, i) => {
      const content = readFileSync(join(t.dir, f.path));
      assert.equal(f.sha1, gitSha1[i], f.path);
      assert.equal(f.sha256, createHash('sha256').update(content).digest('hex'), f.path);
      assert.equal(f.size, content.length, f.path);
      assert.equal(gitBlobSha1(content), f.sha1);
    });
  } finally {
    t.cleanup();
  }
});

test('skips .git, node_modules, .ota/ and .otaignore matches; honours include and exclude globs', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, {
      'main.py': 'a',
      'lib/x.py': 'b',
      'lib/x_test.py': 'c',
      'lib/node_modules/pkg/index.js': 'd',
      'node_modules/p/i.js': 'e',
      '.git/config': 'f',
      '.ota/release/m.json': 'g',
      'build/out.bin': 'h',
      'notes.md': 'i',
      'keep.md': 'j',
      'sub/.ota/allowed.txt': 'k',
      '.otaignore': '# comment\nbuild/\n*.md\n!keep.md\n',
    });
    const all = (await listProjectFiles(t.dir)).map((f) => f.path);
    assert.deepEqual(all, ['keep.md', 'lib/x.py', 'lib/x_test.py', 'main.py', 'sub/.ota/allowed.txt']);
    const some = (await listProjectFiles(t.dir, { include: ['**/*.py'], exclude: ['**/*_test.py'] })).map(
      (f) => f.path,
    );
    assert.deepEqual(some, ['lib/x.py', 'main.py']);
  } finally {
    t.cleanup();
  }
});

test('a nested .otaignore applies to its folder, and its `!pattern` re-includes what a parent ignored', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, {
      '.otaignore': '*.log\ncache/\n',
      'main.py': 'a',
      'debug.log': 'b',
      'lib/.otaignore': '!important.log\n/local.py\n',
      'lib/important.log': 'c',
      'lib/other.log': 'd',
      'lib/local.py': 'e',
      'lib/sub/local.py': 'f',
      'lib/cache/x.bin': 'g',
    });
    const all = (await listProjectFiles(t.dir)).map((f) => f.path);
    // The nested file's anchored `/local.py` means lib/local.py only; the .otaignore files themselves never ship.
    assert.deepEqual(all, ['lib/important.log', 'lib/sub/local.py', 'main.py']);
  } finally {
    t.cleanup();
  }
});

test('the same tree gives byte-identical manifests, via the API and via the CLI', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'x', 'z/a.py': 'y', 'a/z.py': 'z' });
    const a = serializeManifest(await buildManifest(t.dir, { version: '2.0.0', created: CREATED }));
    const b = serializeManifest(await buildManifest(t.dir, { version: '2.0.0', created: CREATED }));
    assert.ok(a.equals(b));
    assert.ok(a.toString().endsWith('}\n'));
    assert.match(a.toString(), /^{\n {2}"schema": 1,\n {2}"name": /);
    const out1 = join(t.dir, 'm1.json');
    const out2 = join(t.dir, 'm2.json');
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };
    assert.equal(ota(['manifest', t.dir, '--version', '2.0.0', '--out', out1], { env }).status, 0);
    // the first output now sits in the tree: the second run must not list its own output, and m1 is excluded only by name
    const r = ota(['manifest', t.dir, '--version', '2.0.0', '--out', out2, '--exclude', 'm1.json'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(out1).equals(readFileSync(out2)));
    assert.equal(JSON.parse(readFileSync(out1, 'utf8')).created, '2026-01-01T00:00:00Z');
    assert.ok(readFileSync(out1).equals(a));
    const out3 = join(t.dir, '.ota', 'm3.json');
    mkdirSync(join(t.dir, '.ota'));
    const j = ota(
      ['manifest', t.dir, '--version', '2.0.0', '--out', out3, '--json', '--exclude', 'm?.json'],
      { env },
    );
    assert.equal(j.status, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout), {
      out: out3,
      name: basename(t.dir),
      version: '2.0.0',
      files: 3,
      bytes: 3,
      created: '2026-01-01T00:00:00Z',
      createdFrom: 'SOURCE_DATE_EPOCH',
      excluded: [{ path: '.ota/', why: `reserved for the board: ${RESERVED_WHY['.ota']}` }],
    });
    assert.ok(readFileSync(out3).equals(a));
  } finally {
    t.cleanup();
  }
});

test('created comes from SOURCE_DATE_EPOCH, else the last commit, else the newest mtime of the released files', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'x', 'lib/a.py': 'a', 'notes.md': 'n', '.otaignore': 'notes.md\n' });
    // Not a git repository: dated by the newest released file (notes.md is newer but not released).
    utimesSync(join(t.dir, 'main.py'), 1_600_000_000, 1_600_000_000);
    utimesSync(join(t.dir, 'lib/a.py'), 1_700_000_000.75, 1_700_000_000.75);
    utimesSync(join(t.dir, 'notes.md'), 1_800_000_000, 1_800_000_000);
    const fromFiles = await buildRelease(t.dir, { version: '1.0.0', env: {} });
    assert.equal(fromFiles.manifest.created, '2023-11-14T22:13:20Z');
    assert.match(fromFiles.createdFrom, /newest modification time of the released files \(lib\/a\.py/);
    const again = await buildManifest(t.dir, { version: '1.0.0', env: {} });
    assert.ok(
      serializeManifest(again).equals(serializeManifest(fromFiles.manifest)),
      'same files, same bytes',
    );
    const cli = ota(['manifest', '--out=-', t.dir, '--version', '1.0.0'], {
      env: { ...process.env, SOURCE_DATE_EPOCH: '' },
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).created, '2023-11-14T22:13:20Z');
    assert.match(
      cli.stderr,
      /dated 2023-11-14T22:13:20Z \(from the newest modification time of the released files \(lib\/a\.py; not a git commit\)\)/,
    );
    const fromEnv = await buildManifest(t.dir, {
      version: '1.0.0',
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    assert.equal(fromEnv.created, '2023-11-14T22:13:20Z');
    await rejects(buildManifest(t.dir, { version: '1.0.0', env: { SOURCE_DATE_EPOCH: 'soon' } }), 'bad_date');
    git(t.dir, ['init', '-q']);
    // A repository with nothing committed yet: still the files' date, never a refusal.
    assert.equal((await buildManifest(t.dir, { version: '1.0.0', env: {} })).created, '2023-11-14T22:13:20Z');
    git(t.dir, ['add', '.']);
    const who = {
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    };
    git(t.dir, ['commit', '-q', '-m', 'one'], { ...who, GIT_COMMITTER_DATE: '2025-05-05T05:05:05Z' });
    const fromGit = await buildRelease(t.dir, { version: '1.0.0', env: {} });
    assert.equal(fromGit.manifest.created, '2025-05-05T05:05:05Z');
    assert.equal(fromGit.createdFrom, 'the last git commit touching the project');
  } finally {
    t.cleanup();
  }
});

test('version comes from the flag, else the highest v* tag; a non-semver version is refused', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'x' });
    await rejects(buildManifest(t.dir, { created: CREATED }), 'no_version', /--version/);
    git(t.dir, ['init', '-q']);
    git(t.dir, ['add', '.']);
    const who = {
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    };
    git(t.dir, ['commit', '-q', '-m', 'one'], who);
    for (const tag of ['v1.2.0', 'v1.10.0-beta.1', 'v1.9.9', 'vnext', 'release-9.0.0'])
      git(t.dir, ['tag', tag]);
    assert.equal((await buildManifest(t.dir, { created: CREATED })).version, '1.10.0-beta.1');
    git(t.dir, ['tag', 'v1.10.0']);
    assert.equal((await buildManifest(t.dir, { created: CREATED })).version, '1.10.0');
    assert.equal((await buildManifest(t.dir, { created: CREATED, version: 'v3.0.0' })).version, '3.0.0');
    await rejects(buildManifest(t.dir, { created: CREATED, version: '1.0' }), 'bad_version', /semver/);
    const r = ota(['manifest', '--out=-', t.dir, '--version', 'latest', '--created', CREATED]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /version "latest" is not semver-like.*\[bad_version\]/);
  } finally {
    t.cleanup();
  }
});

test('delete, keep, hooks and expires map to manifest fields from the CLI', () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'x', 'ota_hooks/post.py': 'p', 'ota_hooks/rb.py': 'r' });
    const r = ota([
      'manifest',
      '--out=-',
      t.dir,
      '--version=1.4.0',
      '--name=weather',
      `--created=${CREATED}`,
      '--delete=old_driver.py',
      '--keep=secrets.json',
      '--keep=ota_config.json',
      '--hook-post-update=ota_hooks/post.py',
      '--hook-rollback=ota_hooks/rb.py',
      '--expires-days=30',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(m), [
      'schema',
      'name',
      'version',
      'created',
      'files',
      'delete',
      'keep',
      'hooks',
      'expires',
    ]);
    assert.equal(m.name, 'weather');
    assert.deepEqual(m.delete, ['old_driver.py']);
    assert.deepEqual(m.keep, ['ota_config.json', 'secrets.json']);
    assert.deepEqual(m.hooks, { post_update: 'ota_hooks/post.py', rollback: 'ota_hooks/rb.py' });
    assert.equal(m.expires, '2026-01-31T00:00:00Z');
    const bad = ota([
      'manifest',
      '--out=-',
      t.dir,
      '--version=1.0.0',
      `--created=${CREATED}`,
      '--hook-rollback=nope.py',
    ]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /\[hook_missing\]/);
    const clash = ota([
      'manifest',
      '--out=-',
      t.dir,
      '--version=1.0.0',
      `--created=${CREATED}`,
      '--delete=main.py',
    ]);
    assert.match(clash.stderr, /main\.py is both shipped and listed in delete \[delete_conflict\]/);
    const escape = ota([
      'manifest',
      '--out=-',
      t.dir,
      '--version=1.0.0',
      `--created=${CREATED}`,
      '--keep=../etc/passwd',
    ]);
    assert.match(escape.stderr, /\[bad_path\]/);
    const days = ota([
      'manifest',
      '--out=-',
      t.dir,
      '--version=1.0.0',
      `--created=${CREATED}`,
      '--expires-days=soon',
    ]);
    assert.match(days.stderr, /\[bad_option\]/);
  } finally {
    t.cleanup();
  }
});

test('bad trees are refused with a specific code: escape, unnameable, empty, special files', async (t) => {
  const opts = { version: '1.0.0', created: CREATED };
  const cases: [string, (dir: string) => void, string, RegExp][] = [
    [
      'symlink to outside the root',
      (d) => symlinkSync('/etc/hostname', join(d, 'host')),
      'path_escape',
      /host/,
    ],
    ['symlinked dir to outside', (d) => symlinkSync('/etc', join(d, 'etc')), 'path_escape', /etc/],
    ['dangling symlink', (d) => symlinkSync(join(d, 'gone'), join(d, 'link')), 'unreadable', /link/],
    ['backslash in a name', (d) => writeFileSync(join(d, 'a\\b.py'), ''), 'bad_name', /backslash/],
    ['control character in a name', (d) => writeFileSync(join(d, 'bell\x07.py'), ''), 'bad_name', /control/],
    [
      'name that is not UTF-8',
      (d) =>
        writeFileSync(
          Buffer.concat([Buffer.from(d + '/bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.py')]),
          '',
        ),
      'bad_name',
      /UTF-8/,
    ],
    ['name too long for ustar', (d) => writeFileSync(join(d, 'n'.repeat(101)), ''), 'name_too_long', /ustar/],
    [
      'directories too long for ustar',
      (d) => {
        const deep = join(d, 'd'.repeat(100), 'e'.repeat(100));
        mkdirSync(deep, { recursive: true });
        writeFileSync(join(deep, 'f.py'), '');
      },
      'name_too_long',
      /ustar/,
    ],
    [
      'FIFO',
      (d) => {
        spawnSync('mkfifo', [join(d, 'pipe')]);
      },
      'unreadable',
      /pipe is not a regular file/,
    ],
  ];
  for (const [name, make, code, re] of cases) {
    await t.test(name, async () => {
      const tmp = tempDir();
      try {
        writeTree(tmp.dir, { 'main.py': 'ok' });
        make(tmp.dir);
        await rejects(buildManifest(tmp.dir, opts), code, re);
      } finally {
        tmp.cleanup();
      }
    });
  }
  await t.test('empty project (everything ignored)', async () => {
    const tmp = tempDir();
    try {
      writeTree(tmp.dir, { '.otaignore': '*\n', 'main.py': 'x' });
      await rejects(buildManifest(tmp.dir, opts), 'empty_project', /no files/);
      const r = ota(['manifest', '--out=-', tmp.dir, '--version', '1.0.0', '--created', CREATED]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /\[empty_project\]/);
    } finally {
      tmp.cleanup();
    }
  });
  await t.test('a symlink inside the root is followed; a loop is walked once', async () => {
    const tmp = tempDir();
    try {
      writeTree(tmp.dir, { 'lib/a.py': 'a' });
      symlinkSync(join(tmp.dir, 'lib/a.py'), join(tmp.dir, 'alias.py'));
      symlinkSync('..', join(tmp.dir, 'lib', 'up'));
      const m = await buildManifest(tmp.dir, opts);
      assert.deepEqual(
        m.files.map((f) => f.path),
        ['alias.py', 'lib/a.py'],
      );
      assert.equal(m.files[0].sha256, m.files[1].sha256);
    } finally {
      tmp.cleanup();
    }
  });
});

test('an unreadable file is named, not skipped', async () => {
  const tmp = tempDir();
  try {
    writeTree(tmp.dir, { 'main.py': 'ok', 'secret.py': 'no' });
    const { chmodSync } = await import('node:fs');
    chmodSync(join(tmp.dir, 'secret.py'), 0);
    // root reads anything: run the CLI as an unprivileged user then
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = ota(['manifest', '--out=-', tmp.dir, '--version', '1.0.0', '--created', CREATED], asUser);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read .*secret\.py: permission denied \(EACCES\) \[unreadable\]/);
    if (process.getuid?.() !== 0) await rejects(hashFile(join(tmp.dir, 'secret.py')), 'unreadable');
  } finally {
    tmp.cleanup();
  }
});

test('hashes of many files come back in order from the worker pool', async () => {
  const t = tempDir();
  try {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 150; i++)
      files[`d${i % 7}/f${String(i).padStart(3, '0')}.bin`] = bytes(i * 37, i + 1);
    writeTree(t.dir, files);
    const m = await buildManifest(t.dir, { version: '1.0.0', created: CREATED });
    assert.equal(m.files.length, 150);
    for (const f of m.files) {
      const content = files[f.path];
      assert.equal(f.size, content.length, f.path);
      assert.equal(f.sha256, createHash('sha256').update(content).digest('hex'), f.path);
      assert.equal(f.sha1, gitBlobSha1(content), f.path);
    }
  } finally {
    t.cleanup();
  }
});
