// The board's network stack, on the main thread: TCP sockets with Node's `net`, answered to the worker
// through shared memory. Errors become the errno numbers MicroPython's socket raises on ESP32 boards.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { HostCall } from './protocol';

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

/** mbedTLS's MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: what a board's ssl raises for a certificate it refuses. */
export const CERT_VERIFY_FAILED = -9984;

/** What a host call answers: a result number and, for reads, the bytes to hand over. */
export interface Answer {
  result: number;
  bytes?: Uint8Array;
}

interface HostSocket {
  sock: net.Socket;
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

  async handle(call: Exclude<HostCall, { op: 'stdin' }>): Promise<Answer> {
    switch (call.op) {
      case 'resolve':
        return this.resolve(call.host);
      case 'connect':
        return this.connect(call.host, call.port, call.timeoutMs);
      case 'send':
        return this.send(call.sock, call.bytes);
      case 'recv':
        return this.recv(call.sock, call.max, call.timeoutMs, call.line);
      case 'tls':
        return this.tls(call.sock, call.host, call.verify, call.ca);
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

  private connect(host: string, port: number, timeoutMs: number): Promise<Answer> {
    return new Promise((resolve) => {
      const sock = net.connect({ host, port });
      const entry: HostSocket = { sock, chunks: [], ended: false, error: 0, timeoutMs };
      let timer: NodeJS.Timeout | undefined;
      const settle = (a: Answer): void => {
        clearTimeout(timer);
        resolve(a);
      };
      if (timeoutMs >= 0) {
        timer = setTimeout(() => {
          sock.destroy();
          settle({ result: -Errno.ETIMEDOUT });
        }, timeoutMs);
      }
      sock.once('connect', () => {
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

  /** ssl.wrap_socket: a TLS client handshake over the connected socket. */
  private tls(id: number, host: string, verify: boolean, ca?: Uint8Array): Promise<Answer> {
    const s = this.sockets.get(id);
    if (!s) return Promise.resolve({ result: -Errno.EBADF });
    for (const ev of ['data', 'end', 'error', 'close']) s.sock.removeAllListeners(ev);
    let pem: string | undefined;
    if (ca && ca.length > 0) {
      const text = Buffer.from(ca).toString('latin1');
      pem = text.includes('-----BEGIN') ? text : new X509Certificate(Buffer.from(ca)).toString();
    }
    const secure = tls.connect({
      socket: s.sock,
      servername: net.isIP(host) || !host ? undefined : host,
      rejectUnauthorized: verify,
      ...(pem ? { ca: pem } : {}),
    });
    return new Promise((resolve) => {
      const timer =
        s.timeoutMs >= 0
          ? setTimeout(() => {
              secure.destroy();
              s.error = Errno.ETIMEDOUT;
              resolve({ result: -Errno.ETIMEDOUT });
            }, s.timeoutMs)
          : undefined;
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.removeAllListeners('error');
        s.sock = secure;
        s.chunks = [];
        this.listen(s);
        resolve({ result: 0 });
      });
      secure.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        s.error = Errno.ECONNRESET;
        resolve({
          result:
            verify && /CERT|SELF_SIGNED|ERR_TLS_CERT/.test(err.code ?? '')
              ? CERT_VERIFY_FAILED
              : -errnoOf(err),
        });
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

  private async recv(id: number, max: number, timeoutMs: number, line: boolean): Promise<Answer> {
    const s = this.sockets.get(id);
    if (!s) return { result: -Errno.EBADF };
    if (s.chunks.length === 0 && !s.ended && !s.error) {
      if (timeoutMs === 0) return { result: -Errno.EAGAIN };
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = timeoutMs > 0 ? setTimeout(() => resolve(false), timeoutMs) : undefined;
        s.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      s.wake = undefined;
      if (!arrived) return { result: -Errno.ETIMEDOUT };
    }
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
