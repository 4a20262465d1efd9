// A swap that cannot go forward goes back (issue 16.3): path conflicts are refused before anything is
// downloaded; an error in the middle of a swap rolls the old release back whole, records why and lets
// the next update proceed; the swap never writes the board's reserved files. And ota.boot() needs only
// the journal and the filesystem, leaving none of the updater's modules in RAM (issue 16.2).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../src/core/manifest-types';
import * as fx from './support/release-fixture';

const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

const OLD = fx.hashFiles(fx.APP_1_0_0);
const sha256 = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const UPDATE = 'import ota\nota.update()\n';

async function served(
  version: string,
  files: fx.AppFiles,
  change?: (m: Manifest) => void,
): Promise<fx.StaticServer> {
  const rel = await fx.makeRelease(version, files);
  const host = fx.tempDir('host');
  cleanups.push(rel.dir, host);
  // change: a manifest the host's own checks would refuse to make, as a hostile server sends it.
  let manifestBytes: Buffer | undefined;
  if (change) {
    const m = structuredClone(rel.manifest);
    change(m);
    manifestBytes = Buffer.from(JSON.stringify(m, null, 2));
  }
  fx.publishStatic(host, rel, { manifestBytes });
  return fx.serveFolder(host);
}

function journal(dir: string): Record<string, unknown> {
  if (!existsSync(join(dir, '.ota/state.json'))) return { state: 'idle' };
  return JSON.parse(readFileSync(join(dir, '.ota/state.json'), 'utf8')) as Record<string, unknown>;
}

for (const [fs, label] of [
  ['posix', 'posix'],
  ['fat', 'FAT'],
] as const) {
  test(`${label}: a release turning main.py into main.py/x is refused before any download; the next update works`, async () => {
    const srv = await served('1.1.0', {
      'main.py/x': 'x = 1\n',
      'lib/util.py': 'def add(a, b):\n    return a + b\n',
    });
    const board = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
    cleanups.push(board);
    try {
      const r = await fx.runBoard({ fsDir: board, fs, code: UPDATE });
      assert.deepEqual(fx.errorCodes(r.output), ['path_conflict'], r.output);
      const files = srv.requests.filter((q) => !/latest\.json|manifest\.json/.test(q.url));
      assert.deepEqual(files, [], 'nothing downloaded');
      assert.deepEqual(fx.hashTree(board, fx.NOT_APP), OLD);
      assert.equal(journal(board).state, 'idle');
    } finally {
      await srv.close();
    }
    const next = await served('1.2.0', fx.APP_1_1_0);
    try {
      writeFileSync(join(board, 'ota_config.json'), JSON.stringify({ source: 'static', url: next.url }));
      const r = await fx.runBoard({ fsDir: board, fs, code: UPDATE });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(JSON.parse(readFileSync(join(board, 'version.json'), 'utf8')).version, '1.2.0');
    } finally {
      await next.close();
    }
  });
}

test('FAT: a release file whose name folds onto a folder the app made is a path conflict (posix: none)', async () => {
  const srv = await served('1.1.0', { ...fx.APP_1_1_0, DATA: 'not a folder\n' });
  try {
    for (const fs of ['fat', 'posix'] as const) {
      const board = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
      cleanups.push(board);
      mkdirSync(join(board, 'data'));
      writeFileSync(join(board, 'data/log.txt'), 'app data');
      const r = await fx.runBoard({ fsDir: board, fs, code: 'import ota\nota.update(False)\n' });
      assert.deepEqual(fx.errorCodes(r.output), fs === 'fat' ? ['path_conflict'] : [], `${fs}: ${r.output}`);
      if (fs === 'fat') assert.deepEqual(fx.hashTree(board, [...fx.NOT_APP, 'data']), OLD);
    }
  } finally {
    await srv.close();
  }
});

test('a release with two paths differing only in case is refused on every filesystem', async () => {
  const srv = await served('1.1.0', fx.APP_1_1_0, (m) => {
    const util = m.files.find((f) => f.path === 'lib/util.py')!;
    m.files.push({ ...util, path: 'lib/Util.py' });
  });
  const board = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(board);
  try {
    const r = await fx.runBoard({ fsDir: board, code: UPDATE });
    assert.deepEqual(fx.errorCodes(r.output), ['path_conflict'], r.output);
    assert.deepEqual(fx.hashTree(board, fx.NOT_APP), OLD);
  } finally {
    await srv.close();
  }
});

/** A board mid-swap: staged files and a plan as update() leaves them, the journal at `swapping`. */
function midSwap(plan: [string, string, string | null][]): string {
  const board = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(board);
  mkdirSync(join(board, '.ota'));
  const lines: string[] = [];
  for (const [kind, path, content] of plan) {
    if (content !== null) {
      mkdirSync(join(board, '.ota/stage', path, '..'), { recursive: true });
      writeFileSync(join(board, '.ota/stage', path), content);
    }
    lines.push(`${kind} ${kind === 'P' ? sha256(content ?? '') : '-'} ${path}\n`);
  }
  writeFileSync(join(board, '.ota/plan'), lines.join(''));
  const st = { state: 'swapping', version: '1.1.0', prev: '1.0.0', i: 0, ph: 0, hooks: {} };
  writeFileSync(join(board, '.ota/state.json'), JSON.stringify(st));
  return board;
}

