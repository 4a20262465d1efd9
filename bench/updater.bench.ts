// The on-board updater on the virtual board:
// 1. heap during the update of a 100 KB and a 1 MB file: gc.collect() then gc.mem_alloc() at every
//    OTA event (up to 8 per file, and each phase), the highest above idle: the live heap at those
//    instants (between events the streaming loop allocates nothing per chunk);
// 2. bytes over the air for a one-file change in a 50-file app, against the whole bundle
//    and against the goal 1.1 x (gzip of the changed file + manifest);
// 3. signature check time on the board per algorithm, against HMAC-SHA256.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { runBoard } from '../src/sim/board';
import * as fx from '../test/support/release-fixture';

// Records the heap after a collection at each event, by wrapping the event function every updater
// module imported (from ota.log import ev): the highest while files stream and over the whole update.
const SAMPLER = `
import gc, sys
_peak = {'progress': 0, 'all': 0}
_ev = sys.modules['ota.log'].ev
def _sample(name, **kw):
    gc.collect()
    m = gc.mem_alloc()
    _peak['all'] = max(_peak['all'], m)
    if name == 'progress':
        _peak['progress'] = max(_peak['progress'], m)
    _ev(name, **kw)
for _n in list(sys.modules):
    if _n.startswith('ota.') and hasattr(sys.modules[_n], 'ev'):
        sys.modules[_n].ev = _sample
`;

function text(bytes: number, seed: number): string {
  let s = '';
  for (let i = 0; s.length < bytes; i++)
    s += `def f_${seed}_${i}(x):\n    return x * ${i} + ${seed}  # step ${i}\n`;
  return s.slice(0, bytes);
}

interface Heap {
  idle: number;
  /** Highest heap above idle while the file streamed (progress events). */
  streaming: number;
  /** Highest heap above idle over the whole update. */
  update: number;
}

async function heapFor(size: number): Promise<Heap> {
  const rel = await fx.makeRelease('1.1.0', { ...fx.APP_1_0_0, 'data.bin': randomBytes(size) });
  const host = fx.tempDir('bench-host');
  fx.publishStatic(host, rel);
  const srv = await fx.serveFolder(host);
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
  try {
    const code = [
      'import gc, ota',
      'import ota.log, ota.updater, ota.fetch, ota.http, ota.source, ota.journal, ota.manifest, ota.sha1, ota.fsx, ota.sig',
      SAMPLER,
      'gc.collect()',
      'idle = gc.mem_alloc()',
      'ota.update(reset=False)',
      'print("HEAP", idle, _peak["progress"], _peak["all"])',
    ].join('\n');
    // Room for garbage between collections: the virtual board collects only on gc.collect().
    const r = await runBoard({ fsDir, flashKb: 4096, heapKb: 1024, code, timeoutMs: 120_000 });
    const m = /HEAP (\d+) (\d+) (\d+)/.exec(r.output);
    if (!m || fx.errorCodes(r.output).length) throw new Error(`update failed: ${r.output}${r.error ?? ''}`);
    const [idle, streaming, update] = m.slice(1).map(Number);
    return { idle, streaming: streaming - idle, update: update - idle };
  } finally {
    await srv.close();
    fx.cleanup(rel.dir, host, fsDir);
  }
}

