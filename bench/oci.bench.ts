// OCI registry target, against baselines from the same run:
// 1. bytes uploaded by `publish --target oci` for a one-file change, against that file plus the
//    manifest and its signature (what must change);
// 2. a board's bytes over the air from the registry (Debian's docker-registry behind the test
//    proxy), against the static host (`publish --target folder` served by the test static server)
//    for the same releases: the example project, a 100 KB release, a one-file delta, a firmware
//    image. Every byte on the board's TCP connections is counted both ways by a relay in front of
//    each server: over plain HTTP (request and status lines, headers, bodies), and over HTTPS.
// A second static baseline: Debian's nginx serving the same published folder, configured as Debian
// ships it (test/support/nginx.ts). The test static server answers with unusually lean heads (no
// Server, Last-Modified, Content-Type or Accept-Ranges); boards in the field read static releases from
// real web servers, whose heads are longer. Every registry row gets a ratio against each.
//
// HTTPS (docs/protocols.md, "OCI registries", Measured): boards in the field reach ghcr.io, Docker
// Hub and static hosts over https. The board keeps one idle connection per check for the next request
// to the same origin, and lets it go at a change of origin (the token service, blob storage), before
// the manifest's signature check over TLS and before the bundle's window (docs/protocols.md,
// "Connection reuse"): each new connection pays a TCP and a TLS handshake. Both hosts sit behind the
// same TLS-terminating counting front (test/support/tls-front.ts: the test CA's EC P-256 certificate, a
// chain of one), and the board trusts the test CA through "tls": {"ca": …} as a user sets it. The bytes counted are real
// TLS records: the virtual board's ssl is Node's TLS client (src/sim/hostnet.ts, OpenSSL: TLS 1.3
// when the server offers it, the ClientHello size printed below, no session resumption), the front
// Node's TLS server (OpenSSL: it sends session tickets after a TLS 1.3 handshake). A MicroPython
// ESP32 speaks mbedTLS instead, TLS 1.2 unless its ESP-IDF build turns 1.3 on, with a ClientHello of
// its own: so every HTTPS row runs twice, the front capped at TLS 1.2 the second time. Registry and
// static host meet the same client, server and certificate, so the ratio compares the two layouts
// and favours neither; what TLS adds is a cost per connection, and the side making more connections
// pays it more often (a real host's longer certificate chain makes that cost larger, per
// connection, on both sides).
// Token rows: the registry with token auth, its token service behind a counting front too (the
// token request is counted), read by a board with a password (a private package), anonymously (a
// public package), and anonymously with blob downloads redirected to storage on another host (as
// ghcr.io and Docker Hub serve public packages).
// The token flow across checks (docs/protocols.md, "Token flow across checks"): for those token
// boards, an idle check (nothing new: a 304) and the example update, each measured three ways in the
// same run: as a boot's first check with nothing remembered (what every check cost before the board
// remembered its realm: the same requests), after a reboot (the realm from .ota/ocirealm.json: no
// anonymous 401), and as a later check of the same boot (the token still valid in RAM: the registry
// only); against the static host's idle check and update. The same for the token shapes real
// registries give (test/support/registry.ts, TokenShape), each row with its token's and answer's size:
// Docker Hub's (realm on another origin; an answer of token, access_token, expires_in and issued_at)
// with an x5c token and with the smallest token the registry takes (kid), and ghcr.io's (realm on the
// registry's own origin, asked over the same connection; an answer of {"token"} only; kid).
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { publishOci } from '../src/core/publish/oci';
import { VirtualBoard } from '../src/sim/board';
import { image, PART_KB } from '../test/support/firmware-fixture';
import { makePki, trustingFetch } from '../test/support/pki';
import * as fx from '../test/support/release-fixture';
import {
  REGISTRY_BIN,
  startRegistry,
  startRegistryProxy,
  type TestRegistry,
  type TokenShape,
} from '../test/support/registry';
import { nginxMissing, startNginx } from '../test/support/nginx';
import { missingService } from '../test/support/service';
import { since, tlsFront, type TlsFront } from '../test/support/tls-front';

const created = '2026-11-25T10:00:00Z';
/** A MicroPython-like project: 16 small modules and a 12 KB data file. */
function smallProject(dir: string): void {
  for (let i = 0; i < 16; i++) {
    const sub = join(dir, i % 3 ? 'lib' : 'drivers');
    mkdirSync(sub, { recursive: true });
    const body = Array.from({ length: 20 + i * 4 }, (_, n) => `def f${n}(x):\n    return x * ${n} + ${i}\n`);
    writeFileSync(join(sub, `m${i}.py`), body.join('\n'));
  }
  writeFileSync(join(dir, 'main.py'), 'import lib.m1\nprint("v1")\n');
  writeFileSync(
    join(dir, 'font.bin'),
    Buffer.from(Array.from({ length: 12288 }, (_, i) => (i * 7919) % 251)),
  );
}

/** Wire bytes by kind: request lines and headers, response status lines and headers, bodies. */
interface Wire {
  request: number;
  head: number;
  body: number;
}

/** What the board's connections carried up to one moment. */
interface Snap {
  /** TCP payload bytes, both ways. */
  bytes: number;
  connections: number;
  /** Plain HTTP: the bytes by kind. */
  wire?: Wire;
  /** HTTPS: the HTTP bytes the TLS records carried. */
  http?: number;
  /** HTTPS: each connection's ClientHello record. */
  hellos: number[];
}

