// Hostile answers to the host (host-side attack review): a GitHub API, a registry and a static release
// host that answer with a body far larger than anything they should send, a token service doing the
// same, and listings that never end. Each stops with its code (doc_too_large, too_large,
// listing_too_long) naming what was too large, sends nothing on and publishes nothing half. Memory is
// measured two ways that do not depend on timing: the bytes the hostile server got out before the host
// hung up, and the peak RSS of the real `ota` process (getrusage maxRSS, written at exit) against the
// same command given a small answer in the same run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etagFetch } from '../src/core/etag-fetch';
import { OtaError } from '../src/core/errors';
import { MAX_API_ANSWER, MAX_DOCUMENT, MAX_LATEST, MAX_LISTED, PACE, readBounded } from '../src/core/pages';
import { listReleases } from '../src/core/publish/github';
import { listOciTags, MANIFEST_MEDIA, RELEASE_TYPE, TITLE } from '../src/core/publish/oci';
import { releaseChannels } from '../src/core/release-channels';
import { failsWith, ota, type Run } from './support/cli';
import { bareRelease, startGitHubMock, type GitHubMock } from './support/github-mock';

const MB = 1024 * 1024;
/** A hostile body: the server stops when the host hangs up, so only what the host reads is sent. */
const HUGE = 256 * MB;
let work: string;
let gh: GitHubMock;
let project: string;

/** The bytes each hostile answer got out before the host hung up, once it did. */
const pours: Promise<number>[] = [];
const poured = () => Promise.all(pours.splice(0));

/**
 * Answers 200 with `prefix` then padding up to `total` bytes, as fast as the host reads, and stops
 * when the host hangs up. No Content-Length: the host cannot know the size before it reads.
 */
function pour(res: ServerResponse, total: number, prefix: string, type = 'application/json'): void {
  pours.push(pouring(res, total, prefix, type));
}

async function pouring(res: ServerResponse, total: number, prefix: string, type: string): Promise<number> {
  res.writeHead(200, { 'content-type': type });
  let closed = false;
  const gone = new Promise((r) => res.once('close', r)).then(() => (closed = true));
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = prefix.length;
  res.write(prefix);
  while (!closed && sent < total) {
    if (!res.write(chunk)) await Promise.race([new Promise((r) => res.once('drain', r)), gone]);
    sent += chunk.length;
  }
  if (!closed) res.end('"}');
  return sent;
}

/** The CLI as a user runs it, and its peak RSS in bytes. */
async function otaPeak(args: string[], env: Record<string, string> = {}): Promise<Run & { rss: number }> {
  const file = join(work, `rss-${Math.random().toString(36).slice(2)}`);
  const r = await ota(args, {
    home: join(work, 'home'),
    env: { ...env, NODE_OPTIONS: `--import=${join(work, 'rss.mjs')}`, OTA_TEST_RSS: file },
    timeoutMs: 120_000,
  });
  return { ...r, rss: Number(readFileSync(file, 'utf8')) * 1024 };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-hostile-answers-'));
  mkdirSync(join(work, 'home'));
  writeFileSync(
    join(work, 'rss.mjs'),
    "import { writeFileSync } from 'node:fs';\n" +
      'process.on("exit", () => writeFileSync(process.env.OTA_TEST_RSS, String(process.resourceUsage().maxRSS)));\n',
  );
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'main.py'), 'print("app")\n');
  gh = await startGitHubMock({ token: 'ghp_x' });
});
after(async () => {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
});

function freshRepo(): void {
  gh.reset();
  gh.addRepo('me', 'app');
  gh.addRelease('me', 'app', { tag: 'v0.9.0', assets: [{ name: 'main.py', content: 'print(0)\n' }] });
}

const releasesRoute = /^\/repos\/me\/app\/releases(\?|$)/;
const count = (re: RegExp) => gh.state.requests.filter((r) => r.method === 'GET' && re.test(r.path)).length;

