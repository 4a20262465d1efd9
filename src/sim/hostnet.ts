// The board's network stack, on the main thread: TCP sockets with Node's `net`, answered to the worker
// through shared memory. Errors become the errno numbers MicroPython's socket raises on ESP32 boards.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { CERT_VERIFY_FAILED, type HostCall } from './protocol';

export const Errno = {
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOTCONN: 107,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
} as const;

export { CERT_VERIFY_FAILED };

/**
 * mbedTLS's verify texts (mbedtls_x509_crt_verify_info), which MicroPython's ssl raises as ValueError for
 * a refused certificate (extmod/modtls_mbedtls.c).
 */
export const VERIFY_TEXT = {
  expired: 'The certificate validity has expired',
  future: 'The certificate validity starts in the future',
  name: 'The certificate Common Name (CN) does not match with the expected CN',
  untrusted: 'The certificate is not correctly signed by the trusted CA',
} as const;

/** What a host call answers: a result number and, for reads, the bytes to hand over. */
export interface Answer {
  result: number;
  bytes?: Uint8Array;
}

interface HostSocket {
  sock: net.Socket;
  /** The server's certificate (DER), once TLS is up. */
  peer?: Buffer;
  chunks: Buffer[];
  ended: boolean;
  error: number;
  /** The socket's timeout at connect (ms, -1: none); the TLS handshake is bounded by it as on a board. */
  timeoutMs: number;
  wake?: () => void;
}

function errnoOf(err: NodeJS.ErrnoException): number {
  switch (err.code) {
    case 'ECONNREFUSED':
      return Errno.ECONNREFUSED;
    case 'ECONNRESET':
    case 'EPIPE':
      return Errno.ECONNRESET;
    case 'ETIMEDOUT':
      return Errno.ETIMEDOUT;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return Errno.EHOSTUNREACH;
    default:
      return Errno.EIO;
  }
}

export class HostNet {
  private readonly sockets = new Map<number, HostSocket>();
  private next = 1;

  /**
   * One host call. `abort` fires when Ctrl-C answered the call already (its answer is dropped): a read
   * then leaves the bytes for the next one, and a connect or handshake cut short leaves no socket behind.
   */
  async handle(call: Exclude<HostCall, { op: 'stdin' }>, abort?: AbortSignal): Promise<Answer> {
    switch (call.op) {
      case 'resolve':
        return this.resolve(call.host);
      case 'connect':
        return this.connect(call.host, call.port, call.timeoutMs, abort);
      case 'send':
        return this.send(call.sock, call.bytes);
      case 'recv':
        return this.recv(call.sock, call.max, call.timeoutMs, call.line, abort);
      case 'tls':
        return this.tls(call, abort);
      case 'peercert': {
        const peer = this.sockets.get(call.sock)?.peer;
        return peer ? { result: peer.length, bytes: peer } : { result: -Errno.ENOTCONN };
      }
      case 'close':
        this.close(call.sock);
        return { result: 0 };
    }
  }

  /** Drops every connection, as a reset or power cut does. */
  closeAll(): void {
    for (const id of [...this.sockets.keys()]) this.close(id);
  }

  private async resolve(host: string): Promise<Answer> {
    try {
      const ip = net.isIP(host) ? host : (await lookup(host, { family: 4 })).address;
      return { result: Buffer.byteLength(ip), bytes: Buffer.from(ip) };
    } catch {
      return { result: 0 };
    }
  }

