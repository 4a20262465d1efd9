// The GitHub mock answers as GitHub's OpenAPI description says, through the real Octokit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { checkResponse, validatingFetch } from './support/openapi-check';
import { NO_GIT_CONFIG } from './manifest-tree';

let gh: GitHubMock;
const problems: string[] = [];
let octokit: Octokit;

before(async () => {
  gh = await startGitHubMock({ token: 'w-token', readToken: 'r-token', treeLimit: 4 });
  gh.addRepo('me', 'app');
  gh.addRepo('me', 'secret', { private: true });
  octokit = new Octokit({
    auth: 'w-token',
    baseUrl: gh.apiUrl,
    request: { fetch: validatingFetch(problems, [gh.apiUrl, gh.uploadsUrl]) },
    // Expected 404/422 answers are asserted below; Octokit's own error lines would only be noise.
    log: { debug: () => undefined, info: () => undefined, warn: console.warn, error: () => undefined },
  });
});
after(() => gh.close());

test('the validator itself rejects an answer GitHub would never give', () => {
  assert.deepEqual(checkResponse('GET', '/repos/a/b/releases/latest', 200, { id: 1 }).length > 0, true);
  assert.match(checkResponse('GET', '/repos/a/b/releases/latest', 418, {})[0], /not documented/);
  assert.match(checkResponse('GET', '/nowhere/at/all', 200, {})[0], /no such path/);
});

test('releases: create draft, upload to the uploads origin, publish, latest / by tag / list', async () => {
  const created = await octokit.rest.repos.createRelease({
    owner: 'me',
    repo: 'app',
    tag_name: 'v1.0.0',
    draft: true,
  });
  assert.equal(created.status, 201);
  assert.ok(created.data.upload_url.startsWith(gh.uploadsUrl));
  const up = await octokit.rest.repos.uploadReleaseAsset({
    owner: 'me',
    repo: 'app',
    release_id: created.data.id,
    name: 'lib__x.py',
    data: 'print(1)\n',
    headers: { 'content-type': 'text/x-python' },
    baseUrl: gh.uploadsUrl,
  });
  assert.equal(up.status, 201);
  await assert.rejects(
    octokit.rest.repos.getReleaseByTag({ owner: 'me', repo: 'app', tag: 'v1.0.0' }),
    (e: { status: number }) => e.status === 404,
    'a draft is not visible by tag',
  );
  await octokit.rest.repos.updateRelease({
    owner: 'me',
    repo: 'app',
    release_id: created.data.id,
    draft: false,
  });
  const latest = await octokit.rest.repos.getLatestRelease({ owner: 'me', repo: 'app' });
  assert.equal(latest.data.tag_name, 'v1.0.0');
  assert.equal(latest.data.assets[0].name, 'lib__x.py');
  gh.addRelease('me', 'app', { tag: 'v1.1.0-beta', prerelease: true });
  assert.equal(
    (await octokit.rest.repos.getLatestRelease({ owner: 'me', repo: 'app' })).data.tag_name,
    'v1.0.0',
  );
  const list = await octokit.rest.repos.listReleases({ owner: 'me', repo: 'app' });
  assert.deepEqual(
    list.data.map((r) => [r.tag_name, r.prerelease]),
    [
      ['v1.1.0-beta', true],
      ['v1.0.0', false],
    ],
  );
  const assets = await octokit.rest.repos.listReleaseAssets({
    owner: 'me',
    repo: 'app',
    release_id: created.data.id,
  });
  assert.equal(assets.data.length, 1);
  const dup = octokit.rest.repos.createRelease({ owner: 'me', repo: 'app', tag_name: 'v1.0.0' });
  await assert.rejects(dup, (e: { status: number; response: { data: { errors: { code: string }[] } } }) => {
    return e.status === 422 && e.response.data.errors[0].code === 'already_exists';
  });
  await octokit.rest.repos.deleteReleaseAsset({ owner: 'me', repo: 'app', asset_id: assets.data[0].id });
  await octokit.rest.repos.deleteRelease({ owner: 'me', repo: 'app', release_id: created.data.id });
  assert.deepEqual(problems, []);
});

