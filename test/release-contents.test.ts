// Releases contain the app, nothing else (issues 11 and 16.1): the board's reserved files and tool
// and editor files never ship, each left-out file is named with why, boot.py is refused; and a
// file the chosen host cannot serve is refused by name before anything is published.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import {
  buildManifest,
  buildRelease,
  defaultManifestPath,
  parseManifest,
  serializeManifest,
} from '../src/core/manifest';
import { publishFolder } from '../src/core/publish/folder';
import { publishGitHub } from '../src/core/publish/github';
import { assetName, hostProblems, servableSegment } from '../src/core/publish/names';
import { serveFolder } from '../src/core/publish/serve';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { validatingFetch } from './support/openapi-check';
import { CREATED, ota, tempDir, writeTree } from './manifest-tree';

const APP = { 'main.py': 'print("app")\n', 'lib/display.py': 'X = 1\n' };

/** A workspace as "Configure Device", "Generate Manifest", git, npm and editors leave it. */
const WORKSPACE = {
  ...APP,
  'ota_config.json': '{"source": "github", "repo": "me/app", "token": "ghp_secret"}',
  'version.json': '{"version": "0.9.0"}',
  '.vscode/settings.json': '{}',
  'manifest.json': '{"schema": 1}',
  'manifest.json.sig': '{}',
  '.ota/release/old.tar.gz': 'x',
  'ota/__init__.py': '# a copy of the updater',
  'ota-releases/latest.json': '{}',
  'node_modules/p/index.js': 'x',
  '.git/config': '[core]',
  '.gitignore': 'x',
  'lib/__pycache__/display.cpython-312.pyc': 'x',
  '.otaignore': '# nothing\n',
};

const LEFT_OUT = [
  '.git/',
  '.gitignore',
  '.ota/',
  '.otaignore',
  '.vscode/',
  'lib/__pycache__/',
  'manifest.json',
  'manifest.json.sig',
  'node_modules/',
  'ota-releases/',
  'ota/',
  'ota_config.json',
  'version.json',
];

const code = (c: string, re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof OtaError, String(e));
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

let gh: GitHubMock;
let work: string;
const problems: string[] = [];
const TOKEN = 'ghp_writer';

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-contents-'));
  gh = await startGitHubMock({ token: TOKEN });
});
after(async () => {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  gh.reset();
  gh.addRepo('me', 'app');
});

function github(dir: string, extra: Record<string, unknown> = {}) {
  return publishGitHub({
    dir,
    version: '1.0.0',
    build: { created: CREATED },
    repo: 'me/app',
    token: TOKEN,
    baseUrl: gh.apiUrl,
    fetch: validatingFetch(problems, [gh.apiUrl, gh.uploadsUrl]),
    retryDelayMs: 5,
    ...extra,
  });
}

const releases = () => gh.state.repos.get('me/app')!.releases;

