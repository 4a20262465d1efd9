// Publishing: bounded-parallel GitHub uploads against one-at-a-time uploads (the throttling plugin's
// default write queue would be slower still: one write a second), and `ota serve`'s gzip against plain
// bytes for a MicroPython project. Both baselines are measured in the same run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishFolder } from '../src/core/publish/folder';
import { publishGitHub } from '../src/core/publish/github';
import { serveFolder } from '../src/core/publish/serve';
import { startGitHubMock } from '../test/support/github-mock';

const FILES = 24;
const LATENCY_MS = 80; // a plausible round trip to uploads.github.com

/** A MicroPython-like project: small Python modules and one larger data file. */
function project(dir: string): void {
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, i % 3 ? 'lib' : 'drivers');
    mkdirSync(sub, { recursive: true });
    const body = Array.from({ length: 40 + i * 5 }, (_, n) => `def f${n}(x):\n    return x * ${n} + ${i}\n`);
    writeFileSync(join(sub, `m${i}.py`), body.join('\n'));
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'ota-bench-publish-'));
  const gh = await startGitHubMock({ token: 't', uploadLatencyMs: LATENCY_MS });
  try {
    const dir = join(work, 'app');
    project(dir);
    gh.addRepo('me', 'app');
    const publish = (version: string, concurrency: number) =>
      publishGitHub({
        dir,
        version,
        build: { created: '2026-11-25T10:00:00Z' },
        repo: 'me/app',
        token: 't',
        baseUrl: gh.apiUrl,
        concurrency,
      });
    const serial = await timed(() => publish('1.0.0', 1));
    const parallel = await timed(() => publish('1.0.1', 4));
    console.log(
      `github publish, ${FILES + 1} assets, ${LATENCY_MS} ms per upload: ` +
        `1 at a time ${serial.toFixed(0)} ms, 4 at a time ${parallel.toFixed(0)} ms ` +
        `-> ${(serial / parallel).toFixed(2)}x faster`,
    );

    const site = join(work, 'site');
    await publishFolder({ dir, version: '1.0.0', outDir: site, build: { created: '2026-11-25T10:00:00Z' } });
    const server = await serveFolder(site);
    try {
      const manifest = (await (await fetch(`${server.url}/1.0.0/manifest.json`)).json()) as {
        files: { path: string }[];
      };
      const paths = manifest.files.map((f) => f.path);
      const fetchAll = async (headers: Record<string, string>) => {
        const before = server.bytesSent;
        for (const p of paths) await (await fetch(`${server.url}/1.0.0/${p}`, { headers })).arrayBuffer();
        return server.bytesSent - before;
      };
      // Node's fetch asks for gzip by itself: "identity" is the plain baseline a board without zlib gets.
      const plain = await fetchAll({ 'accept-encoding': 'identity' });
      const gz = await fetchAll({ 'accept-encoding': 'gzip' });
      console.log(
        `ota serve, ${paths.length} files: plain ${plain} B, gzip ${gz} B -> ${(gz / plain).toFixed(2)}x the bytes`,
      );
    } finally {
      await server.close();
    }
  } finally {
    await gh.close();
    rmSync(work, { recursive: true, force: true });
  }
}
