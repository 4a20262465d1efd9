// A hostile OCI registry for test/attack-oci.test.ts: raw TCP (or TLS) servers on 127.0.0.1 that
// answer as the distribution API does (a tag's `.board` manifest, blobs by digest with Range, the
// Bearer token flow with its 401 challenge) until the running row's hook answers a request
// instead, with whatever bytes it wants. Beside the registry: `elsewhere`, another origin of the
// same scheme (a token service or blob storage on another host), and `plain`, an http:// origin
// (a downgrade). Every request that reaches any of them is recorded with its Authorization, so a
// row can tell where credentials went.
import { createHash, randomBytes } from 'node:crypto';
import { createServer as netServer, type Server, type Socket } from 'node:net';
import { createServer as tlsServer } from 'node:tls';
import { boardManifest, EMPTY_DIGEST, MANIFEST_MEDIA } from '../src/core/publish/oci';
import { framed, readHead, type Answer } from './attack-server';

export type Place = 'registry' | 'elsewhere' | 'plain';

export interface Req {
  place: Place;
  path: string;
  /** Request headers, lower-cased names. */
  req: Record<string, string>;
}

export interface Seen extends Req {
  auth?: string;
}

/** A row's answer: bytes (sent, then the connection closed), or a writer given the socket. */
export type Hooked = Buffer | ((sock: Socket) => void);
/** Undefined: the registry's normal answer. */
export type Hook = (q: Req) => Hooked | undefined;

export const REPO = 'me/app';
export const MEDIA = MANIFEST_MEDIA;
export const sha256 = (b: Buffer | string): string =>
  'sha256:' + createHash('sha256').update(b).digest('hex');

/** A release as the registry holds it: the `.board` bytes of its tag and every blob. */
export interface Stored {
  version: string;
  manifest: Buffer;
  sig: Buffer | undefined;
  board: Buffer;
  blobs: Map<string, Buffer>;
}

/** The `.board` document and blobs of a release (manifest.json bytes, signature, files by path). */
export function store(version: string, manifest: Buffer, sig: Buffer | undefined, files: Buffer[]): Stored {
  const blobs = new Map<string, Buffer>();
  for (const b of [manifest, ...(sig ? [sig] : []), ...files]) blobs.set(sha256(b), b);
  blobs.set(EMPTY_DIGEST, Buffer.from('{}'));
  const board = boardManifest(
    { digest: sha256(manifest), size: manifest.length, source: manifest },
    sig,
    version,
  );
  return { version, manifest, sig, board, blobs };
}

export interface HostileRegistry {
  registry: string;
  elsewhere: string;
  plain: string;
  /** http:// origin of /__ctl/ (the board's driver). */
  control: string;
  seen: Seen[];
  hook: Hook | undefined;
  onControl: (what: string) => string;
  /** The release the tag points at. */
  tag: Stored;
  /** The Bearer token the registry hands out and accepts. */
  token: string;
  /** Basic credentials the token service takes ("user:password"); none: anonymous pulls. */
  basic: string | undefined;
  /** The registry's normal answer to a request. */
  normal(q: Req): Answer;
  close(): Promise<void>;
}

const json = (status: number, body: unknown, headers: [string, string][] = []): Answer => ({
  status,
  headers: [['content-type', 'application/json'], ...headers],
  body: Buffer.from(JSON.stringify(body)),
});

export async function startHostileRegistry(opts: {
  tag: Stored;
  /** TLS for the registry and `elsewhere` (the board trusts the CA). */
  tls?: { cert: Buffer; key: Buffer };
  basic?: string;
}): Promise<HostileRegistry> {
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const reg: HostileRegistry = {
    registry: '',
    elsewhere: '',
    plain: '',
    control: '',
    seen: [],
    hook: undefined,
    onControl: () => '',
    tag: opts.tag,
    token: 'tok-' + randomBytes(12).toString('hex'),
    basic: opts.basic,
    normal: (q) => normal(q),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
  const challenge = (): [string, string] => [
    'www-authenticate',
    `Bearer realm="${reg.registry}/token",service="hostile",scope="repository:${REPO}:pull"`,
  ];
  const normal = (q: Req): Answer => {
    if (q.place !== 'registry') return { status: 404, headers: [], body: Buffer.from('not here') };
    const url = new URL(q.path, 'http://x');
    if (url.pathname === '/token') {
      const given = /^Basic (.+)$/.exec(q.req.authorization ?? '');
      const who = given ? Buffer.from(given[1], 'base64').toString() : undefined;
      if (reg.basic !== undefined && who !== reg.basic)
        return json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
      return json(200, { token: reg.token });
    }
    if (q.req.authorization !== `Bearer ${reg.token}`)
      return json(401, { errors: [{ code: 'UNAUTHORIZED' }] }, [challenge()]);
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m || m[1] !== REPO) return json(404, { errors: [{ code: 'NAME_UNKNOWN' }] });
    if (m[2] === 'manifests') {
      if (!m[3].endsWith('.board')) return json(404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
      const t = reg.tag;
      const etag = `"${sha256(t.board)}"`;
      const hs: [string, string][] = [
        ['content-type', MEDIA],
        ['docker-content-digest', sha256(t.board)],
        ['etag', etag],
      ];
      if (q.req['if-none-match'] === etag) return { status: 304, headers: hs, body: Buffer.alloc(0) };
      return { status: 200, headers: hs, body: t.board };
    }
    const blob = reg.tag.blobs.get(m[3]);
    if (!blob) return json(404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
    const hs: [string, string][] = [
      ['content-type', 'application/octet-stream'],
      ['docker-content-digest', m[3]],
    ];
    const range = /^bytes=(\d+)-$/.exec(q.req.range ?? '');
    if (range) {
      const from = Number(range[1]);
      hs.push(['content-range', `bytes ${from}-${blob.length - 1}/${blob.length}`]);
      return { status: 206, headers: hs, body: blob.subarray(from) };
    }
    return { status: 200, headers: hs, body: blob };
  };
  const handle = async (sock: Socket, place: Place): Promise<void> => {
    const h = await readHead(sock);
    if (!h) return;
    const q: Req = { place, path: h.path, req: h.req };
    reg.seen.push({ ...q, auth: h.req.authorization });
    const hooked = reg.hook?.(q);
    if (hooked === undefined) return void sock.end(framed(normal(q)));
    if (Buffer.isBuffer(hooked)) return void sock.end(hooked);
    hooked(sock);
  };
  const serve = async (place: Place, tls: boolean): Promise<string> => {
    const onSocket = (sock: Socket): void => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {});
      handle(sock, place).catch(() => sock.destroy());
    };
    const server = tls && opts.tls ? tlsServer({ ...opts.tls }, onSocket) : netServer(onSocket);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    return `${tls && opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  };
  reg.registry = await serve('registry', true);
  reg.elsewhere = await serve('elsewhere', true);
  reg.plain = await serve('plain', false);
  const ctl = netServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    void readHead(sock).then((h) => {
      if (!h) return;
      const body = Buffer.from(reg.onControl(decodeURIComponent(h.path.replace(/^\/__ctl\//, ''))));
      sock.end(framed({ status: 200, headers: [], body }));
    });
  });
  servers.push(ctl);
  await new Promise<void>((r) => ctl.listen(0, '127.0.0.1', r));
  reg.control = `http://127.0.0.1:${(ctl.address() as { port: number }).port}`;
  return reg;
}
