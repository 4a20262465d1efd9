// The status bar's checks revalidate with If-None-Match against a real HTTP server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { etagFetch } from '../src/core/etag-fetch';

describe('etagFetch', () => {
  let server: Server;
  let base: string;
  const seen: (string | undefined)[] = [];
  let body = '[{"tag_name":"v1.0.0"}]';

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers['if-none-match']);
      const etag = `"${Buffer.from(body).toString('base64url').slice(-12)}"`;
      if (req.url === '/plain') return res.end('no etag');
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        return res.end();
      }
      res.writeHead(200, { etag, 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('answers a 304 from its cache, as the 200 it stood for', async () => {
    const f = etagFetch();
    const first = await f.fetch(`${base}/releases`);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), [{ tag_name: 'v1.0.0' }]);
    const second = await f.fetch(`${base}/releases`);
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), [{ tag_name: 'v1.0.0' }]);
    assert.equal(f.hits, 1);
    assert.equal(seen.at(-2), undefined);
    assert.match(seen.at(-1) ?? '', /^".+"$/);
  });

  it('takes the new body when the resource changed', async () => {
    const f = etagFetch();
    await (await f.fetch(`${base}/releases`)).text();
    body = '[{"tag_name":"v1.1.0"}]';
    assert.deepEqual(await (await f.fetch(`${base}/releases`)).json(), [{ tag_name: 'v1.1.0' }]);
    assert.equal(f.hits, 0);
  });

  it('keeps separate entries per credential and passes through answers without an ETag', async () => {
    const f = etagFetch();
    await (await f.fetch(`${base}/releases`, { headers: { authorization: 'token a' } })).text();
    await (await f.fetch(`${base}/releases`, { headers: { authorization: 'token b' } })).text();
    assert.equal(f.hits, 0);
    assert.equal(await (await f.fetch(`${base}/plain`)).text(), 'no etag');
  });
});