/** A plain-HTTP relay's counts between two moments. */
function minus(now: Snap, was: Snap): Snap {
  const out: Snap = {
    bytes: now.bytes - was.bytes,
    connections: now.connections - was.connections,
    hellos: [],
  };
  if (now.wire && was.wire) {
    const [a, b] = [now.wire, was.wire];
    out.wire = { request: a.request - b.request, head: a.head - b.head, body: a.body - b.body };
  }
  return out;
}

/** From now on, what these HTTPS fronts count, as one (a registry and its token service). */
function frontsFrom(fronts: TlsFront[]): () => Snap {
  const was = fronts.map((f) => f.counts());
  return () => {
    const out: Snap = { bytes: 0, connections: 0, http: 0, hellos: [] };
    fronts.forEach((f, i) => {
      const c = since(was[i], f.counts());
      out.bytes += c.sent + c.received;
      out.connections += c.connections;
      out.http! += c.plain;
      out.hellos.push(...c.hellos);
    });
    return out;
  };
}

/**
 * Splits a server's bytes on one connection into response heads and bodies, answer after answer: the
 * board reuses a connection within a check (docs/protocols.md, "Connection reuse"), so one connection
 * carries several answers. Each body is framed as HTTP/1.1 frames it (Content-Length, chunked with its
 * size lines and trailers, none for 1xx, 204 and 304, else until the connection closes); chunk framing
 * counts as body.
 */
class ResponseSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** 'head', or how the current body ends. */
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'trailer' | 'close' = 'head';
  private left = 0;
  constructor(private readonly seen: Wire) {}

  push(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.state === 'close') {
        this.seen.body += this.buf.length;
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.state === 'length' || this.state === 'chunk-data') {
        const n = Math.min(this.left, this.buf.length);
        this.seen.body += n;
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left > 0) return;
        this.state = this.state === 'length' ? 'head' : 'chunk-size';
        continue;
      }
      const eol = this.buf.indexOf(this.state === 'head' ? '\r\n\r\n' : '\r\n');
      if (eol < 0) return;
      if (this.state === 'head') {
        const head = this.buf.subarray(0, eol + 4);
        this.seen.head += head.length;
        this.buf = this.buf.subarray(eol + 4);
        this.state = this.bodyOf(head.toString('latin1'));
        continue;
      }
      const line = this.buf.subarray(0, eol).toString('latin1');
      this.seen.body += eol + 2;
      this.buf = this.buf.subarray(eol + 2);
      if (this.state === 'trailer') {
        if (line === '') this.state = 'head';
        continue;
      }
      // chunk-size: the chunk's data and its CRLF follow; size 0 starts the trailers.
      const size = parseInt(line.split(';')[0], 16);
      if (size === 0) this.state = 'trailer';
      else [this.state, this.left] = ['chunk-data', size + 2];
    }
  }

  /** A connection closed before an answer's head ended: those bytes are head. */
  end(): void {
    if (this.state === 'head') this.seen.head += this.buf.length;
    else this.seen.body += this.buf.length;
    this.buf = Buffer.alloc(0);
  }

  private bodyOf(head: string): ResponseSplitter['state'] {
    const status = Number(head.slice(9, 12));
    if (status < 200 || status === 204 || status === 304) return 'head';
    const field = (name: string) => new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head)?.[1];
    if (/chunked/i.test(field('transfer-encoding') ?? '')) return 'chunk-size';
    const length = field('content-length');
    if (length === undefined) return 'close';
    this.left = Number(length);
    return this.left > 0 ? 'length' : 'head';
  }
}

/**
 * A TCP relay that counts every byte the board and the server exchange, by kind. The board sends only
 * GETs without bodies, so all it sends is request; what it gets is split into response heads and bodies
 * answer by answer, however many answers a connection carries.
 */