for (const fs of ['posix', 'fat', 'littlefs'] as const) {
  test(`${fs}: a reserved path reaching the swap rolls the release back whole and records why`, async () => {
    const board = midSwap([
      ['P', 'main.py', 'print("new")\n'],
      ['D', 'old.py', null],
      ['P', 'BOOT.PY', 'print("taken over")\n'],
      ['P', 'version.json', '{"version": "1.1.0"}'],
    ]);
    const bootPy = readFileSync(join(board, 'boot.py'));
    const r = await fx.runBoard({ fsDir: board, fs });
    assert.deepEqual(fx.errorCodes(r.output), ['reserved_path'], r.output);
    const rb = fx.eventsOf(r.output).find((e) => e.ev === 'rollback');
    assert.ok(rb && String(rb.reason).includes('reserved_path'), r.output);
    assert.deepEqual(fx.hashTree(board, fx.NOT_APP), OLD, 'the old release, whole');
    assert.deepEqual(readFileSync(join(board, 'boot.py')), bootPy);
    assert.equal(JSON.parse(readFileSync(join(board, 'version.json'), 'utf8')).version, '1.0.0');
    const st = journal(board);
    assert.equal(st.state, 'idle');
    assert.equal(st.bad, '1.1.0');
    assert.equal((st.error as { code: string }).code, 'reserved_path');
  });
}

for (const [what, code] of [
  ['changed', 'verify'],
  ['missing', 'io'],
] as const) {
  test(`a staged file ${what} in the middle of a swap rolls back whole; the release may be retried`, async () => {
    const board = midSwap([
      ['P', 'main.py', 'print("new")\n'],
      ['P', 'lib/util.py', 'gone'],
      ['P', 'version.json', '{"version": "1.1.0"}'],
    ]);
    if (what === 'changed') writeFileSync(join(board, '.ota/stage/lib/util.py'), 'other bytes');
    else rmSync(join(board, '.ota/stage/lib/util.py'));
    const r = await fx.runBoard({ fsDir: board, fs: 'fat' });
    assert.deepEqual(fx.errorCodes(r.output), [code], r.output);
    assert.deepEqual(fx.hashTree(board, fx.NOT_APP), OLD);
    const st = journal(board);
    assert.equal(st.state, 'idle');
    assert.equal(st.bad, undefined, 'the flash was at fault, not the release');
  });
}

test('ota.boot() imports no update code and leaves none of it in RAM', async () => {
  const board = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(board);
  // A half-swapped updater: everything but the journal and the filesystem helpers fails to import.
  for (const m of ['updater', 'http', 'manifest', 'fetch', 'source', 'sig', 'bundle', 'github', 'jscan'])
    writeFileSync(join(board, 'ota', `${m}.py`), 'raise ImportError("half-installed")\n');
  const st = {
    state: 'confirm_pending',
    version: '1.0.0',
    prev: '0.9.0',
    i: 0,
    ph: 0,
    boots: 0,
    hook_done: true,
  };
  mkdirSync(join(board, '.ota'));
  writeFileSync(join(board, '.ota/state.json'), JSON.stringify(st));
  writeFileSync(join(board, '.ota/plan'), '');
  const probe = [
    'import sys, gc',
    'gc.collect()',
    "print('MODS', sorted(m for m in sys.modules if m == 'ota' or m.startswith('ota.')))",
    "print('FREE', gc.mem_free())",
  ].join('\n');
  const r = await fx.runBoard({ fsDir: board, code: probe });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.match(r.output, /MODS \['ota'\]/);
  assert.equal(journal(board).boots, 1, 'the boot was counted');
  // The heap after boot against a board whose boot.py only imports ota: the same within 2 KB.
  const bare = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(bare);
  writeFileSync(join(bare, 'boot.py'), 'import ota\n');
  const b = await fx.runBoard({ fsDir: bare, code: probe });
  const free = (out: string): number => Number(/FREE (\d+)/.exec(out)![1]);
  assert.ok(free(b.output) - free(r.output) < 2048, `${free(b.output)} vs ${free(r.output)}`);
});

test('LittleFS: a move cut between its commits hides the journal; boot() writes first, so it sees it', async () => {
  const board = midSwap([
    ['P', 'main.py', 'print("new")\n'],
    ['P', 'version.json', '{"version": "1.1.0"}'],
  ]);
  // The app moved .ota/files.json elsewhere and the power went between LittleFS's two commits: until
  // the first write, every later entry of .ota/ (plan, stage, state.json) is invisible.
  writeFileSync(join(board, '.ota/files.json'), '{}');
  mkdirSync(join(board, 'x'));
  writeFileSync(join(board, 'x/files.json'), '{}');
  writeFileSync(`${board}.fsmeta.json`, JSON.stringify({ links: [], dangling: [], move: '.ota/files.json' }));
  cleanups.push(`${board}.fsmeta.json`);
  const r = await fx.runBoard({ fsDir: board, fs: 'littlefs' });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  assert.equal(readFileSync(join(board, 'main.py'), 'utf8'), 'print("new")\n');
  assert.equal(journal(board).state, 'confirm_pending');
  assert.equal(existsSync(join(board, '.ota/files.json')), false, 'the move completed');
});