test('GitHub: a 256 MB release list is read to 32 MiB and no further, once, in bounded memory', async () => {
  freshRepo();
  const args = ['releases', '--repo', 'me/app', '--base-url', gh.apiUrl, '--json'];
  const base = await otaPeak(args);
  assert.equal(base.status, 0, base.stderr);
  assert.equal((JSON.parse(base.stdout) as { entries: unknown[] }).entries.length, 1);

  gh.answerNext({ method: 'GET', path: releasesRoute, answer: (_q, s) => pour(s, HUGE, '[{"pad": "') });
  const requests = count(releasesRoute);
  const r = await otaPeak(args);
  failsWith(r, 'doc_too_large', null);
  assert.match(
    r.stderr,
    /GET http:\/\/127\.0\.0\.1:\d+\/repos\/me\/app\/releases\?per_page=16: the answer is larger than 33554432 bytes/,
  );
  assert.equal(count(releasesRoute) - requests, 1, 'not retried');
  const [sent] = await poured();
  assert.ok(sent < MAX_API_ANSWER + 32 * MB, `the server got ${sent} bytes out`);
  const grew = r.rss - base.rss;
  assert.ok(grew < HUGE / 4, `peak RSS grew ${Math.round(grew / MB)} MB over a small answer's`);
  console.log(
    `# GitHub 256 MB list: ${Math.round(sent / MB)} MB sent, peak RSS +${Math.round(grew / MB)} MB`,
  );
});

test('GitHub: release pages that never end stop at the entry limit', async () => {
  freshRepo();
  let page = 0;
  gh.answerNext({
    method: 'GET',
    path: releasesRoute,
    times: 10 * MAX_LISTED,
    answer: (_req, res) => {
      page++;
      const next = `${gh.apiUrl}/repos/me/app/releases?per_page=16&page=${page + 1}`;
      const items = Array.from({ length: 16 }, (_, i) => bareRelease(page * 16 + i, `v1.${page}.${i}`));
      res.writeHead(200, { 'content-type': 'application/json', link: `<${next}>; rel="next"` });
      res.end(JSON.stringify(items));
    },
  });
  const r = await ota(['releases', '--repo', 'me/app', '--base-url', gh.apiUrl], {
    home: join(work, 'home'),
    timeoutMs: 120_000,
  });
  failsWith(r, 'listing_too_long', null);
  assert.match(
    r.stderr,
    new RegExp(`listing releases of me/app: the host lists more than ${MAX_LISTED} entries`),
  );
  assert.ok(page <= MAX_LISTED / 16 + 2, `${page} pages`);
});

test('GitHub: an answer cut off half-way is a network error, not an empty release list', async () => {
  freshRepo();
  gh.answerNext({
    method: 'GET',
    path: releasesRoute,
    answer: (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
      res.write('[{"tag_name": "v1.0.0", "pad": "' + 'x'.repeat(1000));
      setTimeout(() => res.destroy(), 50);
    },
  });
  await assert.rejects(listReleases({ repo: 'me/app', baseUrl: gh.apiUrl }), (e: unknown) => {
    assert.ok(e instanceof OtaError && e.code === 'network', String(e));
    assert.match(e.message, /releases\?per_page=16: the answer broke off after 1032 bytes/);
    return true;
  });
});

test('GitHub: a listing keeps at most a few KB of each release, whatever the host sends in its fields', async () => {
  freshRepo();
  const answer = (body: unknown) => (_q: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const huge = 'n'.repeat(2 * MB);
  gh.answerNext({
    method: 'GET',
    path: releasesRoute,
    answer: answer([
      { tag_name: 'v1.0.0', name: huge, html_url: huge, published_at: huge, draft: 'no', prerelease: 0 },
      null,
      { tag_name: 7, name: { x: 1 } },
    ]),
  });
  const list = await listReleases({ repo: 'me/app', baseUrl: gh.apiUrl });
  assert.equal(list.length, 2);
  assert.ok(JSON.stringify(list).length < 8 * 1024, 'kept small');
  assert.deepEqual(
    list.map((r) => [r.tag, r.version, r.draft, r.prerelease, r.channel]),
    [
      ['v1.0.0', '1.0.0', false, false, 'stable'],
      ['', undefined, false, false, undefined],
    ],
  );
  gh.answerNext({ method: 'GET', path: releasesRoute, answer: answer({ releases: [] }) });
  await assert.rejects(
    listReleases({ repo: 'me/app', baseUrl: gh.apiUrl }),
    (e: unknown) => e instanceof OtaError && e.code === 'github_error' && /not a list/.test(e.message),
  );
});

test('GitHub upload retry: an endless or 256 MB asset list stops the publish, and the draft goes', async () => {
  for (const [what, answer, code, re] of [
    [
      'pages that never end',
      (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', gh.apiUrl);
        const page = Number(url.searchParams.get('page') ?? 1);
        url.searchParams.set('page', String(page + 1));
        res.writeHead(200, { 'content-type': 'application/json', link: `<${url.href}>; rel="next"` });
        res.end(
          JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ id: page * 100 + i, name: `x${i}` }))),
        );
      },
      'listing_too_long',
      /listing the assets of the draft release in me\/app: the host lists more than \d+ entries/,
    ],
    [
      'one 256 MB answer',
      (_req: IncomingMessage, res: ServerResponse) => pour(res, HUGE, '[{"pad": "'),
      // A draft's asset listing may read 8 MiB in all (LISTINGS.assets), under one answer's 32 MiB.
      'listing_too_long',
      /listing the assets of the draft release in me\/app: the host's pages add up to more than 8 MiB/,
    ],
  ] as const) {
    freshRepo();
    // The first upload fails as GitHub's do (a 500 and a half asset kept): the retry lists the draft's assets.
    gh.failNext({ origin: 'uploads', status: 500 });
    gh.answerNext({ method: 'GET', path: /\/releases\/\d+\/assets\?/, times: 1000, answer });
    const r = await otaPeak(
      [
        'publish',
        project,
        '--target',
        'github',
        '--repo',
        'me/app',
        '--base-url',
        gh.apiUrl,
        '--version',
        '1.0.0',
      ],
      { GITHUB_TOKEN: 'ghp_x' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.split('\n')[0], new RegExp(`\\[${code}\\]$`), what);
    assert.match(r.stderr, re, what);
    // Nothing half-published: the draft is deleted, the release that was there is as it was.
    const releases = gh.state.repos.get('me/app')!.releases;
    assert.deepEqual(
      releases.map((x) => [x.tag, x.draft, x.assets.map((a) => a.content.toString())]),
      [['v0.9.0', false, ['print(0)\n']]],
      what,
    );
    for (const n of await poured()) assert.ok(n < MAX_API_ANSWER + 32 * MB, `${what}: ${n} bytes sent`);
  }
});