test('a workspace releases its app only: reserved and tool files are left out, each named with why', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, WORKSPACE);
    const built = await buildRelease(t.dir, { version: '1.0.0', created: CREATED });
    assert.deepEqual(
      built.manifest.files.map((f) => f.path),
      ['lib/display.py', 'main.py'],
    );
    assert.deepEqual(built.excluded.map((e) => e.path).sort(), LEFT_OUT);
    const why = Object.fromEntries(built.excluded.map((e) => [e.path, e.why]));
    assert.match(why['ota_config.json'], /reserved for the board: .*config/);
    assert.match(why['.vscode/'], /editor settings/);
    assert.match(why['manifest.json'], /the release makes its own/);

    // The CLI says so, one line per left-out entry, on standard error; standard output stays the manifest.
    const r = ota(['manifest', '--out=-', t.dir, '--version', '1.0.0', '--created', CREATED]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(parseManifest(Buffer.from(r.stdout)), built.manifest);
    const lines = r.stderr.trim().split('\n');
    for (const p of LEFT_OUT) assert.equal(lines.filter((l) => l.startsWith(`left out ${p}: `)).length, 1, p);

    // Published anywhere, the same: the token in ota_config.json never leaves the machine.
    const out = join(work, 'folder-out');
    const folder = await publishFolder({
      dir: t.dir,
      version: '1.0.0',
      outDir: out,
      build: { created: CREATED },
    });
    assert.deepEqual(readdirSync(folder.versionDir).sort(), ['lib', 'main.py', 'manifest.json']);
    const gr = await github(t.dir);
    assert.deepEqual(
      gr.assets.map((a) => a.name),
      ['manifest.json', 'lib__display.py', 'main.py'],
    );
    assert.ok(gr.excluded.some((e) => e.path === 'ota_config.json'));
    const cli = ota([
      'publish',
      t.dir,
      '--target',
      'folder',
      '--dir',
      join(work, 'cli-out'),
      '--version',
      '1.0.0',
    ]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stderr, /^left out ota_config\.json: reserved for the board/m);
    assert.deepEqual(problems, []);
  } finally {
    t.cleanup();
  }
});

test('ota manifest writes .ota/manifest.json by default, outside the released tree', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, APP);
    const args = ['manifest', t.dir, '--version', '1.0.0', '--created', CREATED];
    const first = ota(args);
    assert.equal(first.status, 0, first.stderr);
    const out = join(t.dir, '.ota', 'manifest.json');
    assert.match(first.stdout, /\.ota\/manifest\.json: .* 1\.0\.0, 2 files/);
    const bytes = readFileSync(out);
    assert.deepEqual(
      parseManifest(bytes).files.map((f) => f.path),
      ['lib/display.py', 'main.py'],
    );
    // Run again: its own output is not part of the release, so the bytes are the same.
    assert.equal(ota(args).status, 0);
    assert.ok(readFileSync(out).equals(bytes));
    assert.equal(defaultManifestPath(t.dir), out);
  } finally {
    t.cleanup();
  }
});

test('reserved paths compare case-insensitively (FAT), only at the root', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, {
      'main.py': 'x',
      'OTA_CONFIG.JSON': '{}',
      'Version.Json': '{}',
      '.OTA/state.json': '{}',
      'OTA/x.py': 'x',
      'lib/ota_config.json': '{"mine": true}',
      'lib/boot.py': 'x',
      'otax.py': 'x',
      constructor: 'names that are also JavaScript object keys are plain files',
      'lib/toString': 'x',
    });
    const built = await buildRelease(t.dir, { version: '1.0.0', created: CREATED });
    assert.deepEqual(
      built.manifest.files.map((f) => f.path),
      ['constructor', 'lib/boot.py', 'lib/ota_config.json', 'lib/toString', 'main.py', 'otax.py'],
    );
    assert.deepEqual(built.excluded.map((e) => e.path).sort(), [
      '.OTA/',
      'OTA/',
      'OTA_CONFIG.JSON',
      'Version.Json',
    ]);
  } finally {
    t.cleanup();
  }
});

test("a project's own boot.py is refused with how the boot hook works; ignoring it releases the rest", async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { ...APP, 'boot.py': 'import network\n' });
    const opts = { version: '1.0.0', created: CREATED };
    await assert.rejects(buildManifest(t.dir, opts), code('reserved_path', /ota\.boot\(\)/));
    await assert.rejects(buildManifest(t.dir, opts), code('reserved_path', /main\.py.*\.otaignore/s));
    const r = ota(['manifest', '--out=-', t.dir, '--version', '1.0.0', '--created', CREATED]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /boot\.py is the board's.*\[reserved_path\]/s);
    await assert.rejects(
      publishFolder({
        dir: t.dir,
        version: '1.0.0',
        outDir: join(t.dir, 'out'),
        build: { created: CREATED },
      }),
      code('reserved_path'),
    );
    assert.ok(!existsSync(join(t.dir, 'out', '1.0.0')));
    writeFileSync(join(t.dir, '.otaignore'), 'boot.py\n');
    assert.deepEqual(
      (await buildManifest(t.dir, opts)).files.map((f) => f.path),
      ['lib/display.py', 'main.py'],
    );
  } finally {
    t.cleanup();
  }
});