test('asset download: 302 to a separate origin that refuses an Authorization header', async () => {
  const rel = gh.addRelease('me', 'secret', {
    tag: 'v2.0.0',
    assets: [{ name: 'main.py', content: 'x = 2\n' }],
  });
  const assetUrl = `${gh.apiUrl}/repos/me/secret/releases/assets/${rel.assets[0].id}`;
  const first = await fetch(assetUrl, {
    headers: { accept: 'application/octet-stream', authorization: 'token w-token' },
    redirect: 'manual',
  });
  assert.equal(first.status, 302);
  const location = first.headers.get('location')!;
  assert.ok(location.startsWith(gh.downloadsUrl));
  assert.deepEqual(checkResponse('GET', new URL(assetUrl).pathname, 302, undefined), []);
  const withToken = await fetch(location, { headers: { authorization: 'token w-token' } });
  assert.equal(withToken.status, 400);
  assert.match(await withToken.text(), /Only one auth mechanism/);
  const clean = await fetch(location, { headers: { range: 'bytes=4-' } });
  assert.equal(clean.status, 206);
  assert.equal(await clean.text(), '2\n');
  const anonymous = await fetch(assetUrl, {
    headers: { accept: 'application/octet-stream' },
    redirect: 'manual',
  });
  assert.equal(anonymous.status, 404, 'a private repository is invisible without a token');
  const downloads = gh.state.requests.filter((r) => r.origin === 'downloads');
  assert.deepEqual(
    downloads.map((r) => [r.status, Boolean(r.headers.authorization)]),
    [
      [400, true],
      [206, false],
    ],
  );
});

test('git refs and trees: real Git SHAs, recursive, truncated over the limit', async () => {
  const files = [
    { path: 'main.py', content: 'print("hi")\n' },
    { path: 'lib/a.py', content: 'A = 1\n' },
    { path: 'lib/sub/b.py', content: 'B = 2\n' },
  ];
  const sha = gh.setBranch('me', 'app', 'main', files);
  // The same tree built by real git gives the same commit tree SHA.
  const dir = mkdtempSync(join(tmpdir(), 'ghmock-'));
  try {
    for (const f of files) {
      mkdirSync(join(dir, f.path, '..'), { recursive: true });
      writeFileSync(join(dir, f.path), f.content);
    }
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, ...NO_GIT_CONFIG },
      }).trim();
    git('init', '-q');
    git('add', '.');
    const tree = git('write-tree');
    const ref = await octokit.rest.git.getRef({ owner: 'me', repo: 'app', ref: 'heads/main' });
    assert.equal(ref.data.object.sha, sha);
    const commit = await octokit.rest.git.getCommit({ owner: 'me', repo: 'app', commit_sha: sha });
    assert.equal(commit.data.tree.sha, tree);
    const flat = await octokit.rest.git.getTree({ owner: 'me', repo: 'app', tree_sha: tree });
    assert.deepEqual(
      flat.data.tree.map((e) => e.path),
      ['lib', 'main.py'],
    );
    const deep = await octokit.rest.git.getTree({
      owner: 'me',
      repo: 'app',
      tree_sha: 'main',
      recursive: 'true',
    });
    assert.equal(deep.data.truncated, true, 'five entries over a limit of four');
    assert.equal(deep.data.tree.length, 4);
    const blobSha = git('hash-object', 'main.py');
    assert.ok(flat.data.tree.some((e) => e.sha === blobSha));
    const blob = await octokit.rest.git.getBlob({ owner: 'me', repo: 'app', file_sha: blobSha });
    assert.equal(Buffer.from(blob.data.content, 'base64').toString(), 'print("hi")\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(problems, []);
});