// --- a hostile registry (plain HTTP on 127.0.0.1, as the OCI client allows for a loopback host) ---

type RegistryMode = 'small' | 'token' | 'manifest' | 'blob' | 'declared' | 'tags' | 'longtags';
let mode: RegistryMode = 'small';
let registry: Server;
let regHost: string;
let blobRequests = 0;

function release(size: number) {
  const digest = `sha256:${'0'.repeat(64)}`;
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA,
    artifactType: RELEASE_TYPE,
    layers: [{ mediaType: 'application/json', digest, size, annotations: { [TITLE]: 'manifest.json' } }],
  });
}

before(async () => {
  registry = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/token') return pour(res, HUGE, '{"token": "');
    if (mode === 'token' && !req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${regHost}/token",service="r"` });
      return void res.end();
    }
    if (url.pathname.includes('/tags/list') && mode === 'longtags') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ tags: ['1.0.0', 'x'.repeat(MB), 7, null, 'a'.repeat(129)] }));
    }
    if (url.pathname.includes('/tags/list')) return pour(res, HUGE, '{"tags": ["1.0.0"], "pad": "');
    if (url.pathname.includes('/blobs/')) {
      blobRequests++;
      return pour(res, HUGE, '{"pad": "');
    }
    if (mode === 'small') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end('{"errors": [{"code": "MANIFEST_UNKNOWN"}]}');
    }
    if (mode === 'manifest') return pour(res, HUGE, '{"pad": "', MANIFEST_MEDIA);
    res.writeHead(200, { 'content-type': MANIFEST_MEDIA });
    res.end(release(mode === 'declared' ? 2 ** 40 : 300));
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  regHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => registry.close(() => r())));

