// Every credential the host holds reaches only the origin it belongs to, whatever a hostile or
// misconfigured GitHub answers (src/core/credential-origins.ts): a `Link` page, a draft's
// `upload_url`, an asset's `url` or a redirect naming another origin, a token over plain HTTP. Real
// Octokit against the GitHub mock; "another origin" is a second server on 127.0.0.1 that logs every
// request it gets and the Authorization it carried. Each hole ends in its own code and loses nothing
// (a draft is deleted, an old rollout.json stays). The OCI registry and the broker: -oci.test.ts.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { githubScope, githubUploadScope, keepToken, keptToken } from '../src/core/credential-origins';
import { etagFetch } from '../src/core/etag-fetch';
import { isLoopbackHost } from '../src/core/local-host';
import { OtaError } from '../src/core/errors';
import { publishRolloutAsset, releaseExists } from '../src/core/fleet/release';
import { createOctokit, listReleases, publishGitHub } from '../src/core/publish/github';
import { releaseChannels } from '../src/core/release-channels';
import { ota } from './support/cli';
import { elsewhere, type Elsewhere } from './support/elsewhere';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { makePki, trustingFetch } from './support/pki';
import { missingService } from './support/service';

const TOKEN = 'ghp_secret_of_the_user';

const code = (c: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OtaError, `not an OtaError: ${String(err)}`);
  assert.equal(err.code, c, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

let work: string;
let project: string;
let gh: GitHubMock;
let evil: Elsewhere;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-host-creds-'));
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'main.py'), 'print("app")\n');
  gh = await startGitHubMock({ token: TOKEN });
  gh.addRepo('me', 'app', { private: false });
  evil = await elsewhere();
});

after(async () => {
  await gh.close();
  await evil.close();
  rmSync(work, { recursive: true, force: true });
});

afterEach(() => {
  gh.reset();
  gh.addRepo('me', 'app', { private: false });
  evil.got.length = 0;
  evil.answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('[]');
  };
});

const conn = (extra: Record<string, unknown> = {}) => ({
  repo: 'me/app',
  token: TOKEN,
  baseUrl: gh.apiUrl,
  ...extra,
});

const publish = (extra: Record<string, unknown> = {}) =>
  publishGitHub({ dir: project, version: '1.0.0', retryDelayMs: 1, ...conn(), ...extra });

/** The requests that carried the user's token, by origin. */
const withToken = () =>
  gh.state.requests.filter((r) => String(r.headers.authorization ?? '').includes(TOKEN));

test('the rule: a GitHub token goes to the API origin and its uploads origin only', () => {
  const com = githubScope('https://api.github.com');
  assert.ok(com.allows('https://api.github.com/repos/a/b/releases?page=2'));
  assert.ok(com.allows('https://uploads.github.com/repos/a/b/releases/1/assets?name=x'));
  for (const other of [
    'http://api.github.com/repos', // cleartext: another origin
    'https://api.github.com:8443/repos',
    'https://uploads.github.com.evil.example/x',
    'https://evil.example/api.github.com/x',
    'https://github.com/a/b/releases',
    'https://objects.githubusercontent.com/x', // where asset downloads land: never with the token
    'not a url',
  ])
    assert.ok(!com.allows(other), other);
  // GitHub Enterprise Server: uploads under /api/uploads of its own origin.
  const ghes = githubScope('https://ghe.corp.example/api/v3');
  assert.ok(ghes.allows('https://ghe.corp.example/api/uploads/repos/a/b/releases/1/assets'));
  assert.ok(!ghes.allows('https://uploads.ghe.corp.example/x'));
  // GitHub Enterprise Cloud with data residency: api.NAME.ghe.com and uploads.NAME.ghe.com.
  assert.ok(githubScope('https://api.acme.ghe.com').allows('https://uploads.acme.ghe.com/x'));
  // A release's upload_url: the API's uploads origin; for a local stand-in (the mock), another port
  // of the same loopback host and scheme. Page links and redirects get no such latitude.
  const named = 'the upload_url';
  assert.ok(
    githubUploadScope('https://api.github.com', 'https://uploads.github.com/r/1/assets{?name}', named),
  );
  for (const [root, up] of [
    ['https://api.github.com', 'https://uploads.github.com.evil.example/r/1/assets{?name}'],
    ['https://api.github.com', 'http://uploads.github.com/r/1/assets'],
    ['https://ghe.corp.example/api/v3', 'https://uploads.ghe.corp.example/r/1/assets'],
    ['http://127.0.0.1:4000', 'https://127.0.0.1:4001/r'],
    ['http://127.0.0.1:4000', 'http://localhost:4001/r'],
    ['http://127.0.0.1:4000', 'http://10.0.0.1:4001/r'],
    ['https://api.github.com', '{?name}'],
  ])
    assert.throws(() => githubUploadScope(root, up, named), code('foreign_origin'), `${root} ${up}`);
  const local = githubUploadScope('http://127.0.0.1:4000', 'http://127.0.0.1:4001/r/1/assets{?name}', named);
  assert.ok(local.allows('http://127.0.0.1:4001/r/1/assets?name=x'));
  assert.ok(!local.allows('http://127.0.0.1:4002/x'), 'that one port only');
  assert.ok(!githubScope('http://127.0.0.1:4000').allows('http://127.0.0.1:4001/x'), 'a Link gets none');
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.1', '[::2]'])
    assert.ok(!isLoopbackHost(h), h);
});