test('an explicit --include of a reserved or tool path is refused; a generic glob is not', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { ...APP, 'ota_config.json': '{}', 'ota/x.py': 'x', '.vscode/s.json': '{}' });
    const opts = (include: string[]) => ({ version: '1.0.0', created: CREATED, include });
    for (const inc of [
      'ota_config.json',
      'OTA_CONFIG.json',
      'ota/**',
      './ota/x.py',
      '.ota/*',
      'boot.py',
      '.vscode/s.json',
      '.vscode/**',
      'lib/__pycache__/*',
    ]) {
      await assert.rejects(buildManifest(t.dir, opts([inc])), code('reserved_path', /never ships/), inc);
    }
    const some = await buildManifest(t.dir, opts(['**/*.py', '*.json']));
    assert.deepEqual(
      some.files.map((f) => f.path),
      ['lib/display.py', 'main.py'],
    );
    const r = ota([
      'manifest',
      '--out=-',
      t.dir,
      '--version',
      '1.0.0',
      '--created',
      CREATED,
      '--include',
      'ota/**',
    ]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /--include ota\/\*\*: this never ships in a release \(the updater package.*\[reserved_path\]/,
    );
  } finally {
    t.cleanup();
  }
});

test('delete naming a reserved path is refused; keep may name one; read manifests are held to the same rule', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, APP);
    const base = { version: '1.0.0', created: CREATED };
    for (const d of ['ota', 'ota/updater.py', 'OTA_CONFIG.JSON', '.ota/state.json', 'boot.py']) {
      await assert.rejects(
        buildManifest(t.dir, { ...base, delete: [d] }),
        code(d.startsWith('.ota') ? 'bad_path' : 'reserved_path'),
        d,
      );
    }
    const kept = await buildManifest(t.dir, { ...base, keep: ['ota_config.json'] });
    assert.deepEqual(kept.keep, ['ota_config.json']);
    const m = JSON.parse(serializeManifest(kept).toString()) as {
      files: { path: string }[];
      delete?: string[];
    };
    m.files[0].path = 'Boot.py';
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify(m))), code('bad_manifest', /reserved/));
    m.files[0].path = 'lib/display.py';
    m.delete = ['ota'];
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify(m))),
      code('bad_manifest', /delete names ota/),
    );
  } finally {
    t.cleanup();
  }
});

test('a symlink to a file that never ships is left out too, named with its target', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { ...APP, 'ota_config.json': '{"token": "ghp_secret"}', '.vscode/settings.json': '{}' });
    symlinkSync(join(t.dir, 'ota_config.json'), join(t.dir, 'config.json'));
    symlinkSync(join(t.dir, '.vscode', 'settings.json'), join(t.dir, 'lib', 'settings.json'));
    symlinkSync(join(t.dir, 'lib', 'display.py'), join(t.dir, 'display_link.py'));
    const built = await buildRelease(t.dir, { version: '1.0.0', created: CREATED });
    assert.deepEqual(
      built.manifest.files.map((f) => f.path),
      ['display_link.py', 'lib/display.py', 'main.py'],
    );
    const why = Object.fromEntries(built.excluded.map((e) => [e.path, e.why]));
    assert.match(why['config.json'], /^a link to ota_config\.json: reserved for the board/);
    assert.match(why['lib/settings.json'], /^a link to \.vscode\/settings\.json: editor settings/);
  } finally {
    t.cleanup();
  }
});

test('two paths that differ only in case are refused (one file on a FAT board)', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'a', 'lib/A.py': 'b', 'lib/a.py': 'c' });
    await assert.rejects(
      buildManifest(t.dir, { version: '1.0.0', created: CREATED }),
      code('path_clash', /lib\/A\.py and lib\/a\.py differ only in case/),
    );
  } finally {
    t.cleanup();
  }
});

