/**
 * A small static HTTP server for a published folder, for development and the demo.
 *
 *   serveFolder(dir, { port?, host?, onRequest? }) -> Promise<FolderServer>
 *   server.url          e.g. "http://127.0.0.1:8080" (the updater's static `url`)
 *   server.bytesSent    body bytes sent so far, over all requests (bytes over the air)
 *   server.requests     one ServedRequest per answered request
 *   await server.close()
 *
 * GET/HEAD only. Range (one range: "a-b", "a-", "-n") answers 206 or 416; a strong ETag per file
 * and encoding, If-None-Match answers 304; Accept-Encoding gzip compresses full answers (never a
 * range, so offsets stay those of the file). Hidden names and anything outside the folder are 404.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { fsReason, OtaError } from '../errors';
import { servableSegment } from './names';

export interface ServedRequest {
  method: string;
  path: string;
  status: number;
  /** Body bytes sent (after compression). */
  bytes: number;
  range?: string;
  gzip: boolean;
}

export interface ServeOptions {
  /** 0 or absent: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Called once per answered request (the CLI logs from here). */
  onRequest?: (r: ServedRequest) => void;
}

export interface FolderServer {
  url: string;
  port: number;
  readonly bytesSent: number;
  requests: ServedRequest[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  json: 'application/json',
  sig: 'application/json',
  py: 'text/x-python; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  gz: 'application/gzip',
  mpy: 'application/octet-stream',
};

function contentType(path: string): string {
  if (path.endsWith('/latest')) return 'text/plain; charset=utf-8';
  return TYPES[path.slice(path.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/** Parses one byte range against a file size; null when unsatisfiable, undefined when absent or ignored. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (!m[1] && !m[2])) return undefined; // multiple or malformed ranges: answer the whole file
  if (!m[1]) {
    const n = Number(m[2]);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  if (start >= size || start > end) return null;
  return { start, end };
}

export async function serveFolder(dir: string, opts: ServeOptions = {}): Promise<FolderServer> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (err) {
    throw new OtaError(
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not_found' : 'unreadable',
      `cannot serve ${dir}: ${fsReason(err)}. Publish a release there first: ota publish --target folder --dir ${dir}`,
    );
  }
  if (!(await stat(root)).isDirectory())
    throw new OtaError('not_a_directory', `${dir} is not a directory to serve`);
  const requests: ServedRequest[] = [];
  let bytesSent = 0;

  async function resolveFile(
    urlPath: string,
  ): Promise<{ abs: string; size: number; mtimeMs: number } | undefined> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    const segments = decoded.split('/').filter(Boolean);
    // The static-host rule publishing checks against (names.ts): what passes there is served here.
    if (!segments.every(servableSegment)) return undefined;
    try {
      const abs = await realpath(join(root, ...segments));
      if (!abs.startsWith(root + sep)) return undefined;
      const st = await stat(abs);
      return st.isFile() ? { abs, size: st.size, mtimeMs: st.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: ServedRequest): Promise<void> {
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        entry.bytes += chunk.length;
        bytesSent += chunk.length;
        cb(null, chunk);
      },
    });
    const plain = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      count.pipe(res);
      count.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    const file = await resolveFile(new URL(req.url ?? '/', 'http://x').pathname);
    if (!file) return plain(404, 'not found\n');
    const range = parseRange(req.headers.range, file.size);
    const gzip = range === undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    entry.gzip = gzip;
    const tag = `"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}${gzip ? '-gz' : ''}"`;
    const common = {
      etag: tag,
      'accept-ranges': 'bytes',
      vary: 'Accept-Encoding',
      'cache-control': 'no-cache',
    };
    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === tag || t.trim() === '*')) {
      res.writeHead(304, common);
      return void res.end();
    }
    if (range === null) {
      return plain(416, 'range not satisfiable\n', { 'content-range': `bytes */${file.size}` });
    }
    const type = contentType(file.abs);
    if (range) {
      entry.range = req.headers.range;
      res.writeHead(206, {
        ...common,
        'content-type': type,
        'content-length': String(range.end - range.start + 1),
        'content-range': `bytes ${range.start}-${range.end}/${file.size}`,
      });
    } else if (gzip) {
      res.writeHead(200, { ...common, 'content-type': type, 'content-encoding': 'gzip' });
    } else {
      res.writeHead(200, { ...common, 'content-type': type, 'content-length': String(file.size) });
    }
    if (req.method === 'HEAD') return void res.end();
    const source = createReadStream(file.abs, range ?? {});
    if (gzip) await pipeline(source, createGzip(), count, res);
    else await pipeline(source, count, res);
  }

  const server = createServer((req, res) => {
    const entry: ServedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      bytes: 0,
      gzip: false,
    };
    res.on('close', () => {
      entry.status = res.statusCode;
      requests.push(entry);
      opts.onRequest?.(entry);
    });
    handle(req, res, entry).catch(() => res.destroy()); // a client gone mid-body: nothing to answer
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new OtaError('port_in_use', `port ${opts.port} is already in use: pick another with --port`)
          : err,
      ),
    );
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    get bytesSent() {
      return bytesSent;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