test("the editor's stored token goes back to the API root it was set for, and no other", () => {
  const kept = keepToken(TOKEN, 'https://ghe.corp.example/api/v3/');
  assert.equal(keptToken(kept, 'https://ghe.corp.example/api/v3'), TOKEN);
  assert.equal(keptToken(kept, 'https://GHE.corp.example:443/api/v3'), TOKEN);
  for (const other of [
    'https://api.github.com',
    'https://ghe.corp.example',
    'https://ghe.corp.example/api/v3/../../evil',
    'http://ghe.corp.example/api/v3',
    'https://evil.example/api/v3',
  ])
    assert.equal(keptToken(kept, other), undefined, other);
  // One kept before the rule (the bare token): github.com's only.
  assert.equal(keptToken(TOKEN, 'https://api.github.com'), TOKEN);
  assert.equal(keptToken(TOKEN, 'https://ghe.corp.example/api/v3'), undefined);
  for (const broken of ['{"api":1,"token":"x"}', 'null', '{}', undefined])
    assert.equal(keptToken(broken, 'https://api.github.com'), undefined, String(broken));
});

test("Node's own fetch: what it does with Authorization on a redirect (the host no longer relies on it)", async () => {
  const api = await elsewhere();
  try {
    api.answer = (req, res) => {
      res.writeHead(302, { location: req.url === '/same' ? '/landed' : `${evil.url}/cdn` });
      res.end();
    };
    await (await fetch(`${api.url}/other`, { headers: { authorization: `token ${TOKEN}` } })).text();
    // Node 20's undici drops Authorization on a cross-origin redirect (another port is another origin)...
    assert.deepEqual(evil.got, [{ method: 'GET', path: '/cdn', authorization: undefined }]);
    api.answer = (req, res) => {
      if (req.url === '/landed') return void res.end('[]');
      res.writeHead(307, { location: '/landed' });
      res.end();
    };
    await (await fetch(`${api.url}/same`, { headers: { authorization: `token ${TOKEN}` } })).text();
    // ...and keeps it on a same-origin one.
    assert.deepEqual(
      api.got.slice(-2).map((g) => g.authorization),
      [`token ${TOKEN}`, `token ${TOKEN}`],
    );
  } finally {
    await api.close();
  }
});

test('a Link "next" page on another origin: refused before the token goes there (CLI, editor cache)', async () => {
  gh.addRelease('me', 'app', { tag: 'v1.0.0' });
  for (const fetch of [undefined, etagFetch().fetch]) {
    gh.rewriteNext({
      method: 'GET',
      path: /\/repos\/me\/app\/releases\?/,
      rewrite: (_body, h) => (h.link = `<${evil.url}/repos/me/app/releases?page=2>; rel="next"`),
    });
    await assert.rejects(
      listReleases(conn({ fetch })),
      code('foreign_origin', new RegExp(`${evil.url}.*not where the GitHub token for ${gh.apiUrl}`)),
    );
    assert.deepEqual(evil.got, [], 'nothing reached the other origin');
  }
  // The editor's Releases view says so rather than listing half.
  gh.rewriteNext({
    method: 'GET',
    path: /\/repos\/me\/app\/releases\?/,
    rewrite: (_body, h) => (h.link = `<${evil.url}/repos/me/app/releases?page=2>; rel="next"`),
  });
  const view = await releaseChannels({ source: 'github', repo: 'me/app', apiUrl: gh.apiUrl, token: TOKEN });
  assert.equal(view.state, 'error');
  assert.equal(view.state === 'error' && view.code, 'foreign_origin');
  assert.deepEqual(evil.got, []);
});