test('static host: a hidden name is refused at publish by name, and ota serve agrees from the same rule', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { ...APP, '.config.py': 'x', 'lib/.cache.py': 'y' });
    const outDir = join(t.dir, 'out');
    await assert.rejects(
      publishFolder({ dir: t.dir, version: '1.0.0', outDir, build: { created: CREATED } }),
      code(
        'unservable_name',
        /cannot publish to a static host:\n {2}\.config\.py: "\.config\.py" is a hidden name.*\n {2}lib\/\.cache\.py: "\.cache\.py"/,
      ),
    );
    assert.deepEqual(readdirSync(outDir), [], 'nothing published, no staging left');
    // The manifest alone (no host yet) may list them; GitHub serves them as assets without the dot? No: it renames them.
    assert.equal((await buildManifest(t.dir, { version: '1.0.0', created: CREATED })).files.length, 4);

    // ota serve answers 200 exactly for the paths the publish check lets through.
    const names = ['ok.py', '.hidden.py', 'lib/.x/y.py', 'a b.py', 'lib/ok.bin', '..dots', 'x.', '_u.py'];
    const served = join(t.dir, 'served');
    writeTree(served, Object.fromEntries(names.map((n) => [n, 'x'])));
    const server = await serveFolder(served);
    try {
      for (const n of names) {
        const res = await fetch(`${server.url}/${n.split('/').map(encodeURIComponent).join('/')}`);
        await res.arrayBuffer();
        const allowed = hostProblems('folder', { files: [n], signed: false }).length === 0;
        assert.equal(res.status === 200, allowed, n);
        assert.equal(n.split('/').every(servableSegment), allowed, n);
      }
    } finally {
      await server.close();
    }
  } finally {
    t.cleanup();
  }
});

test('GitHub: names GitHub would rename and two files on one asset name are refused, naming both; nothing is created', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { 'main.py': 'x', 'a/b.py': '1', 'a__b.py': '2' });
    await assert.rejects(
      github(t.dir),
      code('unservable_name', /a__b\.py and a\/b\.py would both be the asset "a__b\.py"/),
    );
    assert.deepEqual(releases(), []);
    rmSync(join(t.dir, 'a__b.py'));
    writeTree(t.dir, { 'A__b.py': '3' });
    await assert.rejects(
      github(t.dir),
      code('unservable_name', /a\/b\.py and A__b\.py would both be the asset/),
    );
    rmSync(join(t.dir, 'A__b.py'));
    for (const bad of ['my file.py', 'café.py', 'x~1.py', '.hidden.py', 'a(1).py', 'v+1.py']) {
      writeTree(t.dir, { [bad]: 'x' });
      await assert.rejects(github(t.dir), code('unservable_name', /GitHub would rename the asset/), bad);
      rmSync(join(t.dir, bad));
    }
    writeTree(t.dir, { [`${'d'.repeat(100)}/${'e'.repeat(54)}/${'f'.repeat(97)}.py`]: 'x' });
    await assert.rejects(github(t.dir), code('unservable_name', /longer than 255 characters/));
    assert.deepEqual(releases(), []);
  } finally {
    t.cleanup();
  }
  // The bundle's name carries the version: a build suffix (+) would be renamed by GitHub too.
  const u = tempDir();
  try {
    writeTree(u.dir, { 'main.py': 'x' });
    await assert.rejects(
      github(u.dir, { version: '1.0.0+build.7', bundle: true }),
      code('unservable_name', /the bundle: GitHub would rename/),
    );
    // The host rule and the device's asset names (held equal in release-rules-device.test.ts) name files alike.
    assert.equal(assetName('lib/sub/x.py'), 'lib__sub__x.py');
  } finally {
    u.cleanup();
  }
});
