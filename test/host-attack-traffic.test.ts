// Hostile listings against the host's traffic (host-side attack review): every page under its own
// answer limit, but pages that never end. Each listing (GitHub's releases, the upload retry's listing of
// a draft's assets, a registry's tag list with its Link pagination) stops with 'listing_too_long' at its
// budget of bytes or pages in all (LISTINGS in src/core/pages.ts), counted here as the bytes the hostile
// server got out, and nothing is published half. Real Octokit, the real registry client and the real
// `ota` against hostile servers on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { etagFetch, MAX_CACHED } from '../src/core/etag-fetch';
import { LISTINGS, MAX_API_ANSWER, MAX_DOCUMENT } from '../src/core/pages';
import { listReleases } from '../src/core/publish/github';
import { listOciTags } from '../src/core/publish/oci';
import { releaseChannels } from '../src/core/release-channels';
import { ota } from './support/cli';
import { bareRelease, startGitHubMock, type GitHubMock } from './support/github-mock';

const MiB = 1024 * 1024;

/** The bytes each page got out before the host hung up or took it whole. */
let sent: number[] = [];
const total = () => sent.reduce((a, b) => a + b, 0);

/**
 * Answers one page: `head`, then `pad` bytes of JSON whitespace (or of a string's inside, when `tail`
 * closes one), then `tail`, as fast as the host reads; stops when the host hangs up.
 */
async function page(
  res: ServerResponse,
  head: string,
  pad: number,
  tail: string,
  link?: string,
  etag?: string,
) {
  const i = sent.push(0) - 1;
  res.writeHead(200, {
    'content-type': 'application/json',
    ...(link ? { link } : {}),
    ...(etag ? { etag } : {}),
  });
  let closed = false;
  const gone = new Promise((r) => res.once('close', r)).then(() => (closed = true));
  const chunk = Buffer.alloc(64 * 1024, tail.startsWith('"') ? 'x' : ' ');
  const write = async (b: Buffer | string) => {
    if (closed) return;
    sent[i] += b.length;
    if (!res.write(b)) await Promise.race([new Promise((r) => res.once('drain', r)), gone]);
  };
  await write(head);
  for (let n = 0; n < pad && !closed; n += chunk.length) await write(chunk.subarray(0, pad - n));
  if (!closed) {
    sent[i] += tail.length;
    res.end(tail);
  }
}

let server: Server;
let base: string;
let answer: (req: IncomingMessage, res: ServerResponse, url: URL) => void;
let requests = 0;

