// Manifest throughput against the tools people would otherwise use on the same files:
// `git hash-object --stdin-paths` (SHA-1) plus `sha256sum` (SHA-256), measured in the same run.
// OTA_BENCH_SCALE (default 1 = 10 000 files, 200 MB) scales the tree down for quick runs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundle } from '../src/core/bundle';
import { hashProjectFiles, listProjectFiles } from '../src/core/manifest';

const scale = Number(process.env.OTA_BENCH_SCALE ?? '1');
const FILES = Math.max(10, Math.round(10_000 * scale));
const BYTES = Math.max(1 << 20, Math.round(200 * 1024 * 1024 * scale));

/** 10 000 files over 100 directories; sizes spread 0..2x the mean, plus a few large ones as real projects have. */
function generate(dir: string): number {
  const mean = BYTES / FILES;
  let total = 0;
  for (let i = 0; i < FILES; i++) {
    const size = i % 500 === 0 ? Math.round(mean * 20) : Math.round((((i * 7919) % 1000) / 1000) * 2 * mean);
    const sub = join(dir, `d${i % 100}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.bin`), randomBytes(size));
    total += size;
  }
  return total;
}

function runTool(cmd: string, args: string[], cwd: string, input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['pipe', 'ignore', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
    p.stdin.end(input ?? '');
  });
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Best of n, so one noisy neighbour on the shared machine does not decide the ratio. */
async function best(n: number, fn: () => Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < n; i++) min = Math.min(min, await time(fn));
  return min;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-manifest-'));
  const tarGz = `${dir}.tar.gz`;
  try {
    const total = generate(dir);
    const files = await listProjectFiles(dir);
    const paths = files.map((f) => f.path);
    const list = paths.join('\n') + '\n';
    const mb = total / 1024 / 1024;
    console.log(`${files.length} files, ${mb.toFixed(1)} MB (OTA_BENCH_SCALE=${scale})`);
    // warm the page cache so every contender reads from memory
    await runTool('git', ['hash-object', '--stdin-paths'], dir, list);

    const git = await best(3, () => runTool('git', ['hash-object', '--stdin-paths'], dir, list));
    const sha256sum = await best(3, () => runTool('xargs', ['-d', '\n', 'sha256sum', '--'], dir, list));
    const ours = await best(3, async () => hashProjectFiles(await listProjectFiles(dir)));
    const baseline = git + sha256sum;
    console.log(`git hash-object --stdin-paths  ${git.toFixed(2)} s  ${(mb / git).toFixed(0)} MB/s`);
    console.log(
      `sha256sum                      ${sha256sum.toFixed(2)} s  ${(mb / sha256sum).toFixed(0)} MB/s`,
    );
    console.log(`ota manifest (walk + both)     ${ours.toFixed(2)} s  ${(mb / ours).toFixed(0)} MB/s`);
    console.log(
      `manifest throughput / (git + sha256sum) throughput = ${(baseline / ours).toFixed(2)} (goal >= 0.80)`,
    );

    const m = await hashProjectFiles(files);
    const systemTar = await best(2, () =>
      runTool(
        'tar',
        ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-czf', tarGz, '-T', '-'],
        dir,
        list,
      ),
    );
    rmSync(tarGz, { force: true });
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const bundle = await best(2, () => writeBundle(dir, m, tarGz));
    clearInterval(sampler);
    rmSync(tarGz, { force: true });
    console.log(
      `tar czf (GNU tar + gzip)       ${systemTar.toFixed(2)} s  ${(mb / systemTar).toFixed(0)} MB/s`,
    );
    console.log(`ota bundle (node zlib)         ${bundle.toFixed(2)} s  ${(mb / bundle).toFixed(0)} MB/s`);
    console.log(`bundle throughput / tar czf throughput = ${(systemTar / bundle).toFixed(2)} (goal >= 1)`);
    console.log(
      `bundle peak RSS growth ${((peak - rssBefore) / 1024 / 1024).toFixed(1)} MB for ${mb.toFixed(0)} MB of input (${(((peak - rssBefore) / total) * 100).toFixed(1)}%)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tarGz, { force: true });
  }
}