test('ETag: If-None-Match answers 304, free against the rate limit when authorized', async () => {
  const url = `${gh.apiUrl}/repos/me/app/releases`;
  const headers = { authorization: 'token w-token' };
  const first = await fetch(url, { headers });
  const etag = first.headers.get('etag')!;
  const remaining = Number(first.headers.get('x-ratelimit-remaining'));
  const again = await fetch(url, { headers: { ...headers, 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(Number(again.headers.get('x-ratelimit-remaining')), remaining);
  const third = await fetch(url, { headers });
  assert.equal(Number(third.headers.get('x-ratelimit-remaining')), remaining - 1);
  // Anonymous: GitHub waives 304s only for authorized requests.
  const anon = await fetch(url);
  const anonEtag = anon.headers.get('etag')!;
  const anonLeft = Number(anon.headers.get('x-ratelimit-remaining'));
  const anon304 = await fetch(url, { headers: { 'if-none-match': anonEtag } });
  assert.equal(anon304.status, 304);
  assert.equal(Number(anon304.headers.get('x-ratelimit-remaining')), anonLeft - 1);
});

test('errors: bad credentials 401, read-only token 403, missing repo 404, rate limit 403 with reset', async () => {
  const call = async (token: string, path: string, method = 'GET') => {
    const res = await fetch(`${gh.apiUrl}${path}`, {
      method,
      headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
      body: method === 'POST' ? '{"tag_name":"v9"}' : undefined,
    });
    const body = (await res.json()) as unknown;
    assert.deepEqual(checkResponse(method, path, res.status, body), []);
    return { res, body: body as { message: string; documentation_url: string } };
  };
  const bad = await call('nope', '/repos/me/app/releases/latest');
  assert.equal(bad.res.status, 401);
  assert.equal(bad.body.message, 'Bad credentials');
  assert.ok(bad.body.documentation_url);
  const ro = await call('r-token', '/repos/me/app/releases', 'POST');
  assert.equal(ro.res.status, 403);
  const missing = await call('w-token', '/repos/me/none/releases/latest');
  assert.equal(missing.res.status, 404);
  const reset = Math.floor(Date.now() / 1000) + 600;
  gh.setRateLimit(0, reset);
  const limited = await call('w-token', '/repos/me/app/releases/latest');
  assert.equal(limited.res.status, 403);
  assert.match(limited.body.message, /rate limit/);
  assert.equal(limited.res.headers.get('x-ratelimit-remaining'), '0');
  assert.equal(limited.res.headers.get('x-ratelimit-reset'), String(reset));
});

test('standalone process: prints its URLs, takes repositories and branches over HTTP', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'support', 'github-mock.ts'), '--token', 'sa', '--repo', 'me/one'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const line = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
    const urls = JSON.parse(line.value as string) as {
      apiUrl: string;
      uploadsUrl: string;
      downloadsUrl: string;
    };
    assert.equal(new Set([urls.apiUrl, urls.uploadsUrl, urls.downloadsUrl]).size, 3);
    const auth = { authorization: 'token sa' };
    assert.equal((await fetch(`${urls.apiUrl}/repos/me/one/releases`, { headers: auth })).status, 200);
    const add = await fetch(`${urls.apiUrl}/_mock/repos/me/two`, {
      method: 'POST',
      body: '{"private":true}',
    });
    assert.equal(add.status, 201);
    const files = [{ path: 'main.py', base64: Buffer.from('print(2)\n').toString('base64') }];
    const put = await fetch(`${urls.apiUrl}/_mock/repos/me/two/branches/main`, {
      method: 'PUT',
      body: JSON.stringify({ files }),
    });
    const { sha } = (await put.json()) as { sha: string };
    assert.equal((await fetch(`${urls.apiUrl}/repos/me/two/git/ref/heads/main`)).status, 404, 'private');
    const ref = await fetch(`${urls.apiUrl}/repos/me/two/git/ref/heads/main`, { headers: auth });
    assert.equal(((await ref.json()) as { object: { sha: string } }).object.sha, sha);
    const state = (await (await fetch(`${urls.apiUrl}/_mock/state`)).json()) as {
      repos: { name: string; private: boolean }[];
      requests: unknown[];
    };
    assert.deepEqual(
      state.repos.map((r) => [r.name, r.private]),
      [
        ['one', false],
        ['two', true],
      ],
    );
    assert.ok(state.requests.length >= 4);
  } finally {
    clearTimeout(timer);
    child.kill('SIGTERM');
  }
});
