// The updater against the GitHub REST mock (test/support/github-mock.ts): each
// channel updates a 1.0.0 board; a private repository's token goes to the API
// host only, never to the asset download host, and only over verified TLS (the mock serves HTTPS
// under a test CA); a second check is a 304.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import * as fx from './support/release-fixture';
import { missingService } from './support/service';
import { makePki, type Pki } from './support/pki';

// The test CA and server certificates are made by openssl.
const noOpenssl = missingService(['openssl']);
if (noOpenssl) console.log(`# skipped: ${noOpenssl}`);
const T = { timeout: 60_000, skip: noOpenssl };
const TOKEN = 'ghp_device_token';
const keys = fx.makeKeys();
const sign = { keys, alg: 'rsa-sha256' as const };
const cleanups: string[] = [];
let gh: GitHubMock;
let r110: fx.Release;
let r120b: fx.Release;

const APP_1_2_0: fx.AppFiles = { ...fx.APP_1_1_0, 'main.py': 'print("app 1.2.0-beta.1")\n' };

let pki: Pki;

/** A board whose config trusts the test CA (the mock serves HTTPS: a token only travels over verified TLS). */
function makeBoard(cfg: Record<string, unknown>, app: fx.AppFiles, v: string): string {
  const fsDir = fx.makeBoard({ tls: { ca: 'ota/ca.pem' }, ...cfg }, app, v);
  writeFileSync(join(fsDir, 'ota', 'ca.pem'), pki.ca.cert);
  return fsDir;
}

before(async () => {
  if (noOpenssl) return;
  const dir = fx.tempDir('pki');
  cleanups.push(dir);
  pki = makePki(dir);
  gh = await startGitHubMock({ token: TOKEN, private: true, tls: pki.server });
  gh.addRepo('me', 'app');
  r110 = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  r120b = await fx.makeRelease('1.2.0-beta.1', APP_1_2_0, { delete: ['old.py'], keep: ['settings.json'] });
  cleanups.push(r110.dir, r120b.dir);
  gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: [] });
  gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: fx.githubAssets(r110, sign) });
  gh.addRelease('me', 'app', {
    tag: 'v1.2.0-beta.1',
    prerelease: true,
    assets: fx.githubAssets(r120b, sign),
  });
});
after(async () => {
  await gh?.close();
  fx.cleanup(...cleanups);
});

function config(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    source: 'github',
    repo: 'me/app',
    api: gh.apiUrl,
    token: TOKEN,
    keys: [fx.boardKey(keys, 'rsa-sha256')],
    retries: 0,
    ...extra,
  };
}

function version(fsDir: string): string {
  return JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
}

async function updateTwice(cfg: Record<string, unknown>, sha1 = true): Promise<string> {
  const fsDir = makeBoard(config(cfg), fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  const r = await fx.runBoard({ fsDir, sha1, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  // The second check: one API request and no download. The release's ETag changed with the
  // download counts, so this answer is a 200; the third check is a 304.
  const from = gh.state.requests.length;
  const r2 = await fx.runBoard({
    fsDir,
    code: 'import ota\nota.confirm()\nprint(ota.update())\n',
  });
  assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
  assert.deepEqual(
    gh.state.requests.slice(from).map((q) => q.origin),
    ['api'],
    `the second check is one API request: ${r2.output}`,
  );
  const from3 = gh.state.requests.length;
  const r3 = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.update())\n' });
  assert.deepEqual(fx.errorCodes(r3.output), [], r3.output);
  assert.deepEqual(
    gh.state.requests.slice(from3).map((q) => `${q.origin} ${q.status}`),
    ['api 304'],
  );
  return fsDir;
}

function assertTokenOnlyToApi(): void {
  const reqs = gh.state.requests;
  assert.ok(
    reqs.some((q) => q.origin === 'downloads'),
    'assets came from the downloads origin',
  );
  for (const q of reqs) {
    if (q.origin === 'downloads') assert.equal(q.headers.authorization, undefined, `no token to ${q.path}`);
    else assert.equal(q.headers.authorization, `Bearer ${TOKEN}`, `token to the API for ${q.path}`);
  }
}

test('stable channel, private repo: latest release 1.1.0 over the asset API and its 302', T, async () => {
  gh.state.requests.length = 0;
  const fsDir = await updateTwice({ channel: 'stable' });
  assert.equal(version(fsDir), '1.1.0');
  assert.deepEqual(
    fx.hashTree(fsDir, fx.NOT_APP),
    fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] }),
  );
  assertTokenOnlyToApi();
  const files = gh.state.requests.filter((q) => q.origin === 'downloads').length;
  assert.equal(files, 5, 'manifest, signature, main.py, lib/new.py, ota_hooks/post.py: only what changed');
});

test('beta channel: the newest prerelease', T, async () => {
  const fsDir = await updateTwice({ channel: 'beta' });
  assert.equal(version(fsDir), '1.2.0-beta.1');
  assert.equal(readFileSync(join(fsDir, 'main.py'), 'utf8'), APP_1_2_0['main.py']);
});

test('tag channel: the pinned tag', T, async () => {
  const fsDir = await updateTwice({ channel: 'tag', tag: 'v1.1.0' });
  assert.equal(version(fsDir), '1.1.0');
});

