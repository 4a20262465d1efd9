// Connection reuse in the board's HTTP client (docs/protocols.md, "Connection reuse"): a board's bytes
// over the air and its TCP connections for the same update from a static host, with reuse off (one
// connection per request, `Connection: close`, as before: the baseline) and on, measured in the same
// run on fresh boards. The switch is ota.http.KEEP, set through the board's REPL before the update.
// Every byte of the board's connections is counted both ways where they arrive: over plain HTTP by a
// relay, over HTTPS by the TLS-terminating counting front (test/support/tls-front.ts, the test CA's
// EC P-256 certificate, a chain of one; the board trusts the test CA through "tls": {"ca": …}). The
// virtual board's TLS is Node's client (TLS 1.3); a MicroPython ESP32 speaks mbedTLS, usually TLS
// 1.2, so the HTTPS rows run with the front capped at TLS 1.2 too. With reuse on, an HTTPS update
// still takes two connections: the TLS one is let go before the manifest's signature is checked and
// parsed (the heap a TLS context holds on some boards), and a new one carries the download.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { makePki } from '../test/support/pki';
import * as fx from '../test/support/release-fixture';
import { missingService } from '../test/support/service';
import { tlsFront, type FrontCounts } from '../test/support/tls-front';

const created = '2026-11-25T10:00:00Z';

interface Count {
  bytes: number;
  connections: number;
}

/** A plain TCP relay counting the board's connections and every byte both ways. */
async function relay(target: string): Promise<{ url: string; counts(): Count; close(): Promise<void> }> {
  const t = new URL(target);
  const n: Count = { bytes: 0, connections: 0 };
  const server = createServer((c) => {
    n.connections++;
    const up = connect(Number(t.port), t.hostname);
    c.on('data', (d: Buffer) => (n.bytes += d.length));
    up.on('data', (d: Buffer) => (n.bytes += d.length));
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts: () => ({ ...n }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The files of a published version (what a board running it holds). */
function versionFiles(site: string, version: string): fx.AppFiles {
  const m = JSON.parse(readFileSync(join(site, version, 'manifest.json'), 'utf8')) as {
    files: { path: string }[];
  };
  return Object.fromEntries(m.files.map((f) => [f.path, readFileSync(join(site, version, f.path))]));
}

export async function run(): Promise<void> {
  const noTls = missingService(['openssl']);
  if (noTls) console.log(`# HTTPS rows skipped: ${noTls}`);
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-keepalive-'));
  const pki = noTls ? undefined : (mkdirSync(join(work, 'pki')), makePki(join(work, 'pki')));
  const key = await generateKey('ed25519', { path: join(work, 'keys', 'k.json'), project: join(work, 'p') });
  const keys = [await deviceTrustEntry(key.path)];
  const site = join(work, 'site');
  // The example project: 1.0.0, then 1.1.0 (one file changed); and a 100 KB release without a bundle.
  const ex = join(work, 'p', 'weather-station');
  cpSync(join(__dirname, '..', 'examples', 'weather-station'), ex, { recursive: true });
  const pub = (dir: string, name: string, version: string, bundle = true) =>
    publishFolder({
      dir,
      version,
      outDir: join(site, name),
      signKeyFile: key.path,
      bundle,
      build: { created },
    });
  await pub(ex, 'example', '1.0.0');
  const ex100 = versionFiles(join(site, 'example'), '1.0.0');
  cpSync(join(ex, 'updates', '1.1.0'), ex, { recursive: true });
  await pub(ex, 'example', '1.1.0');
  const big = join(work, 'p', 'big');
  for (let i = 0; i < 40; i++) {
    const body = Array.from({ length: 60 }, (_, n) => `def f${n}_${i}(x):\n    return x * ${n} - ${i}\n`);
    mkdirSync(join(big, 'lib'), { recursive: true });
    writeFileSync(join(big, 'lib', `m${i}.py`), body.join('\n'));
  }
  await pub(big, 'big', '1.0.0', false);

  // The static host without gzip (as bench/oci.bench.ts's baseline), a relay and a TLS front before it.
  const host = await fx.serveFolder(site, (req) => {
    delete req.headers['accept-encoding'];
    return false;
  });
  const plain = await relay(host.url);
  const front = pki && (await tlsFront(host.url, pki.server));
  const transports: [string, string, () => Count, SecureVersion?][] = [['HTTP', plain.url, plain.counts]];
  if (front) {
    const count = (c: FrontCounts): Count => ({ bytes: c.sent + c.received, connections: c.connections });
    transports.push(['TLS 1.3', front.url, () => count(front.counts()), 'TLSv1.3']);
    transports.push(['TLS 1.2', front.url, () => count(front.counts()), 'TLSv1.2']);
  }
  const releases: [string, string, fx.AppFiles, string][] = [
    ['example update 1.0.0 -> 1.1.0 (one file)', 'example', ex100, '1.0.0'],
    ['example first install (bundle)', 'example', {}, ''],
    ['100 KB release, file by file (40 files)', 'big', {}, ''],
  ];
  const measure = async (
    url: string,
    counts: () => Count,
    app: fx.AppFiles,
    version: string,
    keep: boolean,
  ) => {
    const cfg = {
      source: 'static',
      url,
      keys,
      retries: 0,
      ...(url.startsWith('https') ? { tls: { ca: 'certs/ca.pem' } } : {}),
    };
    const fsDir = fx.makeBoard(cfg, app, version || undefined);
    if (pki) {
      mkdirSync(dirname(join(fsDir, 'certs', 'ca.pem')), { recursive: true });
      writeFileSync(join(fsDir, 'certs', 'ca.pem'), pki.ca.cert);
    }
    try {
      const was = counts();
      const code = `import ota, ota.http\nota.http.KEEP = ${keep ? 'True' : 'False'}\nota.update(False)\n`;
      const r = await fx.runBoard({ fsDir, code });
      const errs = fx.errorCodes(r.output);
      if (errs.length || r.error) throw new Error(`board: ${errs.join(' ')} ${r.error ?? ''}\n${r.output}`);
      const now = counts();
      return { bytes: now.bytes - was.bytes, connections: now.connections - was.connections };
    } finally {
      fx.cleanup(fsDir);
    }
  };
  const lines = [
    '| release | transport | bytes off -> on | ratio | connections off -> on |',
    '| --- | --- | --- | --- | --- |',
  ];
  try {
    for (const [release, name, app, version] of releases) {
      for (const [transport, base, counts, tlsVersion] of transports) {
        if (tlsVersion) front!.maxVersion(tlsVersion);
        const off = await measure(`${base}/${name}`, counts, app, version, false);
        const on = await measure(`${base}/${name}`, counts, app, version, true);
        const ratio = (on.bytes / off.bytes).toFixed(3);
        console.log(
          `${release}, ${transport}: reuse off ${off.bytes} B in ${off.connections} connections, ` +
            `on ${on.bytes} B in ${on.connections} -> ${ratio}x bytes`,
        );
        lines.push(
          `| ${release} | ${transport} | ${off.bytes} -> ${on.bytes} B | ${ratio}× | ` +
            `${off.connections} -> ${on.connections} |`,
        );
      }
    }
    console.log('\nboard bytes over the air with connection reuse, against one connection per request:');
    console.log(lines.join('\n'));
  } finally {
    await front?.close();
    await plain.close();
    await host.close();
    fx.cleanup(work);
  }
}