before(async () => {
  server = createServer((req, res) => {
    requests++;
    answer(req, res, new URL(req.url ?? '/', base));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const nextPage = (url: URL, param: string) => {
  const next = new URL(url);
  next.searchParams.set(param, String(Number(url.searchParams.get(param) ?? 1) + 1));
  return next;
};

test('GitHub: release pages of 30 MiB each, never ending, stop at the 256 MiB a listing may read in all', async () => {
  const budget = LISTINGS.releases.bytes;
  const size = 30 * MiB;
  assert.ok(size < MAX_API_ANSWER, 'every page is under the one-answer limit');
  sent = [];
  requests = 0;
  answer = (_req, res, url) => {
    const n = Number(url.searchParams.get('page') ?? 1);
    const head = '[' + JSON.stringify(bareRelease(n, `v1.0.${n}`));
    void page(res, head, size - head.length - 1, ']', `<${nextPage(url, 'page').href}>; rel="next"`);
  };
  await assert.rejects(listReleases({ repo: 'me/app', baseUrl: base }), (e: unknown) => {
    assert.ok(e instanceof OtaError && e.code === 'listing_too_long', String(e));
    assert.match(
      e.message,
      /^listing releases of me\/app: the host's pages add up to more than 256 MiB \(268435456 bytes, 9 pages\); stopped$/,
    );
    return true;
  });
  await new Promise((r) => setTimeout(r, 100)); // the last page's writer sees the hang-up
  const out = total();
  console.log(`# GitHub endless 30 MiB pages: ${requests} requests, ${(out / MiB).toFixed(1)} MiB sent`);
  assert.equal(requests, Math.ceil(budget / size));
  assert.ok(out >= budget && out < budget + 16 * MiB, `the server got ${out} bytes out`);
});

test("the editor's Releases view through its ETag cache: the listing stops at its budget, the cache keeps at most 64 MiB", async () => {
  const size = 30 * MiB;
  const cache = etagFetch();
  for (const round of [1, 2]) {
    sent = [];
    requests = 0;
    // Every check names new pages, each with an ETag the cache would keep.
    answer = (_req, res, url) => {
      const n = Number(url.searchParams.get('page') ?? 1);
      const next = nextPage(url, 'page');
      next.searchParams.set('round', String(round));
      const head = '[' + JSON.stringify(bareRelease(n, `v1.0.${n}`));
      void page(res, head, size - head.length - 1, ']', `<${next.href}>; rel="next"`, `"r${round}p${n}"`);
    };
    const r = await releaseChannels({ source: 'github', repo: 'me/app', apiUrl: base, fetch: cache.fetch });
    assert.equal(r.state, 'error', JSON.stringify(r).slice(0, 300));
    assert.equal(r.state === 'error' && r.code, 'listing_too_long');
    await new Promise((res) => setTimeout(res, 100));
    // The cache reads an answer whole before the listing counts it: one answer over the budget at most.
    assert.ok(total() < LISTINGS.releases.bytes + MAX_API_ANSWER + 16 * MiB, `${total()} bytes sent`);
    assert.ok(cache.cachedBytes <= MAX_CACHED, `round ${round}: ${cache.cachedBytes} bytes cached`);
    assert.ok(cache.cachedBytes >= 2 * size, 'the last pages are kept');
  }
});

test('GitHub: empty release pages that never end stop at the page limit', async () => {
  sent = [];
  requests = 0;
  answer = (_req, res, url) => void page(res, '[', 0, ']', `<${nextPage(url, 'page').href}>; rel="next"`);
  await assert.rejects(listReleases({ repo: 'me/app', baseUrl: base }), (e: unknown) => {
    assert.ok(e instanceof OtaError && e.code === 'listing_too_long', String(e));
    assert.match(
      e.message,
      /^listing releases of me\/app: the host's listing goes on past 640 pages; stopped$/,
    );
    return true;
  });
  // One more request is made, its body never read.
  assert.equal(requests, LISTINGS.releases.pages + 1);
});

test('registry: tag pages of 3 MiB each, never ending, stop at the 8 MiB a tag listing may read', async () => {
  const size = 3 * MiB;
  assert.ok(size < MAX_DOCUMENT);
  for (const [what, pages, reason] of [
    [
      '3 MiB pages',
      (n: number) => size - 40 - String(n).length,
      /pages add up to more than 8 MiB \(8388608 bytes, 3 pages\)/,
    ],
    ['empty pages', () => 0, /listing goes on past 640 pages/],
  ] as const) {
    sent = [];
    requests = 0;
    answer = (_req, res, url) => {
      const n = Number(url.searchParams.get('last') ?? 0);
      const link = `</v2/me/app/tags/list?n=1000&last=${n + 1}>; rel="next"`;
      const pad = pages(n);
      void page(res, `{"name": "me/app", "tags": ["1.0.${n}"], "pad": "`, pad, '"}', link);
    };
    await assert.rejects(listOciTags({ ref: `${base.slice('http://'.length)}/me/app` }), (e: unknown) => {
      assert.ok(e instanceof OtaError && e.code === 'listing_too_long', `${what}: ${String(e)}`);
      assert.match(e.message, /^listing the tags of 127\.0\.0\.1:\d+\/me\/app.*: the host's /, what);
      assert.match(e.message, reason, what);
      return true;
    });
    await new Promise((r) => setTimeout(r, 100));
    const out = total();
    console.log(`# registry ${what}: ${requests} requests, ${(out / MiB).toFixed(1)} MiB sent`);
    assert.ok(out < LISTINGS.tags.bytes + 8 * MiB, `${what}: the server got ${out} bytes out`);
    assert.ok(requests <= LISTINGS.tags.pages + 1, `${what}: ${requests} requests`);
  }
});

// --- the upload retry's listing of its own draft, through the real `ota publish` ---

let work: string;
let gh: GitHubMock;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-hostile-traffic-'));
  mkdirSync(join(work, 'home'));
  mkdirSync(join(work, 'app'));
  writeFileSync(join(work, 'app', 'main.py'), 'print("app")\n');
  gh = await startGitHubMock({ token: 'ghp_x' });
});
after(async () => {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
});

test('GitHub upload retry: asset pages of 6 MiB, never ending, stop the publish at 8 MiB and the draft goes', async () => {
  gh.reset();
  gh.addRepo('me', 'app');
  gh.addRelease('me', 'app', { tag: 'v0.9.0', assets: [{ name: 'main.py', content: 'print(0)\n' }] });
  sent = [];
  // The first upload fails as GitHub's do (a 500 and a half asset kept): the retry lists the draft's
  // assets, and finds none, page after page.
  gh.failNext({ origin: 'uploads', status: 500 });
  gh.answerNext({
    method: 'GET',
    path: /\/releases\/\d+\/assets\?/,
    times: 1000,
    answer: (req, res) => {
      const url = new URL(req.url ?? '/', gh.apiUrl);
      void page(res, '[', 6 * MiB, ']', `<${nextPage(url, 'page').href}>; rel="next"`);
    },
  });
  const r = await ota(
    [
      'publish',
      join(work, 'app'),
      '--target',
      'github',
      '--repo',
      'me/app',
      '--base-url',
      gh.apiUrl,
      '--version',
      '1.0.0',
    ],
    { home: join(work, 'home'), env: { GITHUB_TOKEN: 'ghp_x' }, timeoutMs: 120_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr.split('\n')[0], /\[listing_too_long\]$/);
  assert.match(
    r.stderr,
    /listing the assets of the draft release in me\/app: the host's pages add up to more than 8 MiB \(8388608 bytes, 2 pages\)/,
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(total() < LISTINGS.assets.bytes + 8 * MiB, `the server got ${total()} bytes out`);
  // Nothing half-published: the draft is deleted, the release that was there is as it was.
  assert.deepEqual(
    gh.state.repos
      .get('me/app')!
      .releases.map((x) => [x.tag, x.draft, x.assets.map((a) => a.content.toString())]),
    [['v0.9.0', false, ['print(0)\n']]],
  );
});
