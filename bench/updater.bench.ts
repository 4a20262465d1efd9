// The on-board updater on the virtual board, with the heap a board has free (fx.BOARD_HEAP_KB):
// 1. import cost of each updater module, and the idle heap with the update path imported;
// 2. peak heap of each update path (static 100 KB and 1 MB files, bundle, Ed25519-signed, GitHub
//    stable/beta with a large release JSON, developer channel): gc.collect() then gc.mem_alloc() at
//    every OTA event (the live heap), and gc.mem_alloc() just before every collection the updater
//    makes (live + garbage: the heap the path needs), both against the idle baseline;
// 3. bytes over the air for a one-file change in a 50-file app, against the whole bundle
//    and against the goal 1.1 x (gzip of the changed file + manifest);
// 4. signature check time on the board per algorithm, against HMAC-SHA256.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { startGitHubMock } from '../test/support/github-mock';
import * as fx from '../test/support/release-fixture';
import { UPDATE_PATH, updateHeap } from './board-heap';

const CORE = UPDATE_PATH;
/** Imported only on their paths. */
const LAZY = [
  'ota.sig',
  'ota.sha1py',
  'ota.jscan',
  'ota.github',
  'ota.oci',
  'ota.ocidoc',
  'ota.bundle',
  'ota.ed25519',
  'ota.firmware',
];

function text(bytes: number, seed: number): string {
  let s = '';
  for (let i = 0; s.length < bytes; i++)
    s += `def f_${seed}_${i}(x):\n    return x * ${i} + ${seed}  # step ${i}\n`;
  return s.slice(0, bytes);
}

interface Heap {
  idle: number;
  /** Highest live heap above idle while files streamed (progress events). */
  streaming: number;
  /** Highest live heap above idle over the whole update. */
  update: number;
  /** Highest heap in use (live + garbage) just before a collection, above idle. */
  needed: number;
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;

/** Runs one update on the board in fsDir with the sampler; throws unless it succeeds. */
async function measure(fsDir: string): Promise<Heap> {
  const h = await updateHeap({ fsDir, modules: CORE, flashKb: 4096 });
  if (fx.errorCodes(h.output).length) throw new Error(`update failed: ${h.output}`);
  return { idle: h.idle, streaming: h.progress, update: h.all, needed: h.raw };
}

async function staticPath(files: fx.AppFiles, opts: { bundle?: boolean; alg?: fx.Alg } = {}): Promise<Heap> {
  const keys = fx.makeKeys();
  const rel = await fx.makeRelease('1.1.0', files, { bundle: opts.bundle });
  const host = fx.tempDir('bench-host');
  fx.publishStatic(host, rel, opts.alg ? { sign: { keys, alg: opts.alg } } : {});
  const srv = await fx.serveFolder(host);
  // No "keys" at all for unsigned releases: an empty list is a configuration error (fail closed).
  const cfg = {
    source: 'static',
    url: srv.url,
    ...(opts.alg ? { keys: [fx.boardKey(keys, opts.alg)] } : {}),
  };
  // A bundle pays off for a board that lacks every file; the others update 1.0.0.
  const fsDir = opts.bundle ? fx.makeBoard(cfg, {}, undefined) : fx.makeBoard(cfg, fx.APP_1_0_0, '1.0.0');
  try {
    return await measure(fsDir);
  } finally {
    await srv.close();
    fx.cleanup(rel.dir, host, fsDir);
  }
}

/** GitHub stable, beta and developer channels against the REST mock; returns the JSON sizes too. */
async function githubPaths(): Promise<[string, Heap][]> {
  const keys = fx.makeKeys();
  const sign = { keys, alg: 'rsa-sha256' as const };
  const gh = await startGitHubMock();
  gh.addRepo('me', 'app');
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'] });
  const beta = await fx.makeRelease('1.2.0-beta.1', fx.APP_1_1_0, { delete: ['old.py'] });
  // Many assets, as releases that also ship firmware images and docs have: GitHub describes each
  // one with its uploader in the JSON, so the answer is tens of KB.
  const extra = Array.from({ length: 40 }, (_, i) => ({ name: `extra-${i}.bin`, content: Buffer.from('x') }));
  for (let i = 0; i < 8; i++) gh.addRelease('me', 'app', { tag: `v0.${i}.0`, assets: extra });
  gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: [...fx.githubAssets(rel, sign), ...extra] });
  gh.addRelease('me', 'app', {
    tag: 'v1.2.0-beta.1',
    prerelease: true,
    assets: [...fx.githubAssets(beta, sign), ...extra],
  });
  gh.setBranch(
    'me',
    'app',
    'dev',
    Array.from({ length: 40 }, (_, i) => ({ path: `lib/m${i}.py`, content: text(800, i) })),
  );
  const out: [string, Heap][] = [];
  try {
    for (const [channel, url] of [
      ['stable', '/repos/me/app/releases/latest'],
      ['beta', '/repos/me/app/releases?per_page=20'],
      ['developer', '/repos/me/app/git/trees/x'],
    ] as const) {
      const cfg = {
        source: 'github',
        repo: 'me/app',
        api: gh.apiUrl,
        channel,
        branch: 'dev',
        keys: channel === 'developer' ? undefined : [fx.boardKey(keys, 'rsa-sha256')],
        retries: 0,
      };
      const fsDir = fx.makeBoard(cfg, fx.APP_1_0_0, '1.0.0');
      try {
        const size =
          channel === 'developer' ? 0 : (await (await fetch(gh.apiUrl + url)).arrayBuffer()).byteLength;
        const label = `GitHub ${channel}${size ? ` (${kb(size)} of release JSON)` : ' (40-file Git tree)'}`;
        out.push([label, await measure(fsDir)]);
      } finally {
        fx.cleanup(fsDir);
      }
    }
  } finally {
    await gh.close();
    fx.cleanup(rel.dir, beta.dir);
  }
  return out;
}