  private connect(host: string, port: number, timeoutMs: number, abort?: AbortSignal): Promise<Answer> {
    return new Promise((resolve) => {
      const sock = net.connect({ host, port });
      const entry: HostSocket = { sock, chunks: [], ended: false, error: 0, timeoutMs };
      let timer: NodeJS.Timeout | undefined;
      const cut = (): void => {
        sock.destroy();
        settle({ result: -Errno.ECONNRESET });
      };
      const settle = (a: Answer): void => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', cut);
        resolve(a);
      };
      abort?.addEventListener('abort', cut);
      if (timeoutMs >= 0) {
        timer = setTimeout(() => {
          sock.destroy();
          settle({ result: -Errno.ETIMEDOUT });
        }, timeoutMs);
      }
      sock.once('connect', () => {
        if (abort?.aborted) return; // cut() destroyed it: the program never got its number
        const id = this.next++;
        this.sockets.set(id, entry);
        settle({ result: id });
      });
      this.listen(entry);
      sock.on('error', (err: NodeJS.ErrnoException) => settle({ result: -errnoOf(err) }));
    });
  }

  private listen(entry: HostSocket): void {
    const sock = entry.sock;
    sock.on('data', (d: Buffer) => {
      entry.chunks.push(d);
      entry.wake?.();
    });
    sock.on('end', () => {
      entry.ended = true;
      entry.wake?.();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      entry.error = errnoOf(err);
      entry.wake?.();
    });
    sock.on('close', () => {
      entry.ended = true;
      entry.wake?.();
    });
  }

  /**
   * ssl.wrap_socket: a TLS client handshake over the connected socket, verified as mbedTLS does with
   * CERT_REQUIRED: the chain against the loaded CA certificates only (none loaded: nothing is trusted),
   * the validity dates against the board's clock, the host name; a refusal answers CERT_VERIFY_FAILED
   * with mbedTLS's verify text, any other failure an errno.
   */
  private tls(call: Extract<HostCall, { op: 'tls' }>, abort?: AbortSignal): Promise<Answer> {
    const s = this.sockets.get(call.sock);
    if (!s) return Promise.resolve({ result: -Errno.EBADF });
    for (const ev of ['data', 'end', 'error', 'close']) s.sock.removeAllListeners(ev);
    let ca: string[];
    let cert: string | undefined;
    let key: string | undefined;
    try {
      ca = call.ca ? pemCerts(call.ca) : [];
      cert = call.cert ? pemCerts(call.cert).join('') : undefined;
      key = call.key ? pemKey(call.key) : undefined;
    } catch {
      return Promise.resolve({ result: -Errno.EIO }); // mbedTLS: the bytes do not parse (an OSError)
    }
    const host = call.host;
    const secure = tls.connect({
      socket: s.sock,
      host,
      servername: net.isIP(host) || !host ? undefined : host,
      // The verdict is taken below, so it can use the board's clock and mbedTLS's words.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      // A verifying board trusts what it loaded, never the host's roots.
      ca: ca.length ? ca : call.verify ? [] : undefined,
      ...(cert && key ? { cert, key } : {}),
    });
    return new Promise((resolve) => {
      // A handshake cut short (timeout, Ctrl-C) leaves a socket only good for close(), as mbedTLS's does.
      const fail = (errno: number): void => {
        clearTimeout(timer);
        secure.destroy();
        s.error = errno;
        resolve({ result: -errno });
      };
      const timer = s.timeoutMs >= 0 ? setTimeout(() => fail(Errno.ETIMEDOUT), s.timeoutMs) : undefined;
      const cut = (): void => fail(Errno.ECONNRESET);
      abort?.addEventListener('abort', cut, { once: true });
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', cut);
        secure.removeAllListeners('error');
        const peer = secure.getPeerCertificate(true);
        s.peer = peer?.raw;
        const why = call.verify ? verdict(secure, peer, host, call.now) : [];
        if (why.length) {
          secure.destroy();
          s.error = Errno.ECONNRESET;
          resolve({
            result: CERT_VERIFY_FAILED,
            bytes: Buffer.from(why.map((w) => w + '\n').join('') + '\0'),
          });
          return;
        }
        s.sock = secure;
        s.chunks = [];
        this.listen(s);
        resolve({ result: 0 });
      });
      secure.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', cut);
        s.error = Errno.ECONNRESET;
        resolve({ result: -errnoOf(err) });
      });
    });
  }

  private send(id: number, bytes: Uint8Array): Promise<Answer> {
    const s = this.sockets.get(id);
    if (!s) return Promise.resolve({ result: -Errno.EBADF });
    if (s.error) return Promise.resolve({ result: -s.error });
    if (s.sock.destroyed || s.sock.writableEnded) return Promise.resolve({ result: -Errno.ENOTCONN });
    return new Promise((resolve) => {
      s.sock.write(bytes, (err) =>
        resolve(err ? { result: -(s.error || Errno.ECONNRESET) } : { result: bytes.length }),
      );
    });
  }

  private async recv(
    id: number,
    max: number,
    timeoutMs: number,
    line: boolean,
    abort?: AbortSignal,
  ): Promise<Answer> {
    const s = this.sockets.get(id);
    if (!s) return { result: -Errno.EBADF };
    if (s.chunks.length === 0 && !s.ended && !s.error) {
      if (timeoutMs === 0) return { result: -Errno.EAGAIN };
      let wake: (() => void) | undefined;
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = timeoutMs > 0 ? setTimeout(() => resolve(false), timeoutMs) : undefined;
        wake = () => {
          clearTimeout(timer);
          abort?.removeEventListener('abort', cut);
          resolve(true);
        };
        const cut = (): void => {
          clearTimeout(timer);
          resolve(false);
        };
        abort?.addEventListener('abort', cut, { once: true });
        s.wake = wake;
      });
      // Only its own waiter: a read cut short by Ctrl-C must not unhook the one that follows it.
      if (s.wake === wake) s.wake = undefined;
      if (!arrived) return { result: -Errno.ETIMEDOUT };
    }
    // Answered by Ctrl-C already: the bytes stay for the program's next read, as in a board's socket buffer.
    if (abort?.aborted) return { result: -Errno.EIO };
    if (s.chunks.length === 0) return s.error ? { result: -s.error } : { result: 0 };
    const all = s.chunks.length === 1 ? s.chunks[0] : Buffer.concat(s.chunks);
    let n = Math.min(max, all.length);
    if (line) {
      const nl = all.indexOf(10);
      if (nl >= 0 && nl < n) n = nl + 1;
    }
    s.chunks = n < all.length ? [all.subarray(n)] : [];
    return { result: n, bytes: all.subarray(0, n) };
  }

  private close(id: number): void {
    const s = this.sockets.get(id);
    if (!s) return;
    this.sockets.delete(id);
    s.sock.destroy();
  }
}