async function wireCounter(
  target: string,
): Promise<{ url: string; host: string; from(): () => Snap; close(): Promise<void> }> {
  const t = new URL(target);
  const seen: Wire = { request: 0, head: 0, body: 0 };
  let [bytes, connections] = [0, 0];
  const server = createServer((c) => {
    connections++;
    const up = connect(Number(t.port), t.hostname);
    const split = new ResponseSplitter(seen);
    c.on('data', (d: Buffer) => ((seen.request += d.length), (bytes += d.length)));
    up.on('data', (d: Buffer) => (split.push(d), (bytes += d.length)));
    up.on('end', () => split.end());
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: `http://${host}`,
    from: () => {
      const snap = (): Snap => ({ bytes, connections, wire: { ...seen }, hellos: [] });
      const was = snap();
      return () => minus(snap(), was);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A host as a board meets it: its config for one repository, what it serves, what its wire carried. */
interface Host {
  config(repo: string): Record<string, unknown>;
  /** Board files beside the config (the CA a board of an HTTPS host trusts). */
  files?: Record<string, Buffer>;
  /** The server's log of response bodies, so far. */
  served(): { bytes: number }[];
  /** Starts counting: what the board's connections carry from now on. */
  from(): () => Snap;
}

interface Counted extends Snap {
  body: number;
  requests: number;
  /** The response bodies' sizes, in order (what each request brought). */
  bodies: number[];
}

/** A board's filesystem for a host and repository: config, the files beside it, the app installed. */
function boardDir(host: Host, repo: string, app: fx.AppFiles, version: string): string {
  const fsDir = fx.makeBoard({ retries: 0, ...host.config(repo) }, app, version || undefined);
  for (const [p, b] of Object.entries(host.files ?? {})) {
    mkdirSync(dirname(join(fsDir, p)), { recursive: true });
    writeFileSync(join(fsDir, p), b);
  }
  return fsDir;
}

/** One boot of a board running each snippet in turn (checks in one boot): what each one moved. */
async function session(fsDir: string, host: Host, snippets: string[]): Promise<Snap[]> {
  const board = VirtualBoard.create({ fsDir, heapKb: fx.BOARD_HEAP_KB }, true);
  let out = '';
  board.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const snaps: Snap[] = [];
  try {
    await board.powerUp(true);
    for (const code of snippets) {
      const counted = host.from();
      const o = out.length;
      const r = await board.execRaw(code);
      const errs = fx.errorCodes(out.slice(o));
      if (r.kind === 'exception' || errs.length)
        throw new Error(`board: ${errs.join(' ')} ${r.text}\n${out.slice(o)}`);
      snaps.push(counted());
    }
  } finally {
    await board.stop();
  }
  return snaps;
}

async function boardBytes(
  host: Host,
  repo: string,
  app: fx.AppFiles,
  version: string,
  opts: { partitions?: { sizeKb: number } },
): Promise<Counted> {
  const fsDir = boardDir(host, repo, app, version);
  try {
    const counted = host.from();
    const n = host.served().length;
    const code = 'import ota\nota.update(False)\n';
    const r = await fx.runBoard({ fsDir, code, partitions: opts.partitions });
    const errs = fx.errorCodes(r.output);
    if (errs.length) throw new Error(`board: ${errs.join(' ')}\n${r.output}`);
    // A board short of heap goes file by file (no_memory): that would measure another path.
    const warned = fx.eventsOf(r.output).filter((e) => e.ev === 'warning' && e.code !== 'tls_insecure');
    if (warned.length) console.log(`  ! the board warned: ${warned.map((e) => String(e.code)).join(', ')}`);
    const bodies = host
      .served()
      .slice(n)
      .map((q) => q.bytes);
    return {
      ...counted(),
      body: bodies.reduce((a, b) => a + b, 0),
      requests: bodies.length,
      bodies,
    };
  } finally {
    fx.cleanup(fsDir, `${fsDir}.partitions`);
  }
}

/** The files a board holds after installing `dir` (the release's file layers). */
function installed(layers: { title: string }[], dir: string): fx.AppFiles {
  const out: fx.AppFiles = {};
  for (const { title } of layers) {
    const isDoc = title.startsWith('manifest.json') || title.endsWith('.tar.gz');
    if (!isDoc && existsSync(join(dir, title))) out[title] = readFileSync(join(dir, title));
  }
  return out;
}

/** MicroPython-like modules: `count` files of about `size` bytes each under lib/ and drivers/. */
function modules(dir: string, count: number, size: number, seed: number): void {
  for (let i = 0; i < count; i++) {
    const sub = join(dir, i % 3 ? 'lib' : 'drivers');
    mkdirSync(sub, { recursive: true });
    const lines: string[] = [];
    for (let n = 0; lines.join('\n').length < size; n++) {
      lines.push(`def f${n}_${i}(x, y=${(n * 31 + seed) % 97}):\n    return x * ${n} + y - ${i}\n`);
    }
    writeFileSync(join(sub, `m${i}.py`), lines.join('\n'));
  }
}

/** One measured comparison, for the summary table. */
interface Row {
  release: string;
  /** How the board reads the registry: no auth, a password (token flow), an anonymous token. */
  auth: string;
  transport: 'HTTP' | 'TLS 1.3' | 'TLS 1.2';
  registry: Counted;
  static: Counted;
  /** Debian's nginx serving the same folder (absent when nginx is not installed). */
  nginx?: Counted;
}

const TLS: [Row['transport'], SecureVersion][] = [
  ['TLS 1.3', 'TLSv1.3'],
  ['TLS 1.2', 'TLSv1.2'],
];

/** What TLS adds per connection (handshake, session tickets, record headers and tags, alerts). */
const perConn = (c: Counted) => Math.round((c.bytes - (c.http ?? c.bytes)) / c.connections);

function summary(rows: Row[]): void {
  const keys = [...new Set(rows.map((r) => `${r.release}|${r.auth}`))];
  const cols: Row['transport'][] = ['HTTP', 'TLS 1.3', 'TLS 1.2'];
  const withNginx = rows.some((r) => r.nginx);
  const lines = [
    '| release | registry | ' +
      cols.map((c) => `test server, ${c}`).join(' | ') +
      (withNginx ? ' | ' + cols.map((c) => `nginx, ${c}`).join(' | ') : '') +
      ` | connections, HTTP/HTTPS (registry, test server${withNginx ? ', nginx' : ''}) |`,
    '| --- | --- | ' +
      cols.map(() => '---').join(' | ') +
      (withNginx ? ' | --- | --- | ---' : '') +
      ' | --- |',
  ];
  for (const k of keys) {
    const [release, auth] = k.split('|');
    const of = rows.filter((r) => r.release === release && r.auth === auth);
    const cell = (t: Row['transport'], base: 'static' | 'nginx') => {
      const r = of.find((x) => x.transport === t);
      const b = r?.[base];
      return r && b ? `${(r.registry.bytes / b.bytes).toFixed(3)}×` : '';
    };
    // Connections over plain HTTP / over HTTPS (the TLS 1.2 run; TLS 1.3 makes the same), '–' unmeasured.
    // A token row has no plain-HTTP run; its static hosts' are the release's.
    const http = rows.find((x) => x.release === release && x.transport === 'HTTP');
    const tls = of.find((x) => x.transport === 'TLS 1.2');
    const conns = (k: 'registry' | 'static' | 'nginx') =>
      `${(auth === 'none' || k !== 'registry' ? http?.[k]?.connections : undefined) ?? '–'}/` +
      `${tls?.[k]?.connections ?? '–'}`;
    lines.push(
      `| ${release} | ${auth} | ${cols.map((t) => cell(t, 'static')).join(' | ')} | ` +
        (withNginx ? `${cols.map((t) => cell(t, 'nginx')).join(' | ')} | ` : '') +
        `${conns('registry')}, ${conns('static')}${withNginx ? `, ${conns('nginx')}` : ''} |`,
    );
  }
  console.log(
    "\nboard bytes over the air, registry / static host (the test server; Debian's nginx), every byte of " +
      "the board's connections:",
  );
  console.log(lines.join('\n'));
}

export async function run(): Promise<void> {
  const noRegistry = missingService([REGISTRY_BIN]);
  if (noRegistry) return void console.log(`# skipped: ${noRegistry}`);
  // openssl makes the test CA and certificates (pki.ts) and the token service's: without it, plain
  // HTTP only (a registry without auth needs no certificate).
  const noTls = missingService(['openssl']);
  if (noTls) console.log(`# HTTPS rows skipped: ${noTls}`);
  const noNginx = nginxMissing();
  if (noNginx) console.log(`# nginx baseline skipped: ${noNginx}`);
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-oci-'));
  const pki = noTls ? undefined : (mkdirSync(join(work, 'pki')), makePki(join(work, 'pki')));
  const reg = await startRegistry();
  const site = join(work, 'site');
  mkdirSync(site);
  const proxy = await startRegistryProxy(reg.url);
  // The static baseline: the test static server (Range, ETag, gzip for files a board asks it for).
  const gz = await fx.serveFolder(site);
  const plain = await fx.serveFolder(site, (req) => {
    delete req.headers['accept-encoding']; // a host without gzip, like a registry
    return false;
  });
  // The real web server: Debian's nginx as it ships, on the same folder.
  const ngx = noNginx ? undefined : await startNginx(site);
  const wires = await Promise.all([proxy.url, plain.url, gz.url].map(wireCounter));
  const [ociWire, plainWire, gzWire] = wires;
  const ngxWire = ngx && (await wireCounter(ngx.url));
  if (ngxWire) wires.push(ngxWire);
  // HTTPS: a front for the registry, one for the static host, and the token registry with its token
  // service, each behind its own (a board's password goes to the token service over TLS only).
  const fronts: TlsFront[] = [];
  const front = async (upstream: string | undefined) => {
    const f = await tlsFront(upstream, pki!.server);
    fronts.push(f);
    return f;
  };
  const ociTls = pki && (await front(proxy.url));
  const staticTls = pki && (await front(plain.url));
  // nginx behind the same TLS front as the other hosts (not its own TLS), so that the TLS costs of
  // every host come from one server, one certificate and one configuration.
  const ngxTls = pki && ngx && (await front(ngx.url));
  const tokenFront = pki && (await front(undefined));
  const tok =
    pki &&
    (await startRegistry({
      auth: 'token',
      user: 'ci',
      password: 'pw-bench',
      publicRepos: ['pub/example', 'pub/delta'],
      tokenRealm: (origin) => {
        tokenFront!.upstream = origin;
        return `${tokenFront!.url}/token`;
      },
    }));
  const tokProxy = tok && (await startRegistryProxy(tok.url));
  const tokTls = tokProxy && (await front(tokProxy.url));
  // A ghcr.io-shaped registry: its realm on its own origin (the front routes /token to the token
  // service: https://ghcr.io/token), an answer of {"token"} only, the smallest token the registry takes
  // (kid). Its front serves both, so a board asks the token over the connection it reads the registry on.
  const ghcrTls = pki && (await front(undefined));
  const ghcr =
    ghcrTls &&
    (await startRegistry({
      auth: 'token',
      user: 'ci',
      password: 'pw-bench',
      publicRepos: ['pub/example', 'pub/delta'],
      token: { key: 'kid', answer: 'ghcr' },
      tokenRealm: () => `${ghcrTls.url}/token`,
    }));
  const ghcrProxy = ghcr && (await startRegistryProxy(ghcr.url, { tokenService: ghcr.tokenService }));
  if (ghcrTls && ghcrProxy) ghcrTls.upstream = ghcrProxy.url;
  const ca = { 'certs/ca.pem': pki?.ca.cert ?? Buffer.alloc(0) };
  const tlsCfg = { tls: { ca: 'certs/ca.pem' } };
  try {
    const key = await generateKey('ed25519', {
      path: join(work, 'keys', 'k.json'),
      project: join(work, 'projects'),
    });
    const trust = await deviceTrustEntry(key.path);
    const keys = [trust];
    const hosts = {
      oci: {
        config: (r: string) => ({ source: 'oci', ref: `${ociWire.host}/me/${r}`, keys }),
        served: () => proxy.requests,
        from: ociWire.from,
      },
      static: {
        config: (r: string) => ({ source: 'static', url: `${plainWire.url}/${r}`, keys }),
        served: () => plain.requests,
        from: plainWire.from,
      },
      gzip: {
        config: (r: string) => ({ source: 'static', url: `${gzWire.url}/${r}`, keys }),
        served: () => gz.requests,
        from: gzWire.from,
      },
    } satisfies Record<string, Host>;
    const nginxHost: Host | undefined = ngx &&
      ngxWire && {
        config: (r: string) => ({ source: 'static', url: `${ngxWire.url}/${r}`, keys }),
        served: ngx.requests,
        from: ngxWire.from,
      };
    const nginxHttps: Host | undefined = ngx &&
      ngxTls && {
        config: (r: string) => ({ source: 'static', url: `${ngxTls.url}/${r}`, keys, ...tlsCfg }),
        files: ca,
        served: ngx.requests,
        from: () => frontsFrom([ngxTls]),
      };
    const https = ociTls &&
      staticTls &&
      tokTls &&
      tokenFront && {
        oci: {
          config: (r: string) => ({ source: 'oci', ref: `${ociTls.url}/me/${r}`, keys, ...tlsCfg }),
          files: ca,
          served: () => proxy.requests,
          from: () => frontsFrom([ociTls]),
        },
        static: {
          config: (r: string) => ({ source: 'static', url: `${staticTls.url}/${r}`, keys, ...tlsCfg }),
          files: ca,
          served: () => plain.requests,
          from: () => frontsFrom([staticTls]),
        },
        private: {
          config: (r: string) => ({
            source: 'oci',
            ref: `${tokTls.url}/priv/${r}`,
            keys,
            user: 'ci',
            password: 'pw-bench',
            ...tlsCfg,
          }),
          files: ca,
          served: () => tokProxy!.requests,
          from: () => frontsFrom([tokTls, tokenFront]),
        },
        public: {
          config: (r: string) => ({ source: 'oci', ref: `${tokTls.url}/pub/${r}`, keys, ...tlsCfg }),
          files: ca,
          served: () => tokProxy!.requests,
          from: () => frontsFrom([tokTls, tokenFront]),
        },
        ghcr: {
          config: (r: string) => ({ source: 'oci', ref: `${ghcrTls!.url}/pub/${r}`, keys, ...tlsCfg }),
          files: ca,
          served: () => ghcrProxy!.requests,
          from: () => frontsFrom([ghcrTls!]),
        },
        ghcrPrivate: {
          config: (r: string) => ({
            source: 'oci',
            ref: `${ghcrTls!.url}/priv/${r}`,
            keys,
            user: 'ci',
            password: 'pw-bench',
            ...tlsCfg,
          }),
          files: ca,
          served: () => ghcrProxy!.requests,
          from: () => frontsFrom([ghcrTls!]),
        },
      };
    let repo = 0;
    /**
     * One project published to every host: a static site of its own, a repository of its own and,
     * under `token`, the token registry's private and public repositories of that name.
     */
    const project = (dir: string, token?: string) => {
      const name = `app${repo++}`;
      const out = join(site, name);
      return {
        name,
        token,
        pub: async (version: string, opts: { firmware?: string; bundle?: boolean } = {}) => {
          const build = { created, firmware: opts.firmware };
          const bundle = opts.bundle ?? true;
          await publishFolder({ dir, version, outDir: out, signKeyFile: key.path, bundle, build });
          if (token && tok && ghcr) {
            for (const [r, p] of [tok, tok, ghcr, ghcr].map((r, i) => [r, i % 2 ? 'pub' : 'priv'] as const)) {
              await publishOci({
                dir,
                version,
                ref: `${r.host}/${p}/${token}`,
                fetch: trustingFetch(pki!.ca.cert),
                credentials: { username: 'ci', password: 'pw-bench', from: 'bench' },
                signKeyFile: key.path,
                bundle,
                build,
              });
            }
          }
          const ref = `${reg.host}/me/${name}`;
          return publishOci({ dir, version, ref, signKeyFile: key.path, bundle, build });
        },
      };
    };
    /**
     * The public repository as ghcr.io and Docker Hub serve it: blob downloads redirected to storage
     * on another host (behind a front of its own). Storage reads the registry with a pull token of its
     * own, fetched here (it lasts minutes: one per comparison).
     */
    const redirectedHost = async (token: string) => {
      const scope = encodeURIComponent(`repository:pub/${token}:pull`);
      const got = await fetch(`${tokenFront!.upstream}/token?scope=${scope}`);
      const bearer = `Bearer ${((await got.json()) as { token: string }).token}`;
      const storage = await front(undefined);
      const px = await startRegistryProxy(tok!.url, {
        redirectBlobs: true,
        storageAuth: bearer,
        storageOrigin: (origin) => {
          storage.upstream = origin;
          return storage.url;
        },
      });
      const regFront = await front(px.url);
      const host: Host = {
        config: (r) => ({ source: 'oci', ref: `${regFront.url}/pub/${r}`, keys, ...tlsCfg }),
        files: ca,
        served: () => px.requests,
        from: () => frontsFrom([regFront, tokenFront!, storage]),
      };
      return { host, close: () => px.close() };
    };
    /**
     * The token flow across checks, for the example project's token boards: an idle check and the
     * update, as a boot's first check (nothing remembered: the requests every check made before),
     * after a reboot (the stored realm), and later in the same boot (the token in RAM).
     */
    /** The token and the answer a board gets from this registry's token service as it issues now. */
    const tokenSize = async (r: TestRegistry, repo: string) => {
      const q = `scope=${encodeURIComponent(`repository:pub/${repo}:pull`)}&service=ota-test-registry`;
      const doc = await (await fetch(`${r.tokenService}/token?${q}`)).text();
      return `${(JSON.parse(doc) as { token: string }).token.length} B, ${doc.length} B`;
    };
    const acrossChecks = async (
      h: NonNullable<typeof https>,
      nh: Host | undefined,
      redirect: typeof redirectedHost,
      name: string,
      v100: fx.AppFiles,
      v110: fx.AppFiles,
    ) => {
      const CHECK = 'import ota\nota.update(False)\n';
      const redirected = await redirect('example');
      const lines = [
        '| check | registry | token, answer | transport | first check of a boot | after a reboot | ' +
          `later in the same boot | static host (test server) |${nh ? ' nginx |' : ''}`,
        `| --- | --- | --- | --- | --- | --- | --- | --- |${nh ? ' --- |' : ''}`,
      ];
      // Registry bytes and connections, and the ratio to the test server's (and nginx's) same check.
      const cell = (c: Snap, s: Snap, n: Snap | undefined) =>
        `${c.bytes} B, ${c.connections} conn. (${(c.bytes / s.bytes).toFixed(3)}×` +
        (n ? `; nginx ${(c.bytes / n.bytes).toFixed(3)}×)` : ')');
      const base = (s: Snap) => `${s.bytes} B, ${s.connections} conn. |`;
      /** A static host's idle check (its second: the first learns the ETag) and the update. */
      const staticChecks = async (host: Host) => {
        const sIdle = boardDir(host, name, v110, '1.1.0');
        const sUp = boardDir(host, name, v100, '1.0.0');
        const [, idle] = await session(sIdle, host, [CHECK, CHECK]);
        const [up] = await session(sUp, host, [CHECK]);
        fx.cleanup(sIdle, sUp);
        return { idle, up };
      };
      try {
        for (const [transport, v] of TLS) {
          for (const f of fronts) f.maxVersion(v);
          const { idle: staticIdle, up: staticUp } = await staticChecks(h.static);
          const ngx = nh && (await staticChecks(nh));
          // Each board with the token shape its service issues: the test service's (x5c, its token twice
          // and expires_in), Docker Hub's answer (realm on another origin, token, access_token,
          // expires_in and issued_at) with an x5c or a kid token, ghcr.io's (realm on the registry's
          // origin, {"token"} only, kid).
          const test: TokenShape = { key: 'x5c', answer: 'test' };
          const hub: TokenShape = { key: 'x5c', answer: 'dockerhub' };
          const hubKid: TokenShape = { key: 'kid', answer: 'dockerhub' };
          const boards: [string, Host, TokenShape, TestRegistry][] = [
            ['token (test service), password', h.private, test, tok!],
            ['token (test service), anonymous', h.public, test, tok!],
            ['token (test service), anonymous, blobs redirected', redirected.host, test, tok!],
            ['Docker Hub-shaped (x5c), anonymous', h.public, hub, tok!],
            ['Docker Hub-shaped (kid), anonymous', h.public, hubKid, tok!],
            ['ghcr.io-shaped (kid), anonymous', h.ghcr, ghcr!.token, ghcr!],
            ['ghcr.io-shaped (kid), password', h.ghcrPrivate, ghcr!.token, ghcr!],
          ];
          for (const [auth, host, shape, r] of boards) {
            Object.assign(r.token, shape);
            const size = await tokenSize(r, 'example');
            const realm = join(mkdtempSync(join(tmpdir(), 'ota-bench-realm-')), '.ota');
            // Idle: a first check learns the ETag and the realm; then the realm is forgotten, so the
            // next boot's first check is what every check was before; a later one in that boot; a reboot.
            const idle = boardDir(host, 'example', v110, '1.1.0');
            await session(idle, host, [CHECK]);
            mkdirSync(realm, { recursive: true });
            for (const f of ['ocirealm.json', 'ocirealm.json.1']) {
              copyFileSync(join(idle, '.ota', f), join(realm, f));
              rmSync(join(idle, '.ota', f));
            }
            const [idleFirst, idleLater] = await session(idle, host, [CHECK, CHECK]);
            const [idleReboot] = await session(idle, host, [CHECK]);
            // The update 1.0.0 -> 1.1.0: nothing remembered; the realm stored; a check earlier in the boot.
            const first = boardDir(host, 'example', v100, '1.0.0');
            const reboot = boardDir(host, 'example', v100, '1.0.0');
            cpSync(realm, join(reboot, '.ota'), { recursive: true });
            const later = boardDir(host, 'example', v100, '1.0.0');
            const [upFirst] = await session(first, host, [CHECK]);
            const [upReboot] = await session(reboot, host, [CHECK]);
            const [, upLater] = await session(later, host, ['import ota\nota.check()\n', CHECK]);
            fx.cleanup(idle, first, reboot, later, dirname(realm));
            for (const [what, a, b, c, s, n] of [
              ['idle (304)', idleFirst, idleReboot, idleLater, staticIdle, ngx?.idle],
              ['update 1.0.0 -> 1.1.0', upFirst, upReboot, upLater, staticUp, ngx?.up],
            ] as const) {
              lines.push(
                `| ${what} | ${auth} | ${size} | ${transport} | ${cell(a, s, n)} | ${cell(b, s, n)} | ` +
                  `${cell(c, s, n)} | ${base(s)}${n ? ` ${base(n)}` : ''}`,
              );
            }
          }
        }
      } finally {
        Object.assign(tok!.token, { key: 'x5c', answer: 'test' });
        await redirected.close();
      }
      console.log(
        '\nthe token flow across checks, the example project (registry bytes, connections, ratio to the static ' +
          "host's, the test server's and Debian's nginx's):",
      );
      console.log(lines.join('\n'));
    };
    const rows: Row[] = [];
    const hellos = new Set<number>();
    const tlsLine = (t: string, o: Counted, s: Counted, who: string, n: Counted | undefined) => {
      for (const h of [...o.hellos, ...s.hellos, ...(n?.hellos ?? [])]) hellos.add(h);
      const vsNginx = n
        ? ` | nginx ${n.bytes} B, ${n.connections} connections -> ${(o.bytes / n.bytes).toFixed(3)}x`
        : '';
      console.log(
        `  ${t.padEnd(7)} ${who} ${o.bytes} B, ${o.connections} connections | static ${s.bytes} B, ` +
          `${s.connections} connections -> ${(o.bytes / s.bytes).toFixed(3)}x${vsNginx}; TLS per connection ` +
          `(handshake, tickets, record framing, alerts): ${who} ${perConn(o)} B, static ${perConn(s)} B` +
          (n ? `, nginx ${perConn(n)} B` : ''),
      );
    };
    const compare = async (
      release: string,
      p: { name: string; token?: string },
      app: fx.AppFiles,
      version: string,
      opts: { partitions?: { sizeKb: number } } = {},
    ) => {
      console.log(`${release}:`);
      const o = await boardBytes(hosts.oci, p.name, app, version, opts);
      const s = await boardBytes(hosts.static, p.name, app, version, opts);
      const g = await boardBytes(hosts.gzip, p.name, app, version, opts);
      const n = nginxHost && (await boardBytes(nginxHost, p.name, app, version, opts));
      rows.push({ release, auth: 'none', transport: 'HTTP', registry: o, static: s, nginx: n });
      // What a request costs beyond its body: request line, headers both ways.
      const head = (c: Counted) => Math.round((c.bytes - c.body) / c.requests);
      const [ow, sw] = [o.wire!, s.wire!];
      const per = (c: Counted, k: keyof Wire) => `${c.requests} x ${Math.round(c.wire![k] / c.requests)} B`;
      // The static host's first three bodies are latest.json, manifest.json and its signature.
      const envelope = o.bodies[0] - s.bodies[1] - s.bodies[2];
      const d = (k: keyof Wire) => {
        const x = ow[k] - sw[k];
        return `${x >= 0 ? '+' : ''}${x} B`;
      };
      console.log(
        `  HTTP    registry ${o.bytes} B, ${o.body} B of bodies, ${o.requests} requests on ${o.connections} ` +
          `connections (${head(o)} B of headers each) | static ${s.bytes} B, ${s.body} B, ${s.requests} ` +
          `requests on ${s.connections} connections (${head(s)} B each) -> ` +
          `${(o.bytes / s.bytes).toFixed(3)}x on the wire, ${(o.body / s.body).toFixed(3)}x of bodies; ` +
          `static host with gzip ${g.bytes} B -> ${(o.bytes / g.bytes).toFixed(3)}x\n` +
          `          where the registry's extra ${o.bytes - s.bytes} B go: response heads ${d('head')} ` +
          `(${per(o, 'head')} vs ${per(s, 'head')}), the board's requests ${d('request')} ` +
          `(${per(o, 'request')} vs ${per(s, 'request')}), bodies ${d('body')} ` +
          `(the .board's OCI envelope, its bytes beside manifest.json and the signature: ${envelope} B, ` +
          `against latest.json's ${s.bodies[0]} B)`,
      );
      if (n) {
        const dn = (k: keyof Wire) => {
          const x = ow[k] - n.wire![k];
          return `${x >= 0 ? '+' : ''}${x} B`;
        };
        console.log(
          `          nginx ${n.bytes} B, ${n.body} B of bodies${n.body === s.body ? ' (the same bodies)' : ''}, ` +
            `${n.requests} requests on ${n.connections} connections (${head(n)} B of headers each) -> registry / nginx ` +
            `${(o.bytes / n.bytes).toFixed(3)}x on the wire; registry - nginx: response heads ${dn('head')}, ` +
            `requests ${dn('request')}, bodies ${dn('body')}\n` +
            `          response heads per request: registry ${per(o, 'head')}, test server ${per(s, 'head')}, ` +
            `nginx ${per(n, 'head')}`,
        );
      }
      if (!https) return;
      const redirected = p.token ? await redirectedHost(p.token) : undefined;
      try {
        for (const [transport, v] of TLS) {
          for (const f of fronts) f.maxVersion(v);
          const ot = await boardBytes(https.oci, p.name, app, version, opts);
          const st = await boardBytes(https.static, p.name, app, version, opts);
          const nt = nginxHttps && (await boardBytes(nginxHttps, p.name, app, version, opts));
          rows.push({ release, auth: 'none', transport, registry: ot, static: st, nginx: nt });
          tlsLine(transport, ot, st, 'registry', nt);
          if (!p.token || !redirected) continue;
          const tokenHosts = [
            ['token, password', 'private registry', https.private],
            ['token, anonymous', 'public registry', https.public],
            ['token, anonymous, blobs redirected', 'public registry, blobs redirected', redirected.host],
          ] as const;
          for (const [auth, who, host] of tokenHosts) {
            const t = await boardBytes(host, p.token, app, version, opts);
            rows.push({ release, auth, transport, registry: t, static: st, nginx: nt });
            tlsLine(transport, t, st, who, nt);
            console.log(
              `          the token flow: +${t.bytes - ot.bytes} B against the registry without auth ` +
                `(a 401, the token request, the token in each request after${
                  host === redirected.host ? ', a redirect and a storage connection per blob' : ''
                })`,
            );
          }
        }
      } finally {
        await redirected?.close();
      }
    };

    // 1. The example project: 1.0.0 from nothing (the bundle), then 1.1.0 (one file changed).
    const ex = join(work, 'projects', 'weather-station');
    cpSync(join(__dirname, '..', 'examples', 'weather-station'), ex, { recursive: true });
    const exP = project(ex, 'example');
    const ex100 = await exP.pub('1.0.0');
    const exApp = installed(ex100.layers, ex);
    cpSync(join(ex, 'updates', '1.1.0'), ex, { recursive: true });
    const ex110 = await exP.pub('1.1.0');
    await compare('example project, first install 1.1.0 (bundle)', exP, {}, '');
    await compare('example project, update 1.0.0 -> 1.1.0 (one file)', exP, exApp, '1.0.0');

    // 2. A 100 KB release (40 modules of 2.5 KB), first install from the bundle and file by file.
    const big = join(work, 'projects', 'big');
    modules(big, 40, 2500, 1);
    const bigP = project(big);
    await bigP.pub('1.0.0');
    await compare('100 KB release, first install (bundle)', bigP, {}, '');
    const bigFiles = project(big);
    await bigFiles.pub('1.0.0', { bundle: false });
    await compare('100 KB release, first install (file by file)', bigFiles, {}, '');

    // 3. A one-file delta: 16 small modules and a 12 KB data file, one module changed.
    const dir = join(work, 'projects', 'app');
    smallProject(dir);
    const app = project(dir, 'delta');
    const first = await app.pub('1.0.0');
    const app100 = installed(first.layers, dir);
    writeFileSync(join(dir, 'lib', 'm4.py'), readFileSync(join(dir, 'lib', 'm4.py'), 'utf8') + '\n# fixed\n');
    const second = await app.pub('1.0.1');
    const p = second.pushed[0];
    const size = (t: string) => second.layers.find((l) => l.title === t)?.size ?? 0;
    // The bundle changes with any file: it is part of what must be uploaded when one is published.
    const must = size('lib/m4.py') + size('manifest.json') + size('manifest.json.sig');
    const bundle = size('app-1.0.1.tar.gz');
    console.log(
      `oci publish, one file changed of ${first.layers.length - 3}: uploaded ${p.uploaded} blobs, ${p.uploadedBytes} B ` +
        `(${p.sent.join(', ')}); that file + manifest + signature = ${must} B, + the bundle ${bundle} B ` +
        `-> ${(p.uploadedBytes / (must + bundle)).toFixed(2)}x; the whole release was ${first.pushed[0].uploadedBytes} B`,
    );
    await compare('one-file delta 1.0.0 -> 1.0.1', app, app100, '1.0.0');

    // 4. A firmware image (a 300 KB ESP32 app image) with one more changed file.
    const app101 = installed(second.layers, dir);
    const img = join(work, 'app.bin');
    writeFileSync(img, image(300 * 1024));
    writeFileSync(join(dir, 'main.py'), 'import lib.m1\nprint("v1.0.2")\n');
    await app.pub('1.0.2', { firmware: img });
    await compare('update 1.0.1 -> 1.0.2 with a 300 KB firmware image', app, app101, '1.0.1', {
      partitions: { sizeKb: PART_KB },
    });
    if (https)
      await acrossChecks(https, nginxHttps, redirectedHost, exP.name, exApp, installed(ex110.layers, ex));
    if (https) {
      // What the token service answers (a JWT carrying its certificate, x5c); a board sends the token
      // back in the Authorization of every registry request after.
      const doc = await (
        await fetch(`${tokenFront!.upstream}/token?scope=repository:pub/example:pull`)
      ).text();
      const token = (JSON.parse(doc) as { token: string }).token;
      console.log(
        `\nHTTPS: the board's ClientHello is ${[...hellos].join(', ')} B (Node's TLS client; no SNI for an IP address). ` +
          `The token service's answer is ${doc.length} B, its token ${token.length} B.`,
      );
    }
    summary(rows);
  } finally {
    for (const w of wires) await w.close();
    for (const f of fronts) await f.close();
    await proxy.close();
    await tokProxy?.close();
    await gz.close();
    await plain.close();
    await ngx?.close();
    await reg.close();
    await tok?.close();
    await ghcrProxy?.close();
    await ghcr?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