test('registry: a 256 MB token, manifest or blob, and a blob declared at 1 TB, each stop ota verify --ref in bounded memory', async () => {
  const verify = () => otaPeak(['verify', '--ref', `${regHost}/me/app:stable`, project]);
  mode = 'small';
  const base = await verify();
  failsWith(base, 'not_found', null);
  const CASES: [RegistryMode, code: string, re: RegExp][] = [
    [
      'token',
      'doc_too_large',
      /the token from http:\/\/127\.0\.0\.1:\d+: the answer is larger than 4194304 bytes/,
    ],
    [
      'manifest',
      'doc_too_large',
      /reading 127\.0\.0\.1:\d+\/me\/app:stable: the answer is larger than 4194304 bytes/,
    ],
    ['blob', 'too_large', /reading blob sha256:0+: the host sends more than the 300 bytes declared/],
    [
      'declared',
      'doc_too_large',
      /reading blob sha256:0+: its layer declares 1099511627776 bytes, over 4194304/,
    ],
  ];
  for (const [m, code, re] of CASES) {
    mode = m;
    blobRequests = 0;
    const r = await verify();
    assert.equal(r.status, 1, `${m}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], new RegExp(`\\[${code}\\]$`), m);
    assert.match(r.stderr, re, m);
    if (m === 'declared') assert.equal(blobRequests, 0, 'a blob declared too large is not asked for');
    for (const n of await poured())
      assert.ok(n < MAX_DOCUMENT + 16 * MB, `${m}: the server got ${n} bytes out`);
    const grew = r.rss - base.rss;
    assert.ok(grew < HUGE / 4, `${m}: peak RSS grew ${Math.round(grew / MB)} MB over a small answer's`);
    console.log(`# registry ${m}: peak RSS +${Math.round(grew / MB)} MB`);
  }
});

test("registry: a 256 MB tag list stops the Releases view's listing with doc_too_large", async () => {
  mode = 'tags';
  await assert.rejects(listOciTags({ ref: `${regHost}/me/app` }), (e: unknown) => {
    assert.ok(e instanceof OtaError && e.code === 'doc_too_large', String(e));
    assert.match(
      e.message,
      /^listing the tags of 127\.0\.0\.1:\d+\/me\/app.*: the answer is larger than 4194304 bytes/,
    );
    return true;
  });
  for (const n of await poured()) assert.ok(n < MAX_DOCUMENT + 16 * MB, `${n} bytes sent`);
  // Tags longer than the distribution spec's 128 characters, or not strings, are not kept.
  mode = 'longtags';
  assert.deepEqual(
    (await listOciTags({ ref: `${regHost}/me/app` })).map((x) => x.tag),
    ['1.0.0'],
  );
});

// --- a hostile static release host ---

test('static host: a 256 MB latest.json stops ota releases at the 16 KB a board reads, and the Releases view through its ETag cache', async () => {
  let huge = false;
  const site = createServer((_req, res) => {
    if (!huge) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"version": "1.0.0", "manifest": "1.0.0/manifest.json"}');
    }
    res.setHeader('etag', '"e1"');
    pour(res, HUGE, '{"version": "1.0.0", "pad": "');
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  try {
    const base = await otaPeak(['releases', '--url', url, '--json']);
    assert.equal(base.status, 0, base.stderr);
    huge = true;
    const r = await otaPeak(['releases', '--url', url]);
    failsWith(r, 'doc_too_large', null);
    assert.match(r.stderr, new RegExp(`${url}/latest.json: the answer is larger than ${MAX_LATEST} bytes`));
    const grew = r.rss - base.rss;
    assert.ok(grew < HUGE / 4, `peak RSS grew ${Math.round(grew / MB)} MB`);
    console.log(`# static host: peak RSS +${Math.round(grew / MB)} MB`);
    // The editor's path keeps answers with an ETag for revalidation: bounded there too.
    for (const n of await poured()) assert.ok(n < MAX_LATEST + 16 * MB, `the server got ${n} bytes out`);
    const viaCache = await releaseChannels({ source: 'static', url, fetch: etagFetch().fetch });
    assert.equal(viaCache.state, 'error');
    assert.equal(viaCache.state === 'error' && viaCache.code, 'doc_too_large');
    for (const n of await poured()) assert.ok(n < MAX_API_ANSWER + 32 * MB, `the server got ${n} bytes out`);
  } finally {
    await new Promise<void>((r) => site.close(() => r()));
  }
});

test('a host dripping its answer is cut off once it falls below the pace every reader keeps', async () => {
  let closed!: Promise<unknown>;
  const drip = createServer((_req, res) => {
    closed = new Promise((r) => res.once('close', r));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"version": "');
    const timer = setInterval(() => res.write('1'), 100);
    res.once('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => drip.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(drip.address() as AddressInfo).port}/latest.json`;
  try {
    // The rule's shape with a short grace (the real one, PACE, gives 30 s): 10 bytes/s is below 1 KB/s.
    assert.ok(PACE.graceMs >= 10_000 && PACE.bytesPerSecond >= 1024);
    const pace = { graceMs: 300, bytesPerSecond: 1024 };
    await assert.rejects(
      readBounded(await fetch(url), url, MAX_LATEST, 'doc_too_large', pace),
      (e: unknown) => {
        assert.ok(e instanceof OtaError && e.code === 'timeout', String(e));
        assert.match(e.message, /latest\.json: the answer comes slower than 1 KB\/s after 0\.3 s; stopped/);
        return true;
      },
    );
    await closed; // the host hung up
  } finally {
    drip.closeAllConnections();
    await new Promise<void>((r) => drip.close(() => r()));
  }
});