/** Node's chain errors that are about dates: the board's clock decides those instead. */
const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** mbedTLS's reasons to refuse the peer, in its order, or none. */
function verdict(
  secure: tls.TLSSocket,
  peer: tls.DetailedPeerCertificate,
  host: string,
  now: number,
): string[] {
  const why: string[] = [];
  if (!peer?.raw) return [VERIFY_TEXT.untrusted];
  const x = new X509Certificate(peer.raw);
  if (now * 1000 > Date.parse(x.validTo)) why.push(VERIFY_TEXT.expired);
  if (now * 1000 < Date.parse(x.validFrom)) why.push(VERIFY_TEXT.future);
  if (!nameMatches(host, peer)) why.push(VERIFY_TEXT.name);
  const err = secure.authorizationError as unknown as string | Error | null;
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : err;
  if (code && !DATE_ERRORS.has(code)) why.push(VERIFY_TEXT.untrusted);
  return why;
}

/**
 * mbedTLS's name check: the subjectAltName entries when there are any (DNS names with wildcards, IP
 * addresses), else the subject's CN compared with the host name as text (an IP address too).
 */
function nameMatches(host: string, peer: tls.PeerCertificate): boolean {
  if (!host) return false;
  if (peer.subjectaltname) return tls.checkServerIdentity(host, peer) === undefined;
  const cn = peer.subject?.CN;
  return typeof cn === 'string' && cn.toLowerCase() === host.toLowerCase();
}

/** CA or certificate bytes as mbedTLS takes them: PEM (any number of certificates) or one DER certificate. */
function pemCerts(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (!certs.length) throw new Error('no certificate');
    return certs.map((c) => new X509Certificate(c).toString());
  }
  return [new X509Certificate(Buffer.from(bytes)).toString()];
}

/** A private key, PEM or DER (PKCS#8, or SEC1/PKCS#1 as mbedTLS also reads). */
function pemKey(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  if (b.toString('latin1').includes('-----BEGIN'))
    return createPrivateKey(b).export({ type: 'pkcs8', format: 'pem' }) as string;
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: b, format: 'der', type }).export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
    } catch {
      // the next encoding
    }
  }
  throw new Error('unreadable key');
}
