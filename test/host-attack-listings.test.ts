// Hostile release hosts answering the host (host-side attack review): GitHub's release list and a
// registry's tag list whose pages never end (a "next" link back to itself, or always one more page)
// or hold twice the limit in one page. Each stops with 'listing_too_long' naming what was being listed
// (src/core/pages.ts), instead of reading forever. Real Octokit and the real registry client against
// a hostile server on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OtaError } from '../src/core/errors';
import { MAX_LISTED } from '../src/core/pages';
import { listReleases } from '../src/core/publish/github';
import { listOciTags } from '../src/core/publish/oci';
import { bareRelease } from './support/github-mock';

type Mode = 'self' | 'endless' | 'huge' | 'bigbody';
let mode: Mode = 'self';
let requests = 0;
let server: Server;
let base: string;

const release = (n: number) => bareRelease(n, `v1.0.${n}`);

before(async () => {
  server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', base);
    const page = Number(url.searchParams.get('page') ?? url.searchParams.get('last') ?? 0);
    const oci = url.pathname.startsWith('/v2/');
    const count = mode === 'huge' ? 2 * MAX_LISTED : 100;
    const items = Array.from({ length: count }, (_, i) => page * 100 + i);
    const next =
      mode === 'huge'
        ? undefined
        : mode === 'self'
          ? `${url.pathname}${url.search}`
          : `${url.pathname}?${oci ? 'n=1000&last' : 'per_page=100&page'}=${page + 1}`;
    if (next) res.setHeader('link', `<${oci ? next : base + next}>; rel="next"`);
    res.setHeader('content-type', 'application/json');
    if (mode === 'bigbody') {
      // 5 MB of one JSON document, sent in pieces: read no further than the limit.
      res.write('{"tags": ["1.0.0"], "pad": "');
      for (let i = 0; i < 5 * 16; i++) res.write('x'.repeat(64 * 1024));
      res.end('"}');
      return;
    }
    res.end(
      JSON.stringify(oci ? { name: 'me/app', tags: items.map((n) => `1.0.${n}`) } : items.map(release)),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const CASES: [mode: Mode, re: RegExp, most: number][] = [
  ['self', /next page is .* again \(a loop\)/, 3],
  ['endless', new RegExp(`more than ${MAX_LISTED} entries`), MAX_LISTED / 100 + 2],
  ['huge', new RegExp(`more than ${MAX_LISTED} entries`), 2],
];

const listers: [host: string, list: () => Promise<unknown>, what: RegExp][] = [
  ['GitHub', () => listReleases({ repo: 'me/app', baseUrl: base }), /^listing releases of me\/app: /],
  [
    'OCI registry',
    () => listOciTags({ ref: `${base.slice('http://'.length)}/me/app` }),
    /^listing the tags of 127\.0\.0\.1:\d+\/me\/app.*: /,
  ],
];

test('release and tag listings that never end, loop or hold 20 000 entries in one page stop with a clear error', async () => {
  for (const [host, list, what] of listers) {
    for (const [m, re, most] of CASES) {
      mode = m;
      requests = 0;
      await assert.rejects(
        list(),
        (e: unknown) => {
          assert.ok(e instanceof OtaError, String(e));
          assert.equal(e.code, 'listing_too_long', e.message);
          assert.match(e.message, what);
          assert.match(e.message, re);
          return true;
        },
        `${host} ${m}`,
      );
      assert.ok(requests <= most, `${host} ${m}: ${requests} requests`);
    }
  }
});

test('a registry answering one huge JSON document is read no further than 4 MB', async () => {
  mode = 'bigbody';
  await assert.rejects(
    listOciTags({ ref: `${base.slice('http://'.length)}/me/app` }),
    (e: unknown) =>
      e instanceof OtaError && e.code === 'doc_too_large' && /larger than 4194304 bytes/.test(e.message),
  );
});