test(
  'developer channel: tip of a branch from the Git tree, limited to paths, pure-Python SHA-1',
  T,
  async () => {
    const sha = gh.setBranch('me', 'app', 'dev', [
      { path: 'main.py', content: 'print("dev")\n' },
      { path: 'lib/util.py', content: fx.APP_1_0_0['lib/util.py'] },
      { path: 'lib/extra.py', content: 'Y = 1\n' },
      { path: 'docs/readme.md', content: '# not for the board\n' },
    ]);
    // No hashlib.sha1: the Git tree gives SHA-1s only, so the pure-Python SHA-1 checks every file.
    const fsDir = await updateTwice(
      { channel: 'developer', branch: 'dev', paths: ['main.py', 'lib/'], keys: undefined },
      false,
    );
    assert.equal(version(fsDir), sha);
    assert.equal(readFileSync(join(fsDir, 'main.py'), 'utf8'), 'print("dev")\n');
    assert.equal(readFileSync(join(fsDir, 'lib/extra.py'), 'utf8'), 'Y = 1\n');
    assert.deepEqual(
      fx.listTree(fsDir, fx.NOT_APP).filter((p) => p.startsWith('docs')),
      [],
    );
  },
);

test('developer channel with keys configured is refused: no_signature', T, async () => {
  gh.setBranch('me', 'app', 'dev2', [{ path: 'main.py', content: 'print("x")\n' }]);
  const fsDir = makeBoard(config({ channel: 'developer', branch: 'dev2' }), fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['no_signature'], r.output);
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
});

test('a wrong token is refused with a clear error and nothing changes', T, async () => {
  const fsDir = makeBoard(config({ channel: 'stable', token: 'nope' }), fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['http_status'], r.output);
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
});

test('developer channel: a truncated Git tree is walked subtree by subtree', T, async () => {
  const small = await startGitHubMock({ token: TOKEN, private: true, treeLimit: 2, tls: pki.server });
  try {
    small.addRepo('me', 'app');
    const files = [
      { path: 'main.py', content: 'print("walked")\n' },
      { path: 'lib/a.py', content: 'A = 1\n' },
      { path: 'lib/deep/b.py', content: 'B = 2\n' },
      { path: 'docs/x.md', content: '# skipped\n' },
    ];
    const sha = small.setBranch('me', 'app', 'dev', files);
    const fsDir = makeBoard(
      config({
        api: small.apiUrl,
        channel: 'developer',
        branch: 'dev',
        paths: ['main.py', 'lib/'],
        keys: undefined,
      }),
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(version(fsDir), sha);
    assert.equal(readFileSync(join(fsDir, 'lib/deep/b.py'), 'utf8'), 'B = 2\n');
    // root, lib and lib/deep one level at a time; docs/ is outside `paths` and never fetched.
    const levels = small.state.requests.filter((q) => /\/git\/trees\/[0-9a-f]+$/.test(q.path));
    assert.equal(levels.length, 3, small.state.requests.map((q) => q.path).join(' '));
  } finally {
    await small.close();
  }
});

test(
  'GitHub rate limit used up (403, x-ratelimit-remaining 0): rate_limited, nothing changes',
  T,
  async () => {
    gh.setRateLimit(0);
    try {
      const fsDir = makeBoard(config({ channel: 'stable' }), fx.APP_1_0_0, '1.0.0');
      cleanups.push(fsDir);
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), ['rate_limited'], r.output);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    } finally {
      gh.setRateLimit(5000);
    }
  },
);

test(
  'developer channel: a branch whose paths differ only in letter case is refused (path_conflict)',
  T,
  async () => {
    gh.setBranch('me', 'app', 'cases', [
      { path: 'main.py', content: 'print("a")\n' },
      { path: 'Main.py', content: 'print("b")\n' },
    ]);
    const fsDir = makeBoard(
      config({ channel: 'developer', branch: 'cases', keys: undefined }),
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), ['path_conflict'], r.output);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  },
);

test(
  "another app's signed release (one key, two projects) is refused after the manifest: wrong_app",
  T,
  async () => {
    const fsDir = makeBoard(config({ channel: 'stable', app: 'weather-station' }), fx.APP_1_0_0, '1.0.0');
    cleanups.push(fsDir);
    const before = readFileSync(join(fsDir, 'version.json'));
    const from = gh.state.requests.length;
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), ['wrong_app'], r.output);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    assert.deepEqual(readFileSync(join(fsDir, 'version.json')), before);
    const downloads = gh.state.requests.slice(from).filter((q) => q.origin === 'downloads');
    assert.equal(downloads.length, 2, 'only the manifest and its signature were downloaded');
  },
);

test(
  'developer channel (no manifest, so no name): installs and keeps the name the board recorded',
  T,
  async () => {
    gh.setBranch('me', 'app', 'dev3', [{ path: 'main.py', content: 'print("dev3")\n' }]);
    const fsDir = makeBoard(
      config({ channel: 'developer', branch: 'dev3', keys: undefined }),
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    writeFileSync(join(fsDir, 'version.json'), JSON.stringify({ version: '1.0.0', name: 'app' }));
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(readFileSync(join(fsDir, 'main.py'), 'utf8'), 'print("dev3")\n');
    assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).name, 'app');
  },
);