async function overTheAir(): Promise<void> {
  const v1: fx.AppFiles = {};
  for (let i = 0; i < 50; i++) v1[`app/mod${i}.py`] = text(1000 + ((i * 397) % 3000), i);
  const v2 = { ...v1, 'app/mod7.py': text(1000 + ((7 * 397) % 3000), 7).replace('step 3', 'step three') };
  const rel = await fx.makeRelease('1.1.0', v2, { bundle: true });
  const host = fx.tempDir('bench-host');
  fx.publishStatic(host, rel);
  const srv = await fx.serveFolder(host);
  const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, v1, '1.0.0');
  try {
    const r = await runBoard({ fsDir, code: 'import ota\nota.update(reset=False)\n', timeoutMs: 120_000 });
    if (fx.errorCodes(r.output).length) throw new Error(r.output);
    const air = srv.requests.reduce((n, q) => n + q.bytes, 0);
    const bundle = rel.manifest.bundle!.size;
    const goal = 1.1 * (gzipSync(Buffer.from(v2['app/mod7.py'])).length + rel.bytes.length);
    console.log(`one changed file of 50: ${air} body bytes in ${srv.requests.length} requests`);
    console.log(`  vs whole bundle (${bundle} B): ${(air / bundle).toFixed(3)}x`);
    console.log(
      `  vs goal 1.1 x (gzip(changed) + manifest) = ${Math.round(goal)} B: ${(air / goal).toFixed(3)}x`,
    );
    console.log(`  files fetched: ${srv.requests.map((q) => q.url).join(' ')}`);
  } finally {
    await srv.close();
    fx.cleanup(rel.dir, host, fsDir);
  }
}

async function signatureTimes(): Promise<void> {
  const keys = fx.makeKeys();
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0);
  const fsDir = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, fx.APP_1_0_0, '1.0.0');
  const ms: Record<string, number> = {};
  try {
    for (const alg of ['hmac-sha256', 'rsa-sha256', 'ed25519'] as fx.Alg[]) {
      const sig = fx.signBytes(keys, alg, rel.bytes).toString();
      const key = JSON.stringify([fx.boardKey(keys, alg)]);
      const code = [
        'import time, json, gc',
        'from ota import sig',
        `m = ${JSON.stringify(rel.bytes.toString())}.encode()`,
        `k = json.loads(${JSON.stringify(key)})`,
        `s = ${JSON.stringify(sig)}.encode()`,
        'gc.collect()',
        't = time.ticks_ms()',
        'sig.verify(k, s, m)',
        'print("MS", time.ticks_diff(time.ticks_ms(), t))',
      ].join('\n');
      // Big-integer math allocates megabytes; the virtual board collects only on gc.collect().
      const r = await runBoard({ fsDir, boot: false, heapKb: 8192, code, timeoutMs: 120_000 }).catch(
        (e: Error) => ({
          output: `failed: ${e.message}`,
          error: undefined,
        }),
      );
      const m = /MS ([\d.]+)/.exec(r.output);
      if (!m) {
        console.log(`${alg}: ${r.output.trim()} ${r.error ?? ''}`);
        continue;
      }
      ms[alg] = Number(m[1]);
    }
  } finally {
    fx.cleanup(rel.dir, fsDir);
  }
  const base = ms['hmac-sha256'];
  for (const [alg, t] of Object.entries(ms)) {
    console.log(
      `${alg}: ${t.toFixed(1)} ms on the virtual board (${base ? (t / base).toFixed(1) : '?'}x hmac-sha256)`,
    );
  }
  console.log(
    `  (${rel.bytes.length}-byte manifest; the virtual board runs at host speed, a 240 MHz ESP32 is slower)`,
  );
}

export async function run(): Promise<void> {
  const small = await heapFor(100 * 1024);
  const large = await heapFor(1024 * 1024);
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  console.log(`idle heap with the updater imported: ${kb(small.idle)}`);
  for (const [name, h] of [
    ['100 KB file', small],
    ['1 MB file', large],
  ] as const) {
    console.log(
      `${name}: heap above idle while streaming ${kb(h.streaming)}, over the whole update ${kb(h.update)}`,
    );
  }
  console.log(
    `  streaming, 1 MB / 100 KB: ${(large.streaming / Math.max(1, small.streaming)).toFixed(2)}x (goal: flat, <= 8 KB)`,
  );
  console.log(`  whole update, 1 MB / 100 KB: ${(large.update / Math.max(1, small.update)).toFixed(2)}x`);
  await overTheAir();
  await signatureTimes();
}
