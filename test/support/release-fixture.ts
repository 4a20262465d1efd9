// Releases and boards for the updater tests: app folders for 1.0.0 and 1.1.0,
// their manifests (built by src/core/manifest.ts), detached signatures made
// with Node's crypto over the exact manifest bytes, the static-host folder
// layout of docs/protocols.md, and a board filesystem with the updater installed.
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { buildManifest, serializeManifest } from '../../src/core/manifest';
import { writeBundle } from '../../src/core/bundle';
import type { Manifest } from '../../src/core/manifest-types';
import { parseEventLine, type OtaEvent } from '../../src/core/events';
import { runBoard as simRunBoard, type RunResult } from '../../src/sim/board';

export const DEVICE_DIR = join(__dirname, '..', '..', 'device');

export type AppFiles = Record<string, string | Buffer>;

/** 1.0.0: main.py, lib/util.py, old.py, settings.json (kept). */
export const APP_1_0_0: AppFiles = {
  'main.py': 'import lib.util\nprint("app 1.0.0")\n',
  'lib/util.py': 'def add(a, b):\n    return a + b\n',
  'old.py': 'print("going away")\n',
  'settings.json': '{"shipped": true}\n',
};

/** 1.1.0 changes main.py, adds lib/new.py and a post_update hook, deletes old.py, keeps settings.json. */
export const APP_1_1_0: AppFiles = {
  'main.py': 'import lib.util\nimport lib.new\nprint("app 1.1.0")\n',
  'lib/util.py': 'def add(a, b):\n    return a + b\n',
  'lib/new.py': 'X = 42\n' + '# padding\n'.repeat(200),
  'settings.json': '{"shipped": true, "v": 2}\n',
  'ota_hooks/post.py': 'f = open("hook_ran.txt", "w")\nf.write("1.1.0")\nf.close()\n',
};

/**
 * The heap every updater test gives the virtual board: what an ESP32 or RP2040 W has free for the
 * updater (~100 KB) plus room for the garbage made between the updater's gc.collect() calls.
 */
export const BOARD_HEAP_KB = 160;

