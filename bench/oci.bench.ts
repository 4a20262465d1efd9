// OCI registry target, against baselines from the same run:
// 1. bytes uploaded by `publish --target oci` for a one-file change, against that file plus the
//    manifest and its signature (what must change);
// 2. a board's bytes over the air from the registry (Debian's docker-registry behind the test
//    proxy), against the static host (`publish --target folder` served by the test static server)
//    for the same releases: the example project, a 100 KB release, a one-file delta, a firmware
//    image. Two counts: response bodies, and every byte on the board's TCP connections both ways
//    (request and status lines, headers, bodies), taken by a relay in front of each server.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { publishOci } from '../src/core/publish/oci';
import { image, PART_KB } from '../test/support/firmware-fixture';
import * as fx from '../test/support/release-fixture';
import { registryMissing, startRegistry, startRegistryProxy } from '../test/support/registry';

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
const total = (w: Wire) => w.request + w.head + w.body;

/**
 * A TCP relay that counts every byte the board and the server exchange, by kind. The board sends one
 * GET per connection (Connection: close): all it sends is request, and what it gets is the response's
 * head up to the blank line, then the body.
 */
async function wireCounter(
  target: string,
): Promise<{ url: string; host: string; bytes(): Wire; close(): Promise<void> }> {
  const t = new URL(target);
  const seen: Wire = { request: 0, head: 0, body: 0 };
  const server = createServer((c) => {
    const up = connect(Number(t.port), t.hostname);
    let head = Buffer.alloc(0);
    let inBody = false;
    c.on('data', (d: Buffer) => (seen.request += d.length));
    up.on('data', (d: Buffer) => {
      if (inBody) return void (seen.body += d.length);
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      inBody = true;
      seen.head += end + 4;
      seen.body += head.length - end - 4;
    });
    up.on('end', () => {
      if (!inBody) seen.head += head.length;
    });
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
    bytes: () => ({ ...seen }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

interface Counted {
  body: number;
  wire: Wire;
  requests: number;
  /** The response bodies' sizes, in order (what each request brought). */
  bodies: number[];
}

async function boardBytes(
  config: Record<string, unknown>,
  app: fx.AppFiles,
  version: string,
  served: { bytes: number }[],
  wire: () => Wire,
  partitions?: { sizeKb: number },
): Promise<Counted> {
  const fsDir = fx.makeBoard({ retries: 0, ...config }, app, version || undefined);
  try {
    const w = wire();
    const n = served.length;
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update(False)\n', partitions });
    const errs = fx.errorCodes(r.output);
    if (errs.length) throw new Error(`board: ${errs.join(' ')}\n${r.output}`);
    const now = wire();
    const bodies = served.slice(n).map((q) => q.bytes);
    return {
      body: bodies.reduce((a, b) => a + b, 0),
      wire: { request: now.request - w.request, head: now.head - w.head, body: now.body - w.body },
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

export async function run(): Promise<void> {
  if (registryMissing()) return;
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-oci-'));
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
  const wires = await Promise.all([proxy.url, plain.url, gz.url].map(wireCounter));
  const [ociWire, plainWire, gzWire] = wires;
  try {
    const key = await generateKey('ed25519', {
      path: join(work, 'keys', 'k.json'),
      project: join(work, 'projects'),
    });
    const trust = await deviceTrustEntry(key.path);
    let repo = 0;
    /** One project published to both hosts: a static site of its own and a repository of its own. */
    const project = (dir: string) => {
      const name = `app${repo++}`;
      const out = join(site, name);
      return {
        name,
        pub: async (version: string, opts: { firmware?: string; bundle?: boolean } = {}) => {
          const build = { created, firmware: opts.firmware };
          const bundle = opts.bundle ?? true;
          await publishFolder({ dir, version, outDir: out, signKeyFile: key.path, bundle, build });
          const ref = `${reg.host}/me/${name}`;
          return publishOci({ dir, version, ref, signKeyFile: key.path, bundle, build });
        },
      };
    };
    const rows: string[] = [];
    const compare = async (
      name: string,
      repoName: string,
      app: fx.AppFiles,
      version: string,
      parts?: { sizeKb: number },
    ) => {
      const oci = { source: 'oci', ref: `${ociWire.host}/me/${repoName}`, keys: [trust] };
      const o = await boardBytes(oci, app, version, proxy.requests, ociWire.bytes, parts);
      const st = { source: 'static', keys: [trust] };
      const url = (w: { url: string }) => `${w.url}/${repoName}`;
      const s = await boardBytes(
        { ...st, url: url(plainWire) },
        app,
        version,
        plain.requests,
        plainWire.bytes,
        parts,
      );
      const g = await boardBytes({ ...st, url: url(gzWire) }, app, version, gz.requests, gzWire.bytes, parts);
      // What a request costs beyond its body: request line, headers both ways.
      const head = (c: Counted) => Math.round((total(c.wire) - c.body) / c.requests);
      const ow = total(o.wire);
      const sw = total(s.wire);
      const per = (c: Counted, k: keyof Wire) => `${c.requests} x ${Math.round(c.wire[k] / c.requests)} B`;
      // The static host's first three bodies are latest.json, manifest.json and its signature.
      const envelope = o.bodies[0] - s.bodies[1] - s.bodies[2];
      const d = (k: keyof Wire) => {
        const x = o.wire[k] - s.wire[k];
        return `${x >= 0 ? '+' : ''}${x} B`;
      };
      rows.push(
        `board bytes over the air, ${name}: registry ${ow} B on the wire, ${o.body} B of bodies, ` +
          `${o.requests} requests (${head(o)} B of headers each); static host ${sw} B, ${s.body} B, ` +
          `${s.requests} requests (${head(s)} B each) -> ${(ow / sw).toFixed(3)}x on the wire, ` +
          `${(o.body / s.body).toFixed(3)}x of bodies; static host with gzip ${total(g.wire)} B -> ` +
          `${(ow / total(g.wire)).toFixed(3)}x\n` +
          `  where the registry's extra ${ow - sw} B go: response heads ${d('head')} ` +
          `(${per(o, 'head')} vs ${per(s, 'head')}), the board's requests ${d('request')} ` +
          `(${per(o, 'request')} vs ${per(s, 'request')}), bodies ${d('body')} ` +
          `(the .board's OCI envelope, its bytes beside manifest.json and the signature: ${envelope} B, ` +
          `against latest.json's ${s.bodies[0]} B)`,
      );
      console.log(rows[rows.length - 1]);
    };

    // 1. The example project: 1.0.0 from nothing (the bundle), then 1.1.0 (one file changed).
    const ex = join(work, 'projects', 'weather-station');
    cpSync(join(__dirname, '..', 'examples', 'weather-station'), ex, { recursive: true });
    const exP = project(ex);
    const ex100 = await exP.pub('1.0.0');
    const exApp = installed(ex100.layers, ex);
    cpSync(join(ex, 'updates', '1.1.0'), ex, { recursive: true });
    await exP.pub('1.1.0');
    await compare('example project, first install 1.1.0 (bundle)', exP.name, {}, '');
    await compare('example project, update 1.0.0 -> 1.1.0 (one file)', exP.name, exApp, '1.0.0');

    // 2. A 100 KB release (40 modules of 2.5 KB), first install from the bundle and file by file.
    const big = join(work, 'projects', 'big');
    modules(big, 40, 2500, 1);
    const bigP = project(big);
    await bigP.pub('1.0.0');
    await compare('100 KB release, first install (bundle)', bigP.name, {}, '');
    const bigFiles = project(big);
    await bigFiles.pub('1.0.0', { bundle: false });
    await compare('100 KB release, first install (file by file)', bigFiles.name, {}, '');

    // 3. A one-file delta: 16 small modules and a 12 KB data file, one module changed.
    const dir = join(work, 'projects', 'app');
    smallProject(dir);
    const app = project(dir);
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
    await compare('one-file delta 1.0.0 -> 1.0.1', app.name, app100, '1.0.0');

    // 4. A firmware image (a 300 KB ESP32 app image) with one more changed file.
    const app101 = installed(second.layers, dir);
    const img = join(work, 'app.bin');
    writeFileSync(img, image(300 * 1024));
    writeFileSync(join(dir, 'main.py'), 'import lib.m1\nprint("v1.0.2")\n');
    await app.pub('1.0.2', { firmware: img });
    await compare('update 1.0.1 -> 1.0.2 with a 300 KB firmware image', app.name, app101, '1.0.1', {
      sizeKb: PART_KB,
    });
  } finally {
    for (const w of wires) await w.close();
    await proxy.close();
    await gz.close();
    await plain.close();
    await reg.close();
    rmSync(work, { recursive: true, force: true });
  }
}
