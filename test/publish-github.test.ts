// Publishing to GitHub Releases with the real Octokit against the local GitHub (every answer held
// against GitHub's OpenAPI description).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { parseManifest } from '../src/core/manifest';
import {
  listReleases,
  branchTip,
  publishGitHub,
  type GitHubPublishOptions,
  type PublishProgress,
} from '../src/core/publish/github';
import { verifySignature } from '../src/core/sign';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { validatingFetch } from './support/openapi-check';

let gh: GitHubMock;
let work: string;
let project: string;
let keyFile: string;
const problems: string[] = [];
const TOKEN = 'ghp_writer';
const created = '2026-11-25T10:00:00Z';

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-pubgh-'));
  project = join(work, 'app');
  mkdirSync(join(project, 'lib'), { recursive: true });
  writeFileSync(join(project, 'main.py'), 'import lib.util\nprint("v1")\n');
  writeFileSync(join(project, 'lib', 'util.py'), 'X = 1\n');
  writeFileSync(join(project, '.otaignore'), 'CHANGELOG.md\n');
  writeFileSync(
    join(project, 'CHANGELOG.md'),
    '# Changelog\n\n## 1.1.0-beta.1\n\n- trying things\n\n## [1.0.0] - 2026-11-25\n\n- first release\n- signed\n\n## 0.9.0\n\n- old\n',
  );
  keyFile = (await generateKey('rsa-sha256', { path: join(work, 'keys', 'fleet.json'), project })).path;
  gh = await startGitHubMock({ token: TOKEN, readToken: 'ghp_reader' });
});
after(async () => {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  gh.reset();
  gh.addRepo('me', 'app');
});

function options(extra: Partial<GitHubPublishOptions> = {}): GitHubPublishOptions {
  return {
    dir: project,
    version: '1.0.0',
    build: { created },
    repo: 'me/app',
    token: TOKEN,
    baseUrl: gh.apiUrl,
    fetch: validatingFetch(problems, [gh.apiUrl, gh.uploadsUrl]),
    retryDelayMs: 5,
    ...extra,
  };
}

const code = (c: string) => (e: unknown) => e instanceof OtaError && e.code === c;

