// A hostile front for the attack suite (test/attack-updater.test.ts): a raw TCP server on 127.0.0.1
// in front of a real release host (the static folder server, the GitHub mock's origins, the
// docker-registry). It forwards each request, reads the real answer, classifies it (the release
// document, manifest.json, its signature, the file under attack) and, when the running case targets
// that kind, writes whatever bytes the case wants instead: broken framing, endless or dripping
// bodies, redirects, wrong ranges. Locations and JSON bodies naming an upstream origin are rewritten
// to its front, so every request of an update (redirects and asset URLs too) passes a front.
// The board drives the cases itself through /__ctl/ (see the suite's driver).
import { createServer, type Server, type Socket } from 'node:net';
import { request as httpRequest, STATUS_CODES } from 'node:http';

export type Kind = 'doc' | 'manifest' | 'sig' | 'file' | 'other';

export interface Answer {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

export interface Ctx {
  kind: Kind;
  path: string;
  /** The board's request headers, lower-cased names. */
  req: Record<string, string>;
  /** The real answer, origins rewritten. */
  answer: Answer;
  /** This front's origin (http://127.0.0.1:port). */
  origin: string;
  /** Another origin on 127.0.0.1 that records what arrives (redirect targets). */
  elsewhere: string;
}

/** Writes the hostile answer to the socket (the socket is the case's to end or leave dripping). */
export type Serve = (sock: Socket, ctx: Ctx) => void;

export interface Active {
  on: Kind;
  serve: Serve;
  /** How many matching answers are replaced (default: all). */
  times?: number;
}

export interface Known {
  file: Buffer;
  /** The first request of a check (latest.json, /releases/latest, /manifests/<tag>). */
  doc: RegExp;
}

export interface Front {
  origins: string[];
  elsewhere: string;
  /** Authorization headers that reached `elsewhere` (must stay empty of credentials). */
  elsewhereAuth: (string | undefined)[];
  /** Control requests (/__ctl/<what>) go to this handler; its string is the answer body. */
  control: (what: string) => string;
  active: Active | undefined;
  close(): Promise<void>;
}

function head(status: number, headers: [string, string][]): Buffer {
  const reason = STATUS_CODES[status] ?? 'X';
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`,
  );
}

/** The answer as a well-formed HTTP/1.1 message (Content-Length framing, connection closed). */
export function framed(a: Answer, extra: [string, string][] = [], length = String(a.body.length)): Buffer {
  const drop = new Set(['content-length', 'transfer-encoding', 'connection']);
  const hs = a.headers.filter(([k]) => !drop.has(k));
  return Buffer.concat([
    head(a.status, [...hs, ...extra, ['content-length', length], ['connection', 'close']]),
    a.body,
  ]);
}

export function headOf(a: Answer, extra: [string, string][] = []): Buffer {
  const drop = new Set(['content-length', 'transfer-encoding', 'connection']);
  return head(a.status, [...a.headers.filter(([k]) => !drop.has(k)), ...extra, ['connection', 'close']]);
}

const timers = new Set<NodeJS.Timeout>();

/** Sends `data` a piece every `ms` until it is sent or the board hangs up (slowloris). */
export function drip(sock: Socket, data: Buffer, ms: number, piece = 1): void {
  let i = 0;
  const t = setInterval(() => {
    if (sock.destroyed || i >= data.length) {
      clearInterval(t);
      timers.delete(t);
      if (!sock.destroyed) sock.end();
      return;
    }
    sock.write(data.subarray(i, i + piece));
    i += piece;
  }, ms);
  timers.add(t);
  sock.once('close', () => {
    clearInterval(t);
    timers.delete(t);
  });
}

/** Writes `make(i)` again and again while the board reads, up to `max` bytes (an endless body). */
export function flood(sock: Socket, make: (i: number) => Buffer, max: number): void {
  let sent = 0;
  let i = 0;
  const pump = (): void => {
    while (!sock.destroyed && sent < max) {
      const b = make(i++);
      sent += b.length;
      if (!sock.write(b)) return void sock.once('drain', pump);
    }
    if (!sock.destroyed) sock.end();
  };
  sock.on('error', () => {});
  pump();
}

/** A release manifest's bytes (what every source serves, whatever its path or blob digest). */
function isManifest(b: Buffer): boolean {
  if (b[0] !== 0x7b) return false;
  try {
    const j = JSON.parse(b.toString('utf8')) as { schema?: unknown; files?: unknown };
    return typeof j.schema === 'number' && Array.isArray(j.files);
  } catch {
    return false;
  }
}

interface Upstream {
  origin: string;
  host: string;
  port: number;
}

function parseOrigin(o: string): Upstream {
  const u = new URL(o);
  return { origin: o, host: u.hostname, port: Number(u.port) };
}

function fetchUpstream(up: Upstream, path: string, req: Record<string, string>): Promise<Answer> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req)) {
    // Identity bodies only, so a file's answer can be recognised by its bytes.
    if (k !== 'host' && k !== 'accept-encoding' && k !== 'connection') headers[k] = v;
  }
  headers.host = `${up.host}:${up.port}`;
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: up.host, port: up.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const hs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          hs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        resolve({ status: res.statusCode ?? 502, headers: hs, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

export function readHead(sock: Socket): Promise<{ path: string; req: Record<string, string> } | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 65536) sock.destroy();
        return;
      }
      sock.off('data', onData);
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const path = lines[0].split(' ')[1] ?? '/';
      const req: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) req[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ path, req });
    };
    sock.on('data', onData);
    sock.on('error', () => resolve(undefined));
    sock.on('close', () => resolve(undefined));
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`),
    ),
  );
}

