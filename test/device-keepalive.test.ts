// Connection reuse on the virtual board (docs/protocols.md, "Connection reuse"): the real updater
// against real HTTP servers on 127.0.0.1, its TCP connections counted where the servers accept them
// (Node's net.server.socket channel). One kept connection per check over plain HTTP where every
// request had its own; servers that close, cut, smuggle or refuse reuse; and no socket left open
// when update() or check() returns, seen from the servers' side while the board still runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as netServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { makePki, type Pki } from './support/pki';
import { opened, portOf, probeCode, startOpenProbe } from './support/connections';
import * as fx from './support/release-fixture';

const T = { timeout: 90_000 };
const cleanups: string[] = [];
let rel: fx.Release;
let root: string;
let pki: Pki;
let probe: { port: number; close: () => Promise<void> };

before(async () => {
  rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  root = fx.tempDir('ka-host');
  fx.publishStatic(root, rel);
  const dir = fx.tempDir('ka-pki');
  pki = makePki(dir);
  cleanups.push(rel.dir, root, dir);
  probe = await startOpenProbe();
});
after(async () => {
  await probe.close();
  fx.cleanup(...cleanups);
});

const code = (ports: number[], opts: { keep?: boolean; call?: string } = {}): string =>
  probeCode(probe.port, ports, opts);
const openAfter = (out: string) => /OPEN (\d+)/.exec(out)?.[1];
const returned = (out: string) => /RET (.*)/.exec(out)?.[1]?.trim();

function board(cfg: Record<string, unknown>): string {
  const fsDir = fx.makeBoard({ retries: 0, ...cfg }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  return fsDir;
}
const installed = { ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] };
const versionOf = (fsDir: string) => JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;

test(
  'static host over HTTP: one connection for the whole update where each request had its own',
  T,
  async () => {
    const srv = await fx.serveFolder(root);
    const port = portOf(srv.url);
    try {
      const counts: Record<string, { conns: number; reqs: number }> = {};
      for (const keep of [false, true]) {
        const fsDir = board({ source: 'static', url: srv.url });
        const c0 = opened([port]);
        const q0 = srv.requests.length;
        const r = await fx.runBoard({ fsDir, code: code([port], { keep }) });
        assert.equal(r.error, undefined, r.output);
        assert.deepEqual(fx.errorCodes(r.output), [], r.output);
        assert.equal(returned(r.output), '1.1.0', r.output);
        assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
        assert.equal(openAfter(r.output), '0', 'no connection left open when update() returned');
        counts[String(keep)] = { conns: opened([port]) - c0, reqs: srv.requests.length - q0 };
      }
      // latest.json, manifest.json, its .sig (404, read to its end), main.py, lib/new.py, the hook.
      assert.equal(counts.false.reqs, counts.true.reqs);
      assert.equal(counts.false.conns, counts.false.reqs, JSON.stringify(counts));
      assert.equal(counts.true.conns, 1, JSON.stringify(counts));
      assert.ok(counts.true.reqs >= 4, JSON.stringify(counts));
    } finally {
      await srv.close();
    }
  },
);

test(
  'static host over HTTPS: one connection for the check, one for the download, none left open',
  T,
  async () => {
    const srv = await fx.serveFolder(root, undefined, { cert: pki.server.cert, key: pki.server.key });
    const port = portOf(srv.url);
    try {
      const fsDir = board({ source: 'static', url: srv.url, tls: { ca: 'ota/ca.pem' } });
      writeFileSync(join(fsDir, 'ota', 'ca.pem'), pki.ca.cert);
      const c0 = opened([port]);
      const q0 = srv.requests.length;
      const r = await fx.runBoard({ fsDir, code: code([port]) });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(versionOf(fsDir), '1.1.0');
      assert.equal(openAfter(r.output), '0');
      // The TLS connection is let go before the manifest is parsed (the heap a TLS context holds).
      assert.equal(
        opened([port]) - c0,
        2,
        srv.requests
          .slice(q0)
          .map((q) => q.url)
          .join(' '),
      );
      // The next check: one request, one connection, closed when check() returns.
      const c1 = opened([port]);
      const r2 = await fx.runBoard({ fsDir, code: code([port], { call: 'ota.check()' }) });
      assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
      assert.equal(returned(r2.output), 'None');
      assert.equal(opened([port]) - c1, 1);
      assert.equal(openAfter(r2.output), '0', 'no connection left open when check() returned');
    } finally {
      await srv.close();
    }
  },
);

test('a failing update leaves no connection open, and the old release as it was', T, async () => {
  const srv = await fx.serveFolder(root, (req, res, rec) => {
    if (!req.url?.endsWith('/lib/new.py')) return false;
    rec.status = 500;
    res.writeHead(500, { 'content-length': '5' });
    res.end('oops\n');
    return true;
  });
  const port = portOf(srv.url);
  try {
    const fsDir = board({ source: 'static', url: srv.url });
    const r = await fx.runBoard({ fsDir, code: code([port]) });
    assert.deepEqual(fx.errorCodes(r.output), ['http_status'], r.output);
    assert.equal(returned(r.output), 'None');
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    assert.equal(openAfter(r.output), '0', 'the kept connection closed on failure too');
  } finally {
    await srv.close();
  }
});