test('without a token, a page on another origin is only a page: read there, no credential sent', async () => {
  gh.addRelease('me', 'app', { tag: 'v1.0.0' });
  gh.rewriteNext({
    method: 'GET',
    path: /\/repos\/me\/app\/releases\?/,
    rewrite: (_body, h) => (h.link = `<${evil.url}/page2>; rel="next"`),
  });
  const list = await listReleases(conn({ token: undefined }));
  assert.deepEqual(
    list.map((r) => r.tag),
    ['v1.0.0'],
  );
  assert.deepEqual(evil.got, [{ method: 'GET', path: '/page2', authorization: undefined }]);
});

test('a draft whose upload_url names another host: nothing uploaded anywhere, the draft deleted', async (t) => {
  // Another host, though on this machine: the mock's own uploads port is the only other one allowed.
  const other = await elsewhere('localhost');
  t.after(() => other.close());
  gh.rewriteNext({
    method: 'POST',
    path: /\/repos\/me\/app\/releases$/,
    rewrite: (body) => {
      (body as { upload_url: string }).upload_url =
        `${other.url}/repos/me/app/releases/1/assets{?name,label}`;
    },
  });
  await assert.rejects(
    publish(),
    code('foreign_origin', /the draft's upload_url leads to http:\/\/localhost:/),
  );
  assert.deepEqual(other.got, []);
  assert.equal(gh.state.requests.filter((r) => r.origin === 'uploads').length, 0, 'no upload at all');
  assert.deepEqual(gh.state.repos.get('me/app')!.releases, [], 'the draft is gone');
  assert.ok(gh.state.requests.some((r) => r.method === 'DELETE' && /\/releases\/\d+$/.test(r.path)));
  // A draft that cannot be deleted is named, so the user can delete it.
  gh.rewriteNext({
    method: 'POST',
    path: /\/repos\/me\/app\/releases$/,
    rewrite: (body) => {
      (body as { upload_url: string }).upload_url = `${other.url}/up{?name,label}`;
    },
  });
  gh.failNext({ method: 'DELETE', path: /\/releases\/\d+$/, status: 403 });
  await assert.rejects(
    publish(),
    code(
      'foreign_origin',
      /the draft release \d+ \(never visible to boards\) could not be deleted: delete it on GitHub/,
    ),
  );
  const left = gh.state.repos.get('me/app')!.releases;
  assert.deepEqual(
    left.map((r) => r.draft),
    [true],
  );
  left.length = 0;
  // And a publish after it goes through, to GitHub's own hosts only.
  const ok = await publish();
  assert.equal(ok.tag, 'v1.0.0');
  assert.deepEqual([...new Set(withToken().map((r) => r.origin))].sort(), ['api', 'uploads']);
});

test('an uploaded asset whose url names another origin: not retried, not published, draft deleted', async () => {
  gh.rewriteNext({
    origin: 'uploads',
    path: /name=manifest\.json(&|$)/,
    rewrite: (body) => {
      (body as { url: string }).url = `${evil.url}/repos/me/app/releases/assets/1`;
    },
  });
  await assert.rejects(
    publish({ concurrency: 1 }),
    code('foreign_origin', /the API URL GitHub gave manifest\.json leads to/),
  );
  const uploads = gh.state.requests.filter((r) => r.origin === 'uploads');
  assert.equal(uploads.length, 1, 'one upload, no retry, none after it');
  assert.deepEqual(evil.got, []);
  assert.deepEqual(gh.state.repos.get('me/app')!.releases, []);
});

test('an API GET redirected to another origin goes there without the token (a CDN); a write is refused', async () => {
  gh.addRelease('me', 'app', { tag: 'v1.0.0' });
  gh.answerNext({
    method: 'GET',
    path: /\/repos\/me\/app\/releases\?/,
    answer: (_req, res) => {
      res.writeHead(302, { location: `${evil.url}/moved` });
      res.end();
    },
  });
  assert.deepEqual(await listReleases(conn()), []);
  assert.deepEqual(evil.got, [{ method: 'GET', path: '/moved', authorization: undefined }]);

  evil.got.length = 0;
  gh.answerNext({
    method: 'POST',
    path: /\/repos\/me\/app\/releases$/,
    answer: (_req, res) => {
      res.writeHead(307, { location: `${evil.url}/repos/me/app/releases` });
      res.end();
    },
  });
  await assert.rejects(publish({ version: '1.1.0' }), code('foreign_origin', /the redirect of POST/));
  assert.deepEqual(evil.got, [], 'the release notes and the token stay home');
  assert.deepEqual(
    gh.state.repos.get('me/app')!.releases.map((r) => r.tag),
    ['v1.0.0'],
  );
});

test("an asset download: the API's 302 to the storage host is followed without the token", async () => {
  const rel = gh.addRelease('me', 'app', {
    tag: 'v1.0.0',
    assets: [{ name: 'main.py', content: 'print(1)\n' }],
  });
  const client = createOctokit({ token: TOKEN, baseUrl: gh.apiUrl });
  const res = await client.rest.repos.getReleaseAsset({
    owner: 'me',
    repo: 'app',
    asset_id: rel.assets[0].id,
    headers: { accept: 'application/octet-stream' },
  });
  assert.equal(Buffer.from(res.data as unknown as ArrayBuffer).toString(), 'print(1)\n');
  // The storage host answers 400 to a request with Authorization (as GitHub's does): it got none.
  const hops = gh.state.requests.map((r) => [r.origin, r.status, Boolean(r.headers.authorization)]);
  assert.deepEqual(hops, [
    ['api', 302, true],
    ['downloads', 200, false],
  ]);
});

test('a same-origin redirect keeps the token (a renamed repository), and loops end', async () => {
  gh.addRelease('me', 'app', { tag: 'v1.0.0' });
  gh.answerNext({
    method: 'GET',
    path: /\/repos\/old\/app\/releases\?/,
    answer: (req, res) => {
      res.writeHead(301, { location: req.url!.replace('/repos/old/app/', '/repos/me/app/') });
      res.end();
    },
  });
  const list = await listReleases(conn({ repo: 'old/app' }));
  assert.deepEqual(
    list.map((r) => r.tag),
    ['v1.0.0'],
  );
  const hops = gh.state.requests.filter((r) => r.method === 'GET');
  assert.ok(hops.every((r) => r.headers.authorization === `token ${TOKEN}`));

  gh.answerNext({
    method: 'GET',
    path: /\/releases\?/,
    times: 100,
    answer: (req, res) => {
      res.writeHead(302, { location: req.url! });
      res.end();
    },
  });
  await assert.rejects(listReleases(conn()), code('too_many_redirects'));
});

test('a token over plain HTTP leaves this machine never: refused before any request', async () => {
  let sent = 0;
  const counting: typeof fetch = (input, init) => {
    sent++;
    return fetch(input, init);
  };
  for (const baseUrl of ['http://ghe.corp.example/api/v3', 'http://api.github.com']) {
    await assert.rejects(
      listReleases(conn({ baseUrl, fetch: counting })),
      code('token_unverified', /over TLS only, or to this machine/),
    );
    await assert.rejects(publish({ baseUrl, fetch: counting }), code('token_unverified'));
  }
  assert.equal(sent, 0);
  // Anonymous reads over plain HTTP carry no secret: they go (and fail here on the unknown host).
  await assert.rejects(
    listReleases(conn({ baseUrl: 'http://ghe.corp.example/api/v3', token: undefined, fetch: counting })),
    code('network'),
  );
  assert.ok(sent > 0);
});

test('fleet: the release check and rollout.json keep the token on GitHub, and a refused upload keeps the old rollout.json', async (t) => {
  gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: [{ name: 'rollout.json', content: '{"old":1}' }] });
  const host = { repo: 'me/app', token: TOKEN, apiUrl: gh.apiUrl };
  gh.answerNext({
    method: 'GET',
    path: /\/releases\/tags\/v1\.0\.0$/,
    answer: (_req, res) => {
      res.writeHead(302, { location: `${evil.url}/tags` });
      res.end();
    },
  });
  evil.answer = (_req, res) => {
    res.writeHead(404);
    res.end();
  };
  assert.equal(await releaseExists(host, '1.0.0'), false);
  assert.deepEqual(evil.got, [{ method: 'GET', path: '/tags', authorization: undefined }]);
  await assert.rejects(
    releaseExists({ ...host, apiUrl: 'http://ghe.corp.example/api/v3' }, '1.0.0'),
    code('token_unverified'),
  );

  const other = await elsewhere('localhost');
  t.after(() => other.close());
  gh.rewriteNext({
    method: 'GET',
    path: /\/releases\/tags\/v1\.0\.0$/,
    rewrite: (body) => {
      (body as { upload_url: string }).upload_url = `${other.url}/up{?name,label}`;
    },
  });
  await assert.rejects(
    publishRolloutAsset(host, '1.0.0', Buffer.from('{"new":1}')),
    code('foreign_origin', /upload_url of release v1\.0\.0/),
  );
  assert.deepEqual(other.got, []);
  const assets = gh.state.repos.get('me/app')!.releases[0].assets;
  assert.deepEqual(
    assets.map((a) => [a.name, a.content.toString()]),
    [['rollout.json', '{"old":1}']],
    'the old rollout.json is still there',
  );
  await publishRolloutAsset(host, '1.0.0', Buffer.from('{"new":1}'));
  assert.equal(gh.state.repos.get('me/app')!.releases[0].assets[0].content.toString(), '{"new":1}');
});

