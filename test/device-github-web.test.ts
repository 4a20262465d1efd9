// GitHub at fleet scale: a public repository on the stable or tag channel is read through
// github.com's download links (the mock's web origin), outside the REST API and its 60 requests an
// hour per IP; a release without manifest.json installs from the Git tree at its tag.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import * as fx from './support/release-fixture';

const T = { timeout: 60_000 };
const keys = fx.makeKeys();
const sign = { keys, alg: 'ed25519' as const };
const cleanups: string[] = [];
let gh: GitHubMock;
let r110: fx.Release;

const TREE_1_2_0 = [
  { path: 'main.py', content: 'print("manifestless 1.2.0")\n' },
  { path: 'lib/util.py', content: String(fx.APP_1_0_0['lib/util.py']) },
  { path: 'docs/readme.md', content: '# not for the board\n' },
];

before(async () => {
  gh = await startGitHubMock({ private: false });
  gh.addRepo('me', 'app');
  r110 = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  cleanups.push(r110.dir);
  gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: [] });
  gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: fx.githubAssets(r110, sign) });
  // A repository whose releases carry no manifest.json: the files come from the tag's tree.
  gh.addRepo('me', 'plain');
  gh.setTag('me', 'plain', 'v1.2.0', TREE_1_2_0);
  gh.addRelease('me', 'plain', { tag: 'v1.2.0', assets: [{ name: 'notes.txt', content: 'hello' }] });
});
after(async () => {
  await gh.close();
  fx.cleanup(...cleanups);
});

function board(extra: Record<string, unknown>): string {
  const cfg = { source: 'github', repo: 'me/app', api: gh.apiUrl, web: gh.webUrl, retries: 0, ...extra };
  const fsDir = fx.makeBoard(cfg, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  return fsDir;
}

const versionOf = (fsDir: string) => JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
const since = (from: number) => gh.state.requests.slice(from);

test('stable, public repository: no API request at all; the next check is one web request', T, async () => {
  const from = gh.state.requests.length;
  const fsDir = board({ keys: [fx.boardKey(keys, 'ed25519')] });
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.equal(versionOf(fsDir), '1.1.0');
  assert.deepEqual(
    fx.hashTree(fsDir, fx.NOT_APP),
    fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] }),
  );
  const reqs = since(from);
  assert.deepEqual(
    reqs.filter((q) => q.origin === 'api').map((q) => q.path),
    [],
    'no REST API request',
  );
  assert.ok(reqs.some((q) => q.origin === 'web' && q.path === '/me/app/releases/latest'));
  for (const q of reqs) assert.equal(q.headers.authorization, undefined);
  const from2 = gh.state.requests.length;
  const r2 = await fx.runBoard({ fsDir, code: 'import ota\nota.confirm()\nprint(ota.update())\n' });
  assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
  assert.deepEqual(
    since(from2).map((q) => `${q.origin} ${q.path}`),
    ['web /me/app/releases/latest'],
  );
});

test('tag channel, public repository: the pinned tag over the web links', T, async () => {
  const from = gh.state.requests.length;
  const fsDir = board({ channel: 'tag', tag: 'v1.1.0' });
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.equal(versionOf(fsDir), '1.1.0');
  assert.deepEqual(
    since(from).filter((q) => q.origin === 'api'),
    [],
  );
});

test('"web": false keeps the REST API (the path before this change)', T, async () => {
  const from = gh.state.requests.length;
  const fsDir = board({ web: false });
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.ok(since(from).some((q) => q.origin === 'api' && q.path.endsWith('/releases/latest')));
});

for (const [name, extra] of [
  ['web links', {}],
  ['REST API', { web: false }],
] as const) {
  test(
    `a release without manifest.json (${name}): files from the Git tree at its tag, within paths`,
    T,
    async () => {
      const fsDir = board({ repo: 'me/plain', paths: ['main.py', 'lib/'], ...extra });
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(versionOf(fsDir), '1.2.0');
      assert.equal(readFileSync(join(fsDir, 'main.py'), 'utf8'), TREE_1_2_0[0].content);
      assert.deepEqual(
        fx.listTree(fsDir, fx.NOT_APP).filter((p) => p.startsWith('docs')),
        [],
      );
    },
  );
}

test('a release without manifest.json while keys are configured is refused: no_signature', T, async () => {
  const fsDir = board({ repo: 'me/plain', keys: [fx.boardKey(keys, 'ed25519')] });
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['no_signature'], r.output);
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
});

test(
  'web links, keys configured: an unsigned release is no_signature, a forged one bad_signature',
  T,
  async () => {
    // The web path has no asset list: the board asks for manifest.json.sig itself and must verify it.
    const other = fx.makeKeys();
    gh.addRepo('me', 'unsigned');
    gh.addRelease('me', 'unsigned', { tag: 'v1.1.0', assets: fx.githubAssets(r110) });
    gh.addRepo('me', 'forged');
    gh.addRelease('me', 'forged', {
      tag: 'v1.1.0',
      assets: fx.githubAssets(r110, { keys: other, alg: 'ed25519' }),
    });
    for (const [repo, code] of [
      ['me/unsigned', 'no_signature'],
      ['me/forged', 'bad_signature'],
    ] as const) {
      const from = gh.state.requests.length;
      const fsDir = board({ repo, keys: [fx.boardKey(keys, 'ed25519')] });
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), [code], r.output);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
      assert.ok(
        since(from).some(
          (q) => q.origin === 'web' && q.path.endsWith('/releases/download/v1.1.0/manifest.json.sig'),
        ),
      );
      assert.deepEqual(
        since(from).filter((q) => q.origin === 'api'),
        [],
      );
    }
  },
);

test('a repository with no release: http_404 from the web link, nothing changes', T, async () => {
  gh.addRepo('me', 'empty');
  const fsDir = board({ repo: 'me/empty' });
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['http_404'], r.output);
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
});