/** Heap each updater module adds when imported (its dependencies already imported). */
async function importCosts(): Promise<void> {
  const fsDir = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, {}, undefined);
  const code = [
    'import gc, ota',
    'gc.collect()',
    'b = gc.mem_alloc()',
    `for n in ${JSON.stringify([...CORE, ...LAZY])}:`,
    '    try:',
    '        __import__(n)',
    '    except ImportError:',
    '        pass',
    '    gc.collect()',
    '    a = gc.mem_alloc()',
    '    print("IMP", n, a - b)',
    '    b = a',
  ].join('\n');
  try {
    const r = await fx.runBoard({ fsDir, boot: false, code, timeoutMs: 60_000 });
    const rows = [...r.output.matchAll(/IMP (\S+) (\d+)/g)].map((m) => [m[1], Number(m[2])] as const);
    if (!rows.length) throw new Error(`import costs: ${r.output}${r.error ?? ''}`);
    const core = rows.filter(([n]) => CORE.includes(n)).reduce((s, [, b]) => s + b, 0);
    console.log(`import cost per module (from source): ${rows.map(([n, b]) => `${n} ${kb(b)}`).join(', ')}`);
    console.log(`  static update path (${CORE.length} modules): ${kb(core)}`);
  } finally {
    fx.cleanup(fsDir);
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
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update(reset=False)\n', timeoutMs: 120_000 });
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
        // Repeated so the clock's millisecond resolution does not hide the fast algorithms; a collection
        // per round (included in the time) because the virtual board does not collect on its own.
        `n = ${alg === 'ed25519' ? 5 : 100}`,
        't = time.ticks_ms()',
        'for _ in range(n):',
        '    sig.verify(k, s, m)',
        '    gc.collect()',
        'print("MS", time.ticks_diff(time.ticks_ms(), t) / n)',
      ].join('\n');
      const r = await fx.runBoard({ fsDir, boot: false, code, timeoutMs: 120_000 }).catch((e: Error) => ({
        output: `failed: ${e.message}`,
        error: undefined,
      }));
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
      `${alg}: ${t.toFixed(2)} ms on the virtual board (${base ? (t / base).toFixed(1) : '?'}x hmac-sha256)`,
    );
  }
  console.log(
    `  (${rel.bytes.length}-byte manifest; the virtual board runs at host speed, a 240 MHz ESP32 is slower)`,
  );
}

export async function run(): Promise<void> {
  console.log(`virtual board heap: ${fx.BOARD_HEAP_KB} KB`);
  await importCosts();
  const big = await staticPath({ ...fx.APP_1_0_0, 'data.bin': randomBytes(1024 * 1024) });
  const small = await staticPath({ ...fx.APP_1_0_0, 'data.bin': randomBytes(100 * 1024) });
  const app: fx.AppFiles = {};
  for (let i = 0; i < 50; i++) app[`app/mod${i}.py`] = text(1000 + ((i * 397) % 3000), i);
  // 201 small files: a 41 KB manifest, saved to flash and stream-parsed (no 32 KB buffer).
  const many: fx.AppFiles = { ...fx.APP_1_0_0 };
  for (let i = 0; i < 201; i++) many[`lib/module_${String(i).padStart(3, '0')}.py`] = `V = ${i}\n`;
  const manyRel = await fx.makeRelease('1.1.0', many);
  const manyKb = kb(manyRel.bytes.length);
  fx.cleanup(manyRel.dir);
  const rows: [string, Heap][] = [
    ['static, 100 KB file', small],
    ['static, 1 MB file', big],
    ['static, 50-file bundle', await staticPath(app, { bundle: true })],
    ['static, ed25519-signed', await staticPath(fx.APP_1_1_0, { alg: 'ed25519' })],
    ['static, rsa-sha256-signed', await staticPath(fx.APP_1_1_0, { alg: 'rsa-sha256' })],
    [`static, 201 files (${manyKb} manifest), HMAC-signed`, await staticPath(many, { alg: 'hmac-sha256' })],
    ...(await githubPaths()),
  ];
  console.log(`idle heap with the update path imported: ${kb(small.idle)} (the baseline below)`);
  for (const [name, h] of rows) {
    console.log(
      `${name}: live above idle ${kb(h.update)} (streaming ${kb(h.streaming)}), ` +
        `needed above idle ${kb(h.needed)} = ${(h.needed / small.idle).toFixed(2)}x idle, ` +
        `total ${kb(h.idle + h.needed)}`,
    );
  }
  console.log(
    `  streaming, 1 MB / 100 KB: ${(big.streaming / Math.max(1, small.streaming)).toFixed(2)}x (goal: flat, <= 8 KB)`,
  );
  console.log(
    `  needed, 1 MB / 100 KB: ${(big.needed / Math.max(1, small.needed)).toFixed(2)}x (goal: flat)`,
  );
  await overTheAir();
  await signatureTimes();
}
