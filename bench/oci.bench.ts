// OCI registry target, against baselines from the same run:
// 1. bytes uploaded by `publish --target oci` for a one-file change, against that file plus the
//    manifest and its signature (what must change);
// 2. a board's bytes over the air from the registry (Debian's docker-registry, a logging front
//    counting body bytes), against the static host (`publish --target folder` served by the test
//    static server) for the same releases: a one-file update, and a first install from the bundle.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { publishOci } from '../src/core/publish/oci';
import * as fx from '../test/support/release-fixture';
import { registryMissing, startRegistry, startRegistryProxy } from '../test/support/registry';

const created = '2026-11-25T10:00:00Z';

/** A MicroPython-like project: 16 small modules and a 12 KB data file. */
function project(dir: string): void {
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

async function boardBytes(
  config: Record<string, unknown>,
  app: fx.AppFiles,
  version: string,
  count: () => number,
): Promise<number> {
  const fsDir = fx.makeBoard({ retries: 0, ...config }, app, version || undefined);
  try {
    const before = count();
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    const errs = fx.errorCodes(r.output);
    if (errs.length) throw new Error(`board: ${errs.join(' ')}\n${r.output}`);
    return count() - before;
  } finally {
    fx.cleanup(fsDir);
  }
}

function tree(dir: string): fx.AppFiles {
  const out: fx.AppFiles = {};
  for (const p of fx.listTree(dir)) out[p] = readFileSync(join(dir, p));
  return out;
}

export async function run(): Promise<void> {
  if (registryMissing()) return;
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-oci-'));
  const reg = await startRegistry();
  try {
    const dir = join(work, 'projects', 'app');
    project(dir);
    const key = await generateKey('ed25519', {
      path: join(work, 'keys', 'k.json'),
      project: join(work, 'projects'),
    });
    const trust = await deviceTrustEntry(key.path);
    const app100 = tree(dir);
    const site = join(work, 'site');
    const pub = async (version: string) => {
      await publishFolder({
        dir,
        version,
        outDir: site,
        signKeyFile: key.path,
        bundle: true,
        build: { created },
      });
      return publishOci({
        dir,
        version,
        ref: `${reg.host}/me/app`,
        signKeyFile: key.path,
        bundle: true,
        build: { created },
      });
    };
    const first = await pub('1.0.0');
    writeFileSync(join(dir, 'lib', 'm4.py'), readFileSync(join(dir, 'lib', 'm4.py'), 'utf8') + '\n# fixed\n');
    const second = await pub('1.0.1');
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

    const proxy = await startRegistryProxy(reg.url);
    // The static baseline: the test static server (Range, ETag, gzip for files a board asks it for).
    const gz = await fx.serveFolder(site);
    const plain = await fx.serveFolder(site, (req) => {
      delete req.headers['accept-encoding']; // a host without gzip, like a registry
      return false;
    });
    try {
      const sum = (reqs: { bytes: number }[]) => () => reqs.reduce((n, q) => n + q.bytes, 0);
      const oci = { source: 'oci', ref: `${proxy.host}/me/app`, keys: [trust] };
      const cases: [string, fx.AppFiles, string][] = [
        ['one-file update 1.0.0 -> 1.0.1', app100, '1.0.0'],
        ['first install (bundle)', {}, ''],
      ];
      for (const [name, app, version] of cases) {
        const o = await boardBytes(oci, app, version, sum(proxy.requests));
        const s = await boardBytes(
          { source: 'static', url: plain.url, keys: [trust] },
          app,
          version,
          sum(plain.requests),
        );
        const g = await boardBytes(
          { source: 'static', url: gz.url, keys: [trust] },
          app,
          version,
          sum(gz.requests),
        );
        console.log(
          `board bytes over the air, ${name}: registry ${o} B, static host ${s} B -> ${(o / s).toFixed(2)}x; ` +
            `static host with gzip ${g} B -> ${(o / g).toFixed(2)}x`,
        );
      }
    } finally {
      await proxy.close();
      await gz.close();
      await plain.close();
    }
  } finally {
    await reg.close();
    rmSync(work, { recursive: true, force: true });
  }
}