interface Raw {
  url: string;
  port: number;
  /** Requests as "<connection number> <path>", in order. */
  log: string[];
  close(): Promise<void>;
}

type Quirk = (
  sock: Socket,
  ctx: { conn: number; nth: number; path: string; body: Buffer | undefined },
) => boolean | void;

/**
 * A static host written on bare TCP, so each test controls the bytes: it serves `root` with
 * Content-Length framing, HTTP/1.1, as many requests per connection as the client sends, unless
 * `quirk` answers (returns true) in its own way.
 */
async function rawHost(quirk?: Quirk): Promise<Raw> {
  const log: string[] = [];
  let conns = 0;
  const socks = new Set<Socket>();
  const server = netServer((sock) => {
    const conn = ++conns;
    socks.add(sock);
    sock.on('close', () => socks.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let nth = 0;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        const path = head.split(' ')[1] ?? '/';
        nth++;
        log.push(`${conn} ${path}`);
        let body: Buffer | undefined;
        try {
          body = readFileSync(join(root, decodeURIComponent(path)));
        } catch {
          body = undefined;
        }
        if (sock.destroyed || quirk?.(sock, { conn, nth, path, body })) continue;
        sock.write(answer(body));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log,
    close: async () => {
      for (const s of socks) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function answer(body: Buffer | undefined, status = 'HTTP/1.1', extra = ''): Buffer {
  const b = body ?? Buffer.from('not found\n');
  return Buffer.concat([
    Buffer.from(
      `${status} ${body ? '200 OK' : '404 Not Found'}\r\nContent-Length: ${b.length}\r\n${extra}\r\n`,
    ),
    b,
  ]);
}

/** Runs a static-source board against `host`; the board's output, after checks common to all. */
async function runAgainst(
  host: Raw,
  cfg: Record<string, unknown> = {},
): Promise<{ fsDir: string; out: string }> {
  const fsDir = board({ source: 'static', url: host.url, ...cfg });
  const r = await fx.runBoard({ fsDir, code: code([host.port]) });
  assert.equal(r.error, undefined, r.output);
  assert.equal(openAfter(r.output), '0', `a connection left open: ${r.output}`);
  return { fsDir, out: r.output };
}
const connsOf = (host: Raw) => new Set(host.log.map((l) => l.split(' ')[0])).size;

test('a plain HTTP/1.1 host: every request of the update on one connection', T, async () => {
  const host = await rawHost();
  try {
    const { fsDir, out } = await runAgainst(host);
    assert.deepEqual(fx.errorCodes(out), [], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
    assert.equal(connsOf(host), 1, host.log.join('\n'));
  } finally {
    await host.close();
  }
});

const refusals: [string, (s: Socket, body: Buffer) => void][] = [
  ['answers HTTP/1.0', (s, body) => s.write(answer(body, 'HTTP/1.0'))],
  // The socket stays open: only the board's reading of the header keeps it from a second request.
  ['says Connection: close', (s, body) => s.write(answer(body, 'HTTP/1.1', 'Connection: close\r\n'))],
  [
    'frames bodies by closing (no length)',
    (s, body) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), body])),
  ],
];
for (const [name, quirk] of refusals) {
  test(`a host that ${name}: no connection is used twice`, T, async () => {
    const host = await rawHost((s, c) => {
      if (!c.body) return false;
      quirk(s, c.body);
      return true;
    });
    try {
      const { fsDir, out } = await runAgainst(host);
      assert.deepEqual(fx.errorCodes(out), [], out);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
      // Each answer of the quirk ended its connection for the board; the 404 of the signature is a
      // plain HTTP/1.1 answer, so the next request may take its connection.
      const per = new Map<string, string[]>();
      for (const l of host.log)
        per.set(l.split(' ')[0], [...(per.get(l.split(' ')[0]) ?? []), l.split(' ')[1]]);
      for (const paths of per.values())
        assert.ok(
          paths.slice(0, -1).every((p) => p.endsWith('.sig')),
          host.log.join('\n'),
        );
    } finally {
      await host.close();
    }
  });
}

test('chunked bodies with trailers are read to their end and the connection reused', T, async () => {
  const host = await rawHost((s, c) => {
    if (!c.body) return false;
    const half = Math.ceil(c.body.length / 2);
    const chunk = (b: Buffer) =>
      Buffer.concat([Buffer.from(`${b.length.toString(16)};ext=1\r\n`), b, Buffer.from('\r\n')]);
    s.write(
      Buffer.concat([
        Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n'),
        chunk(c.body.subarray(0, half)),
        c.body.length > half ? chunk(c.body.subarray(half)) : Buffer.alloc(0),
        Buffer.from('0\r\nX-Sum: 1234\r\nX-More: yes\r\n\r\n'),
      ]),
    );
    return true;
  });
  try {
    const { fsDir, out } = await runAgainst(host);
    assert.deepEqual(fx.errorCodes(out), [], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
    assert.equal(connsOf(host), 1, host.log.join('\n'));
  } finally {
    await host.close();
  }
});

test('extra bytes after a Content-Length body are never read as the next answer', T, async () => {
  // A smuggled answer: had the board read it for its next request, manifest.json would be "evil!".
  // Small bodies end inside the board's read buffer (the extra bytes with them), documents and files
  // are read to their exact length (the extra bytes wait in the socket): both cost the connection.
  const evil = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!');
  const host = await rawHost((s, c) => {
    if (!c.body) return false;
    s.write(Buffer.concat([answer(c.body), evil]));
    return true;
  });
  try {
    const { fsDir, out } = await runAgainst(host);
    assert.deepEqual(fx.errorCodes(out), [], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
    // Every answer with extra bytes behind it ended its connection (the clean 404 of the signature
    // passes its connection on to the next request).
    assert.equal(connsOf(host), host.log.filter((l) => !l.endsWith('.sig')).length, host.log.join('\n'));
  } finally {
    await host.close();
  }
});

test(
  'a host that closes each connection after its answer (no Connection: close): a new one, each request asked once',
  T,
  async () => {
    const host = await rawHost((s, c) => {
      // As a keep-alive timeout would, long before the board's next request.
      s.write(answer(c.body), () => s.destroy());
      return true;
    });
    try {
      const { fsDir, out } = await runAgainst(host);
      assert.deepEqual(fx.errorCodes(out), [], out);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
      assert.equal(connsOf(host), host.log.length, 'each request on a new connection, each asked once');
    } finally {
      await host.close();
    }
  },
);

test('a kept connection closed as the request arrives: the same GET once more on a new one', T, async () => {
  let dropped = '';
  const host = await rawHost((s, c) => {
    if (c.nth === 2 && !dropped) {
      dropped = c.path; // the second request of a connection: not a byte of an answer, then gone
      s.destroy();
      return true;
    }
  });
  try {
    // retries: 0, so only the reconnect (no retry after a backoff) can save the update.
    const { fsDir, out } = await runAgainst(host);
    assert.deepEqual(fx.errorCodes(out), [], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
    const asked = host.log.filter((l) => l.endsWith(` ${dropped}`));
    assert.deepEqual(asked, [`1 ${dropped}`, `2 ${dropped}`], host.log.join('\n'));
    assert.equal(connsOf(host), 2, host.log.join('\n'));
  } finally {
    await host.close();
  }
});

test('part of an answer arrived on a kept connection: never sent again (network)', T, async () => {
  let cut = '';
  const host = await rawHost((s, c) => {
    if (c.nth === 2 && !cut) {
      cut = c.path;
      s.end('HTTP/1.1 20');
      return true;
    }
  });
  try {
    const { fsDir, out } = await runAgainst(host);
    assert.deepEqual(fx.errorCodes(out), ['protocol'], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    assert.equal(host.log.filter((l) => l.endsWith(` ${cut}`)).length, 1, host.log.join('\n'));
  } finally {
    await host.close();
  }
});

test(
  'a body cut part-way on a kept connection: network, retried as before, the old release untouched',
  T,
  async () => {
    const host = await rawHost((s, c) => {
      if (!c.path.endsWith('/main.py') || !c.body) return false;
      const a = answer(c.body);
      s.end(a.subarray(0, a.length - 10));
      return true;
    });
    try {
      const { fsDir, out } = await runAgainst(host, { retries: 1 });
      assert.deepEqual(fx.errorCodes(out), ['network'], out);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
      const main = host.log.filter((l) => l.endsWith('/main.py'));
      assert.ok(main.length >= 1 && main[0].startsWith('1 '), host.log.join('\n'));
    } finally {
      await host.close();
    }
  },
);

test('a kept connection that goes silent: the wait ends at the timeout, then one resend', T, async () => {
  let silent = '';
  const host = await rawHost((_s, c) => {
    if (c.nth === 2 && !silent) {
      silent = c.path; // no answer, the connection left open
      return true;
    }
  });
  try {
    const { fsDir, out } = await runAgainst(host, { timeout: 1 });
    assert.deepEqual(fx.errorCodes(out), [], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
    assert.deepEqual(
      host.log.filter((l) => l.endsWith(` ${silent}`)),
      [`1 ${silent}`, `2 ${silent}`],
      host.log.join('\n'),
    );
  } finally {
    await host.close();
  }
});

test("the update's deadline bounds the wait on a kept connection (no resend past it)", T, async () => {
  const host = await rawHost((_s, c) => c.nth >= 2); // every second request of a connection: silence
  try {
    const { fsDir, out } = await runAgainst(host, { deadline: 3 });
    assert.deepEqual(fx.errorCodes(out), ['deadline'], out);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    assert.equal(host.log.length, 2, host.log.join('\n'));
  } finally {
    await host.close();
  }
});
