// An HTTPS front for a plain-HTTP test server (a static host, a registry, a token service) that counts
// what a client's radio would move: every byte on the client's TCP connections, both ways, as it
// crosses the wire (TLS records: handshakes, session tickets, application data, alerts), beside the
// HTTP bytes those records carried. Two stages so that the count is exact and needs no TLS
// internals: the client connects to a TCP relay that counts, and behind it a TLS server terminates
// (the certificate given, e.g. from pki.ts) and pipes the plaintext to the upstream server.
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface FrontCounts {
  /** TCP connections the client opened. */
  connections: number;
  /** Connections that completed the handshake and reached the upstream. */
  forwarded: number;
  /** TCP payload bytes from the client, and to it. */
  sent: number;
  received: number;
  /** The HTTP bytes inside the TLS, both ways (what a plain-HTTP host would carry). */
  plain: number;
  /** Each connection's first record from the client (the ClientHello), in bytes. */
  hellos: number[];
}

export interface TlsFront {
  /** https://127.0.0.1:port */
  url: string;
  /** 127.0.0.1:port */
  host: string;
  counts(): FrontCounts;
  /** The plain-HTTP server the front forwards to (http://host:port); may be set after start. */
  upstream?: string;
  /** The highest TLS version offered to connections from now on (default: Node's, TLS 1.3). */
  maxVersion(v: tls.SecureVersion): void;
  close(): Promise<void>;
}

const listen = (s: net.Server) =>
  new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));

/** Each end's bytes and end to the other; both cut when either fails (a refused handshake). */
function join(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

export async function tlsFront(
  upstream: string | undefined,
  pair: { cert: Buffer; key: Buffer },
  opts: { maxVersion?: tls.SecureVersion } = {},
): Promise<TlsFront> {
  const n: FrontCounts = { connections: 0, forwarded: 0, sent: 0, received: 0, plain: 0, hellos: [] };
  const open = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  };
  const front: TlsFront = {
    url: '',
    host: '',
    upstream,
    counts: () => ({ ...n, hellos: [...n.hellos] }),
    maxVersion: (v) => terminator.setSecureContext({ cert: pair.cert, key: pair.key, maxVersion: v }),
    close: async () => {
      for (const s of open) s.destroy();
      await Promise.all([terminator, relay].map((s) => new Promise((r) => s.close(r))));
    },
  };
  const terminator = tls.createServer(
    { cert: pair.cert, key: pair.key, ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}) },
    (s) => {
      track(s);
      if (!front.upstream) return s.destroy();
      const u = new URL(front.upstream);
      n.forwarded++;
      const up = net.connect(Number(u.port), u.hostname);
      track(up);
      s.on('data', (d: Buffer) => (n.plain += d.length));
      up.on('data', (d: Buffer) => (n.plain += d.length));
      join(s, up);
    },
  );
  // A client that refuses the certificate ends the handshake: not the front's failure.
  terminator.on('tlsClientError', () => undefined);
  const inner = await listen(terminator);
  const relay = net.createServer((c) => {
    track(c);
    n.connections++;
    let first = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      n.sent += d.length;
      if (first.length >= 5) return;
      first = Buffer.concat([first, d]);
      if (first.length >= 5) n.hellos.push(5 + first.readUInt16BE(3));
    });
    const t = net.connect(inner, '127.0.0.1');
    track(t);
    t.on('data', (d: Buffer) => (n.received += d.length));
    join(c, t);
  });
  const port = await listen(relay);
  front.host = `127.0.0.1:${port}`;
  front.url = `https://${front.host}`;
  return front;
}

/** The difference of two counts (what happened in between). */
export function since(before: FrontCounts, now: FrontCounts): FrontCounts {
  return {
    connections: now.connections - before.connections,
    forwarded: now.forwarded - before.forwarded,
    sent: now.sent - before.sent,
    received: now.received - before.received,
    plain: now.plain - before.plain,
    hellos: now.hellos.slice(before.hellos.length),
  };
}