/** Fronts for `upstreams` (origins), sharing one running case. */
export async function startFronts(upstreams: string[], known: Known): Promise<Front> {
  const ups = upstreams.map(parseOrigin);
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const front: Front = {
    origins: [],
    elsewhere: '',
    elsewhereAuth: [],
    control: () => '',
    active: undefined,
    close: async () => {
      for (const t of timers) clearInterval(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const rewrite = (s: string): string => {
    for (let i = 0; i < ups.length; i++) s = s.split(ups[i].origin).join(front.origins[i]);
    return s;
  };
  const kindOf = (path: string, a: Answer): Kind => {
    const partial = a.status === 206 && a.body.length > 0;
    const is = (b: Buffer | undefined): boolean =>
      !!b && (a.body.equals(b) || (partial && b.subarray(b.length - a.body.length).equals(a.body)));
    if (known.doc.test(path)) return 'doc';
    if (/\.sig$/.test(path)) return 'sig';
    if (isManifest(a.body)) return 'manifest';
    if (is(known.file)) return 'file';
    return 'other';
  };
  const handle = async (sock: Socket, up: Upstream, origin: string): Promise<void> => {
    const r = await readHead(sock);
    if (!r) return;
    if (r.path.startsWith('/__ctl/')) {
      const body = Buffer.from(front.control(decodeURIComponent(r.path.slice(7))));
      return void sock.end(framed({ status: 200, headers: [], body }));
    }
    let answer: Answer;
    try {
      answer = await fetchUpstream(up, r.path, r.req);
    } catch {
      return void sock.destroy();
    }
    answer.headers = answer.headers.map(([k, v]) => [k, k === 'location' ? rewrite(v) : v]);
    if (/json/.test(answer.headers.find(([k]) => k === 'content-type')?.[1] ?? '')) {
      answer.body = Buffer.from(rewrite(answer.body.toString('utf8')));
    }
    const kind = kindOf(r.path, answer);
    const a = front.active;
    if (a && a.on === kind && (a.times === undefined || a.times > 0)) {
      if (a.times !== undefined) a.times--;
      return a.serve(sock, { kind, path: r.path, req: r.req, answer, origin, elsewhere: front.elsewhere });
    }
    sock.end(framed(answer));
  };
  for (const up of ups) {
    const server = createServer((sock) => {
      track(sock);
      handle(sock, up, origin).catch(() => sock.destroy());
    });
    servers.push(server);
    const origin = await listen(server);
    front.origins.push(origin);
  }
  const other = createServer((sock) => {
    track(sock);
    void readHead(sock).then((r) => {
      if (!r) return;
      front.elsewhereAuth.push(r.req.authorization);
      sock.end(framed({ status: 404, headers: [], body: Buffer.from('elsewhere') }));
    });
  });
  servers.push(other);
  front.elsewhere = await listen(other);
  return front;
}

/** Python run on the board: asks the front for the next row, sets it up, updates, reports done. */
export const driver = (port: number): string => `
import gc, json, socket, sys
import ota
from ota import fsx
def ctl(what):
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", ${port})[0][-1])
    s.write(b"GET /__ctl/" + what.encode() + b" HTTP/1.0\\r\\n\\r\\n")
    buf = bytearray(512)
    d = b""
    while True:
        n = s.readinto(buf)
        if not n:
            break
        d += bytes(buf[:n])
    s.close()
    return d[d.find(b"\\r\\n\\r\\n") + 4 :]
while True:
    c = ctl("next")
    if not c:
        break
    c = json.loads(c)
    with open("ota_config.json", "w") as f:
        f.write(json.dumps(c["config"]))
    if not c["keep"]:
        fsx.rmtree(".ota/stage")
    # Each row is a first check: no registry token or realm an earlier row's check taught the board
    # (test/oci-token-flow.test.ts attacks what a board remembers).
    if "ota.oci" in sys.modules:
        sys.modules["ota.oci"].kept = None
    fsx.remove(".ota/ocirealm.json")
    fsx.remove(".ota/ocirealm.json.1")
    if c["fill"]:
        left = fsx.free_bytes() - c["fill"]
        z = memoryview(bytes(4096))
        with open("filler.bin", "wb") as f:
            while left > 0:
                f.write(z[: min(4096, left)])
                left -= 4096
    print("CASE:%d" % c["i"])
    try:
        ota.update(False)
    except BaseException as e:
        print("UNCAUGHT", repr(e))
    fsx.remove("filler.bin")
    gc.collect()
    ctl("done")
`;