const noOpenssl = missingService(['openssl']);
if (noOpenssl) console.log(`# skipped: ${noOpenssl}`);

test(
  'over TLS: a redirect to http:// is refused (redirect_downgrade), an http:// upload_url too',
  { skip: noOpenssl },
  async (t) => {
    const pki = makePki(mkdtempSync(join(work, 'pki-')));
    const tls = await startGitHubMock({ token: TOKEN, tls: pki.server });
    t.after(() => tls.close());
    tls.addRepo('me', 'app', { private: false });
    const over = { repo: 'me/app', token: TOKEN, baseUrl: tls.apiUrl, fetch: trustingFetch(pki.ca.cert) };
    tls.answerNext({
      method: 'GET',
      path: /\/releases\?/,
      answer: (_req, res) => {
        res.writeHead(302, { location: `${evil.url}/plain` });
        res.end();
      },
    });
    await assert.rejects(
      listReleases(over),
      code('redirect_downgrade', /redirected to http:\/\/127\.0\.0\.1/),
    );
    tls.rewriteNext({
      method: 'POST',
      path: /\/repos\/me\/app\/releases$/,
      rewrite: (body) => {
        const b = body as { upload_url: string };
        b.upload_url = b.upload_url.replace('https:', 'http:');
      },
    });
    await assert.rejects(
      publishGitHub({ dir: project, version: '1.0.0', retryDelayMs: 1, ...over }),
      code('foreign_origin', /upload_url leads to http:\/\/127\.0\.0\.1/),
    );
    assert.deepEqual(evil.got, []);
    assert.deepEqual(tls.state.repos.get('me/app')!.releases, [], 'the draft is gone');
    // The mock's own https uploads port is the release's upload host.
    const ok = await publishGitHub({ dir: project, version: '1.0.0', retryDelayMs: 1, ...over });
    assert.equal(ok.tag, 'v1.0.0');
  },
);