async function download(url: string, token = TOKEN): Promise<Buffer> {
  const first = await fetch(url, {
    headers: { accept: 'application/octet-stream', authorization: `token ${token}` },
    redirect: 'manual',
  });
  assert.equal(first.status, 302);
  const res = await fetch(first.headers.get('location')!); // no Authorization to the storage host
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

test('publish: draft, every asset on the uploads origin with byte progress, then one PATCH publishes it', async () => {
  const progress: PublishProgress[] = [];
  const result = await publishGitHub(
    options({ signKeyFile: keyFile, bundle: true, onProgress: (p) => progress.push(p) }),
  );
  assert.equal(result.tag, 'v1.0.0');
  assert.equal(result.prerelease, false);
  assert.equal(result.signed, true);
  assert.deepEqual(
    result.assets.map((a) => a.name),
    ['manifest.json', 'manifest.json.sig', 'lib__util.py', 'main.py', 'app-1.0.0.tar.gz'],
  );
  const rel = gh.state.repos.get('me/app')!.releases;
  assert.equal(rel.length, 1);
  assert.equal(rel[0].draft, false);
  assert.equal(rel[0].tag, 'v1.0.0');
  assert.equal(rel[0].body, '- first release\n- signed');
  assert.ok(rel[0].assets.every((a) => a.state === 'uploaded'));

  // Order on the wire: create as draft, all uploads, then the single publishing PATCH.
  const log = gh.state.requests.filter((r) => r.method !== 'GET');
  const create = log.findIndex((r) => r.method === 'POST' && r.origin === 'api');
  const patch = log.findIndex((r) => r.method === 'PATCH');
  const ups = log.map((r, i) => (r.origin === 'uploads' ? i : -1)).filter((i) => i >= 0);
  assert.equal(ups.length, 5);
  assert.ok(create < Math.min(...ups) && Math.max(...ups) < patch);

  const total = result.assets.reduce((n, a) => n + a.size, 0);
  const uploads = progress.filter((p) => p.phase === 'upload');
  assert.ok(uploads.length >= 5);
  assert.ok(uploads.every((p, i) => i === 0 || p.done >= uploads[i - 1].done));
  assert.equal(uploads.at(-1)!.done, total);
  assert.equal(progress.at(-1)!.phase, 'publish');

  // What a board would fetch verifies against the key it trusts.
  const manifestBytes = await download(result.assets[0].url);
  const sig = JSON.parse((await download(result.assets[1].url)).toString());
  verifySignature(manifestBytes, sig, [await deviceTrustEntry(keyFile)]);
  const manifest = parseManifest(manifestBytes);
  assert.equal(manifest.version, '1.0.0');
  assert.equal(manifest.bundle?.name, 'app-1.0.0.tar.gz');
  assert.equal((await download(result.assets[3].url)).toString(), 'import lib.util\nprint("v1")\n');
  assert.deepEqual(problems, []);
});

test('re-publishing a version is refused and changes nothing; --force replaces its assets', async () => {
  const first = await publishGitHub(options());
  await assert.rejects(publishGitHub(options()), code('tag_exists'));
  const repo = gh.state.repos.get('me/app')!;
  assert.equal(repo.releases.length, 1);
  assert.equal(repo.releases[0].id, first.releaseId);

  writeFileSync(join(project, 'lib', 'util.py'), 'X = 2\n');
  try {
    const again = await publishGitHub(options({ force: true }));
    assert.equal(again.replaced, true);
    assert.equal(repo.releases.length, 1, 'one release for the tag');
    assert.notEqual(repo.releases[0].id, first.releaseId);
    assert.equal(repo.releases[0].tag, 'v1.0.0');
    assert.equal(repo.releases[0].draft, false);
    const util = again.assets.find((a) => a.name === 'lib__util.py')!;
    assert.equal((await download(util.url)).toString(), 'X = 2\n');
  } finally {
    writeFileSync(join(project, 'lib', 'util.py'), 'X = 1\n');
  }
  assert.deepEqual(problems, []);
});

test('a failure mid-upload deletes the draft: no release, published or not, remains', async () => {
  gh.failNext({ origin: 'uploads', path: /name=main\.py/, status: 502, times: 100 });
  await assert.rejects(publishGitHub(options({ retries: 2 })), code('github_error'));
  const repo = gh.state.repos.get('me/app')!;
  assert.deepEqual(repo.releases, []);
  const tries = gh.state.requests.filter((r) => r.origin === 'uploads' && /name=main\.py/.test(r.path));
  assert.equal(tries.length, 3, 'first attempt and two retries');
});

test('a failed upload is retried after deleting the half asset GitHub kept', async () => {
  gh.failNext({ origin: 'uploads', path: /name=main\.py/, status: 502, times: 1 });
  const result = await publishGitHub(options());
  const release = gh.state.repos.get('me/app')!.releases[0];
  assert.equal(release.draft, false);
  assert.deepEqual(release.assets.map((a) => [a.name, a.state]).sort(), [
    ['lib__util.py', 'uploaded'],
    ['main.py', 'uploaded'],
    ['manifest.json', 'uploaded'],
  ]);
  assert.equal(result.assets.length, 3);
});

test('a failure of a --force replacement leaves the old release intact', async () => {
  const first = await publishGitHub(options());
  gh.failNext({ origin: 'uploads', status: 500, times: 100 });
  await assert.rejects(publishGitHub(options({ force: true, retries: 0 })), code('github_error'));
  const repo = gh.state.repos.get('me/app')!;
  assert.deepEqual(
    repo.releases.map((r) => [r.id, r.draft]),
    [[first.releaseId, false]],
  );
});

test('prerelease: the beta channel; stable stays on the last release; listReleases marks both', async () => {
  await publishGitHub(options());
  const beta = await publishGitHub(options({ version: '1.1.0-beta.1' }));
  assert.equal(beta.prerelease, true, 'a prerelease version is a prerelease by default');
  assert.equal(gh.state.repos.get('me/app')!.releases[1].body, '- trying things');
  const explicit = await publishGitHub(options({ version: '1.2.0', prerelease: true, notes: 'given text' }));
  assert.equal(explicit.prerelease, true);
  const latest = await fetch(`${gh.apiUrl}/repos/me/app/releases/latest`);
  assert.equal(((await latest.json()) as { tag_name: string }).tag_name, 'v1.0.0');
  const list = await listReleases({ repo: 'me/app', baseUrl: gh.apiUrl, fetch: options().fetch });
  assert.deepEqual(
    list.map((r) => [r.tag, r.version, r.prerelease, r.channel]),
    [
      ['v1.2.0', '1.2.0', true, 'beta'],
      ['v1.1.0-beta.1', '1.1.0-beta.1', true, undefined],
      ['v1.0.0', '1.0.0', false, 'stable'],
    ],
  );
  assert.equal(gh.state.repos.get('me/app')!.releases[2].body, 'given text');
  // A hotfix of an older line published later does not take the stable channel from 1.0.0... or from 1.3.0.
  await publishGitHub(options({ version: '1.3.0' }));
  await publishGitHub(options({ version: '1.0.1' }));
  const stable = await fetch(`${gh.apiUrl}/repos/me/app/releases/latest`);
  assert.equal(((await stable.json()) as { tag_name: string }).tag_name, 'v1.3.0');
  const after = await listReleases({ repo: 'me/app', baseUrl: gh.apiUrl, fetch: options().fetch });
  assert.deepEqual(
    after.filter((r) => r.channel).map((r) => [r.tag, r.channel]),
    [
      ['v1.3.0', 'stable'],
      ['v1.2.0', 'beta'],
    ],
  );
  gh.setBranch('me', 'app', 'main', [{ path: 'main.py', content: 'print("tip")\n' }]);
  const tip = await branchTip({ repo: 'me/app', baseUrl: gh.apiUrl, fetch: options().fetch });
  assert.equal(tip.sha, gh.state.repos.get('me/app')!.refs.get('heads/main'));
  // The mock's commits are dated by their committer line (1700000000 s).
  assert.equal(tip.date, '2023-11-14T22:13:20Z');
  assert.deepEqual(problems, []);
});

test('clear errors: no token, bad token, read-only token, missing repo, bad repo, rate limit with reset time', async () => {
  await assert.rejects(publishGitHub(options({ token: undefined })), code('token_missing'));
  await assert.rejects(publishGitHub(options({ token: 'ghp_wrong' })), code('token_invalid'));
  await assert.rejects(publishGitHub(options({ token: 'ghp_reader' })), code('no_permission'));
  await assert.rejects(publishGitHub(options({ repo: 'me/nothing' })), code('repo_not_found'));
  await assert.rejects(publishGitHub(options({ repo: 'not a repo' })), code('bad_repo'));
  const reset = Math.floor(Date.now() / 1000) + 1234;
  gh.setRateLimit(0, reset);
  await assert.rejects(publishGitHub(options()), (e: unknown) => {
    return (
      e instanceof OtaError &&
      e.code === 'rate_limited' &&
      e.message.includes(new Date(reset * 1000).toISOString())
    );
  });
  assert.deepEqual(gh.state.repos.get('me/app')!.releases, [], 'nothing was created');
});

test('GitHub Enterprise: the API under /api/v3 of its own host', async () => {
  const ghes = await startGitHubMock({ token: TOKEN, pathPrefix: '/api/v3' });
  try {
    ghes.addRepo('corp', 'fw');
    assert.match(ghes.apiUrl, /\/api\/v3$/);
    const result = await publishGitHub(
      options({
        repo: 'corp/fw',
        baseUrl: ghes.apiUrl,
        fetch: validatingFetch(problems, [ghes.apiUrl, ghes.uploadsUrl]),
      }),
    );
    assert.equal(ghes.state.repos.get('corp/fw')!.releases[0].draft, false);
    assert.ok(
      ghes.state.requests.filter((r) => r.origin === 'api').every((r) => r.path.startsWith('/api/v3/')),
    );
    assert.equal(result.tag, 'v1.0.0');
    assert.deepEqual(problems, []);
  } finally {
    await ghes.close();
  }
});