/** runBoard() with the board's heap at BOARD_HEAP_KB unless a test says otherwise. */
export function runBoard(opts: Parameters<typeof simRunBoard>[0]): Promise<RunResult> {
  return simRunBoard({ heapKb: BOARD_HEAP_KB, ...opts });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ota-${prefix}-`));
}

export function writeTree(dir: string, files: AppFiles): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
}

/** Every file under dir (relative paths), skipping `skip` top-level names. */
export function listTree(dir: string, skip: string[] = []): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (!rel && skip.includes(name)) continue;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** path -> sha256 of every file under dir, for comparing a board with a release. */
export function hashTree(dir: string, skip: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of listTree(dir, skip))
    out[p] = createHash('sha256')
      .update(readFileSync(join(dir, p)))
      .digest('hex');
  return out;
}

export function hashFiles(files: AppFiles): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of Object.keys(files).sort()) out[p] = createHash('sha256').update(files[p]).digest('hex');
  return out;
}

export interface Keys {
  hmac: Buffer;
  ed25519: { privateKey: KeyObject; publicRaw: Buffer };
  rsa: { privateKey: KeyObject; modulus: Buffer };
}

export function makeKeys(): Keys {
  const ed = generateKeyPairSync('ed25519');
  const edJwk = ed.publicKey.export({ format: 'jwk' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const rsaJwk = rsa.publicKey.export({ format: 'jwk' });
  return {
    hmac: randomBytes(32),
    ed25519: { privateKey: ed.privateKey, publicRaw: Buffer.from(edJwk.x!, 'base64url') },
    rsa: { privateKey: rsa.privateKey, modulus: Buffer.from(rsaJwk.n!, 'base64url') },
  };
}

export type Alg = 'hmac-sha256' | 'ed25519' | 'rsa-sha256';

/** The manifest.json.sig document for these exact bytes. */
export function signBytes(keys: Keys, alg: Alg, bytes: Buffer, keyId = 'k1'): Buffer {
  let sig: Buffer;
  if (alg === 'hmac-sha256') sig = createHmac('sha256', keys.hmac).update(bytes).digest();
  else if (alg === 'ed25519') sig = cryptoSign(null, bytes, keys.ed25519.privateKey);
  else sig = cryptoSign('sha256', bytes, keys.rsa.privateKey);
  return Buffer.from(JSON.stringify({ alg, key: keyId, sig: sig.toString('base64') }));
}

/** The config "keys" entry a board needs to check `alg` signatures. */
export function boardKey(keys: Keys, alg: Alg, keyId = 'k1'): { alg: Alg; id: string; key: string } {
  const raw =
    alg === 'hmac-sha256' ? keys.hmac : alg === 'ed25519' ? keys.ed25519.publicRaw : keys.rsa.modulus;
  return { alg, id: keyId, key: raw.toString('base64') };
}

export interface Release {
  version: string;
  dir: string;
  manifest: Manifest;
  bytes: Buffer;
  bundlePath?: string;
}

export interface ReleaseOptions {
  delete?: string[];
  keep?: string[];
  hooks?: { post_update?: string; rollback?: string };
  expires?: string;
  bundle?: boolean;
  /** The manifest's project name ('app' unless set). */
  name?: string;
}

/** Builds a release folder and its manifest with the project's own manifest code. */
export async function makeRelease(
  version: string,
  files: AppFiles,
  opts: ReleaseOptions = {},
): Promise<Release> {
  const dir = tempDir(`rel-${version}`);
  writeTree(dir, files);
  let manifest = await buildManifest(dir, {
    version,
    name: opts.name ?? 'app',
    created: '2026-11-01T00:00:00Z',
    delete: opts.delete,
    keep: opts.keep,
    hooks: opts.hooks,
    expires: opts.expires,
  });
  let bundlePath: string | undefined;
  if (opts.bundle) {
    bundlePath = join(tempDir('bundle'), `app-${version}.tar.gz`);
    const bundle = await writeBundle(dir, manifest.files, bundlePath);
    manifest = { ...manifest, bundle };
  }
  return { version, dir, manifest, bytes: serializeManifest(manifest), bundlePath };
}

export interface PublishOptions {
  sign?: { keys: Keys; alg: Alg; keyId?: string };
  /** Replace the manifest bytes after signing (tamper tests). */
  manifestBytes?: Buffer;
}

/** Static host layout: latest.json, <version>/manifest.json(.sig), <version>/<path>, bundle. */
export function publishStatic(root: string, rel: Release, opts: PublishOptions = {}): void {
  const vdir = join(root, rel.version);
  mkdirSync(vdir, { recursive: true });
  for (const f of rel.manifest.files) {
    mkdirSync(dirname(join(vdir, f.path)), { recursive: true });
    cpSync(join(rel.dir, f.path), join(vdir, f.path));
  }
  if (rel.bundlePath && rel.manifest.bundle) cpSync(rel.bundlePath, join(vdir, rel.manifest.bundle.name));
  writeFileSync(join(vdir, 'manifest.json'), opts.manifestBytes ?? rel.bytes);
  if (opts.sign) {
    writeFileSync(
      join(vdir, 'manifest.json.sig'),
      signBytes(opts.sign.keys, opts.sign.alg, rel.bytes, opts.sign.keyId),
    );
  }
  writeFileSync(
    join(root, 'latest.json'),
    JSON.stringify({ version: rel.version, manifest: `${rel.version}/manifest.json` }),
  );
}

/** A board filesystem: the updater, boot.py calling ota.boot(), config, and an installed app. */
export function makeBoard(
  config: Record<string, unknown>,
  app: AppFiles,
  version: string | undefined,
): string {
  const fsDir = tempDir('board');
  cpSync(join(DEVICE_DIR, 'ota'), join(fsDir, 'ota'), { recursive: true });
  writeFileSync(join(fsDir, 'boot.py'), 'import ota\nota.boot()\n');
  writeFileSync(join(fsDir, 'ota_config.json'), JSON.stringify(config));
  writeTree(fsDir, app);
  if (version) writeFileSync(join(fsDir, 'version.json'), JSON.stringify({ version }));
  return fsDir;
}

/**
 * A board on 1.1.0 (its checks are idle: nothing new), or on 1.0.0 (`old`: a check updates it), whose
 * config is `config` trusting `caPem` (written to certs/ca.pem, named by "tls": {"ca": …}).
 */
export function makeTlsBoard(config: Record<string, unknown>, caPem: string | Buffer, old = false): string {
  const withCa = { ...config, tls: { ca: 'certs/ca.pem' } };
  const fsDir = old ? makeBoard(withCa, APP_1_0_0, '1.0.0') : makeBoard(withCa, APP_1_1_0, '1.1.0');
  mkdirSync(join(fsDir, 'certs'));
  writeFileSync(join(fsDir, 'certs', 'ca.pem'), caPem);
  return fsDir;
}

/** Files that are the app's (what must equal one release or the other): all but the updater's. */
export const NOT_APP = ['ota', '.ota', 'boot.py', 'ota_config.json', 'version.json', 'hook_ran.txt'];

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export interface ServedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  /** Body bytes sent. */
  bytes: number;
}

/** Answers a request itself (fault injection) and returns true, or returns false to serve the file. */
export type Intercept = (req: IncomingMessage, res: ServerResponse, rec: ServedRequest) => boolean;

export interface StaticServer {
  url: string;
  requests: ServedRequest[];
  close(): Promise<void>;
}

/**
 * Serves a folder over HTTP on 127.0.0.1 with Range (206), ETag/If-None-Match (304) and gzip,
 * logging every request and the body bytes sent (bytes over the air).
 */
export async function serveFolder(
  root: string,
  intercept?: Intercept,
  tls?: import('node:https').ServerOptions,
): Promise<StaticServer> {
  const { createServer } = await import('node:http');
  const https = await import('node:https');
  const requests: ServedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const rec: ServedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      status: 0,
      bytes: 0,
    };
    requests.push(rec);
    if (intercept?.(req, res, rec)) return;
    const send = (status: number, body: Buffer, headers: Record<string, string> = {}): void => {
      rec.status = status;
      rec.bytes = body.length;
      res.writeHead(status, { 'content-length': String(body.length), ...headers });
      res.end(body);
    };
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = join(root, rel);
    if (rel.includes('..') || !file.startsWith(root)) return send(400, Buffer.from('bad path'));
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      return send(404, Buffer.from('not found'));
    }
    const etag = `"${createHash('sha1').update(body).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) return send(304, Buffer.alloc(0), { etag });
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const start = Number(range[1]);
      if (start >= body.length)
        return send(416, Buffer.alloc(0), { 'content-range': `bytes */${body.length}` });
      return send(206, body.subarray(start), {
        etag,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    }
    // Like nginx's `gzip on`: a whole-file answer is compressed when the client accepts gzip.
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      return send(200, gzipSync(body), { etag, 'content-encoding': 'gzip', vary: 'accept-encoding' });
    }
    send(200, body, { etag });
  };
  // With `tls`: HTTPS with those certificates (and client certificates when it asks for them).
  const server = tls ? https.createServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The OTA:{...} events in a board's output, in order. */
export function eventsOf(output: string): OtaEvent[] {
  return output.split('\n').flatMap((l) => {
    const e = parseEventLine(l);
    return e ? [e] : [];
  });
}

/** The `error` events' codes. */
export function errorCodes(output: string): string[] {
  return eventsOf(output)
    .filter((e) => e.ev === 'error')
    .map((e) => String(e.code));
}

/** A release as GitHub assets (docs/protocols.md): manifest.json(.sig) and each file named with `/` -> `__`. */
export function githubAssets(
  rel: Release,
  sign?: PublishOptions['sign'],
): { name: string; content: Buffer }[] {
  const assets: { name: string; content: Buffer }[] = rel.manifest.files.map((f) => ({
    name: f.path.replace(/\//g, '__'),
    content: readFileSync(join(rel.dir, f.path)),
  }));
  assets.push({ name: 'manifest.json', content: rel.bytes });
  if (sign)
    assets.push({
      name: 'manifest.json.sig',
      content: signBytes(sign.keys, sign.alg, rel.bytes, sign.keyId),
    });
  if (rel.bundlePath && rel.manifest.bundle) {
    assets.push({ name: rel.manifest.bundle.name, content: readFileSync(rel.bundlePath) });
  }
  return assets;
}