test('the CLI says so: `ota releases` and `ota publish` stop with the code, the token sent nowhere else', async () => {
  const home = mkdtempSync(join(work, 'home-'));
  gh.addRelease('me', 'app', { tag: 'v1.0.0' });
  gh.rewriteNext({
    method: 'GET',
    path: /\/repos\/me\/app\/releases\?/,
    rewrite: (_body, h) => (h.link = `<${evil.url}/repos/me/app/releases?page=2>; rel="next"`),
  });
  const listed = await ota(['releases', '--repo', 'me/app', '--base-url', gh.apiUrl], {
    home,
    env: { GITHUB_TOKEN: TOKEN },
  });
  assert.equal(listed.status, 1, listed.stderr);
  assert.match(
    listed.stderr,
    /^ota: .*leads to http:\/\/127\.0\.0\.1:\d+, which is not where .* \[foreign_origin\]$/m,
  );
  assert.match(listed.stderr, /^ {2}fix: no credential was sent: check that --url, --repo or --ref names/m);
  assert.deepEqual(evil.got, []);

  const plain = await ota(
    ['publish', project, '--target', 'github', '--version', '1.0.1', '--repo', 'me/app'],
    {
      home,
      env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: 'http://ghe.corp.example/api/v3' },
    },
  );
  assert.equal(plain.status, 1, plain.stderr);
  assert.match(plain.stderr, /^ota: .*over TLS only, or to this machine.* \[token_unverified\]$/m);
  assert.match(plain.stderr, /^ {2}fix: use an https:\/\/ address/m);
  assert.doesNotMatch(plain.stderr + plain.stdout, new RegExp(TOKEN));
});
