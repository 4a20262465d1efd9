// The board's heap at the download step (the updater's `start` event, just before it asks for the
// bundle's 33 KB inflate window), for the same signed release from the static host and from an OCI
// registry (Debian's docker-registry; anonymous, and behind an anonymous Bearer token flow as public
// ghcr.io packages are), on the standard virtual board (fx.BOARD_HEAP_KB): free heap and the largest
// single block, the registry's against the static host's. Goal: within ~2 KB. For the bundle, also the
// largest block where the updater asks for the window: the number that decides bundle or file by file.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { publishOci } from '../src/core/publish/oci';
import * as fx from '../test/support/release-fixture';
import { registryMissing, startRegistry } from '../test/support/registry';
import { downloadStep, type DownloadStep } from './board-heap';

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;

export async function run(): Promise<void> {
  if (registryMissing()) return;
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-dlheap-'));
  const reg = await startRegistry();
  const tokenReg = await startRegistry({ auth: 'token', publicRepos: ['me/bundled', 'me/plain'] });
  const site = join(work, 'site');
  mkdirSync(site);
  const srv = await fx.serveFolder(site);
  const boards: string[] = [];
  try {
    const key = await generateKey('ed25519', {
      path: join(work, 'keys', 'k.json'),
      project: join(work, 'p'),
    });
    const trust = await deviceTrustEntry(key.path);
    const dir = join(work, 'app');
    fx.writeTree(dir, fx.APP_1_1_0);
    const build = { created: '2026-11-25T10:00:00Z' };
    for (const bundle of [true, false]) {
      const name = bundle ? 'bundled' : 'plain';
      await publishFolder({
        dir,
        version: '1.1.0',
        outDir: join(site, name),
        signKeyFile: key.path,
        bundle,
        build,
      });
      for (const [r, credentials] of [
        [reg, undefined],
        [tokenReg, { username: 'ota', password: 'secret-pw', from: 'bench' }],
      ] as const) {
        const ref = `${r.host}/me/${name}`;
        await publishOci({ dir, version: '1.1.0', ref, signKeyFile: key.path, bundle, build, credentials });
      }
      // A bundle is for a board with nothing installed; the other row updates 1.0.0.
      const app = bundle ? {} : fx.APP_1_0_0;
      const version = bundle ? undefined : '1.0.0';
      const measure = async (cfg: Record<string, unknown>): Promise<DownloadStep> => {
        const fsDir = fx.makeBoard({ ...cfg, keys: [trust] }, app, version);
        boards.push(fsDir);
        return downloadStep({ fsDir });
      };
      const s = await measure({ source: 'static', url: `${srv.url}/${name}` });
      const warned = (d: DownloadStep) => (/"no_memory"/.test(d.output) ? ', no_memory warning' : '');
      for (const [what, r] of [
        ['registry', reg],
        ['registry with a token', tokenReg],
      ] as const) {
        const o = await measure({ source: 'oci', ref: `${r.host}/me/${name}` });
        console.log(
          `heap at the download step, ${bundle ? 'first install (bundle)' : 'update 1.0.0 -> 1.1.0'}, ` +
            `${fx.BOARD_HEAP_KB} KB board: static free ${kb(s.free)}, largest block ${kb(s.largest)}${warned(s)}; ` +
            `${what} free ${kb(o.free)}, largest block ${kb(o.largest)}${warned(o)} -> ` +
            `${what} holds ${kb(s.free - o.free)} more, largest block ${kb(s.largest - o.largest)} smaller`,
        );
        if (s.window && o.window) {
          console.log(
            `  where the bundle's window is asked for: static largest block ${kb(s.window.largest)}, ` +
              `${what} ${kb(o.window.largest)} (the window takes 33 KB)`,
          );
        }
      }
    }
  } finally {
    await srv.close();
    await reg.close();
    await tokenReg.close();
    fx.cleanup(...boards);
    rmSync(work, { recursive: true, force: true });
  }
}
