// `ota push` over the link, cut by a power loss at sampled block writes (dropped and torn) on the FAT
// (512-byte sectors) and LittleFS models of src/sim/flash.ts. After each cut the board first powers up
// alone, with no host: main.py, which starts by hashing every project file, must see each one old or new
// (a new file absent or new, a deleted one old or absent), never torn, and no push marker left (boot.py
// finished or undid the push before it). That boot is itself cut at sampled block writes, and the board
// powered up again, with the same checks. Then a host connects: the same holds; 32 KB of app data
// written then must change no file (a cross-linked pair would); and a second push must leave exactly the
// new project. The new project changes files, adds one (written in place: no old content to keep) and
// deletes one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BoardConnection } from '../src/core/serial/board';
import { runBoard } from '../src/sim/board';
import { syncFiles, type SyncFile } from '../src/core/serial/sync';
import type { CutMode, FsModel } from '../src/sim/flash';
import { startBoard } from './serial-board';
import { flashDirs } from './support/flash-dirs';
import { onBoard } from './support/on-board';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = (seed: string, n: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => `def ${seed}${i}(x):\n    return x + ${i}\n`).join(''));

const PROJECT = ['main.py', 'lib/a.py', 'data/blob.bin', 'gone.py', 'same.txt', 'lib/new.py'];
/** What main.py runs first: the SHA-256 of each project file as the board reads it, and the push's flags. */
const PROBE = Buffer.from(
  [
    'import os, hashlib, binascii',
    'def _h(p):',
    '    try:',
    "        f = open(p, 'rb')",
    '    except OSError:',
    "        return '-'",
    '    h = hashlib.sha256(f.read())',
    '    f.close()',
    '    return binascii.hexlify(h.digest()).decode()',
    `print('PROBE', ${PROJECT.map((p) => `_h('/${p}')`).join(', ')}, sorted(set(os.listdir('/.ota')) & {'push.json', 'push.new'}))`,
    '',
  ].join('\n'),
);

const OLD: SyncFile[] = [
  { path: 'main.py', data: Buffer.concat([PROBE, text('main', 40)]) },
  { path: 'lib/a.py', data: text('a', 25) },
  { path: 'data/blob.bin', data: randomBytes(6000) },
  { path: 'gone.py', data: text('gone', 10) },
  { path: 'same.txt', data: Buffer.from('unchanged\n') },
];
const NEW: SyncFile[] = [
  { path: 'main.py', data: Buffer.concat([PROBE, text('main2_', 45)]) },
  { path: 'lib/a.py', data: text('a2_', 20) },
  { path: 'data/blob.bin', data: randomBytes(7000) },
  { path: 'lib/new.py', data: text('fresh', 30) },
  { path: 'same.txt', data: Buffer.from('unchanged\n') },
];
const REMOVE = ['gone.py'];
const PATHS = [...new Set([...OLD, ...NEW].map((f) => f.path))];
assert.deepEqual([...PATHS].sort(), [...PROJECT].sort());
const oldOf = new Map(OLD.map((f) => [f.path, sha(f.data)]));
const newOf = new Map(NEW.map((f) => [f.path, sha(f.data)]));
/**
 * Cut points per model and mode, and inside each boot's recovery: the whole file stays near a minute.
 * PUSH_CUTS=all cuts at every block write of the push, and every one of each recovery.
 */
const SAMPLE = 5;
const BOOT_SAMPLE = 1;
const ALL = process.env.PUSH_CUTS === 'all';
/** n points spread over 1..total (all of them with PUSH_CUTS=all); `shift` moves the sample between modes. */
const points = (total: number, n: number, shift: number) =>
  ALL
    ? [...Array(total).keys()].map((i) => i + 1)
    : [
        ...new Set(
          [...Array(Math.min(n, total)).keys()].map((i) =>
            Math.min(total, 1 + Math.floor((i + shift) * (total / n))),
          ),
        ),
      ];

const CASES: { name: string; fs: FsModel; sectorSize?: number }[] = [
  { name: 'fat512', fs: 'fat', sectorSize: 512 },
  { name: 'littlefs', fs: 'littlefs' },
];
const { tempDir, copy } = flashDirs('ota-push-cut-');

/** Path -> SHA-256 of each project path as the board itself reads it ('-' when absent). */
async function tree(b: BoardConnection): Promise<Map<string, string>> {
  const have = await b.stat(PATHS.map((p) => '/' + p));
  return new Map(PATHS.map((p) => [p, have.get('/' + p)?.sha256 ?? '-']));
}

function oldOrNew(seen: Map<string, string>, where: string): void {
  for (const p of PATHS) {
    const allowed = [oldOf.get(p) ?? '-', REMOVE.includes(p) ? '-' : (newOf.get(p) ?? '-')];
    assert.ok(allowed.includes(seen.get(p)!), `${where}: ${p} is neither its old nor its new content`);
  }
}

for (const c of CASES) {
  let template = '';
  let before0 = 0;
  let total = 0;
  let bootCuts = 0;
  let bootWrites = 0;

  /** Powers the board up alone (boot.py, main.py, no host), optionally cut; checks what main.py saw. */
  async function alone(fsDir: string, where: string, cut?: { at: number; mode: CutMode }) {
    const r = await runBoard({
      fsDir,
      fs: c.fs,
      sectorSize: c.sectorSize,
      ...(cut ? { cutAfterMutations: cut.at, cutMode: cut.mode } : {}),
    });
    if (cut && r.powerCut) return r;
    const line = /^PROBE (.*)$/m.exec(r.output)?.[1];
    assert.ok(line, `${where}: main.py did not run whole before anything else: ${r.output}`);
    const words = line.split(' ');
    oldOrNew(new Map(PROJECT.map((p, i) => [p, words[i]])), `${where}, as main.py saw it`);
    assert.equal(
      words.slice(PROJECT.length).join(' '),
      '[]',
      `${where}: a push flag is left when main.py runs`,
    );
    return r;
  }

  test(
    `${c.name}: a push cut at sampled block writes leaves each file old or new; a second push finishes it`,
    {
      timeout: ALL ? Infinity : 300_000,
    },
    async (t) => {
      // The board with the old project and the helpers cached (what a cut push starts from).
      template = tempDir();
      const vb = await startBoard({ fsDir: template, fs: c.fs, sectorSize: c.sectorSize });
      await onBoard(vb.path, (b) => syncFiles(b, { files: OLD, root: '/' }));
      await vb.stop();
      // Block writes of the whole push session, counted on a copy.
      const probe = await startBoard({ fsDir: copy(template), fs: c.fs, sectorSize: c.sectorSize });
      before0 = probe.board.mutations;
      await onBoard(probe.path, (b) => syncFiles(b, { files: NEW, remove: REMOVE, root: '/' }));
      total = probe.board.mutations - before0;
      await probe.stop();
      assert.ok(total > 10, `${total} block writes`);

      const seen = { old: 0, new: 0, mixed: 0 };
      bootCuts = 0;
      bootWrites = 0;
      let pushCuts = 0;
      for (const [m, mode] of (['drop', 'tear'] as CutMode[]).entries()) {
        for (const k of points(total, SAMPLE, (m + 1) / 3)) {
          seen[await point(c, mode, k)]++;
          pushCuts++;
        }
      }
      t.diagnostic(
        `${total} block writes; ${pushCuts} push cuts, ${bootCuts} cuts inside the boot's recovery ` +
          `(at most ${bootWrites} block writes); after the push cuts: ${JSON.stringify(seen)}`,
      );
    },
  );

  async function point(
    cs: (typeof CASES)[number],
    mode: CutMode,
    k: number,
  ): Promise<'old' | 'new' | 'mixed'> {
    const where = `${cs.name} ${mode} k=${k}/${total}`;
    const fsDir = copy(template);
    const cut = await startBoard({
      fsDir,
      fs: cs.fs,
      sectorSize: cs.sectorSize,
      cutAfterMutations: before0 + k,
      cutMode: mode,
    });
    // The power goes: the port goes with it.
    cut.board.once('poweroff', () => void cut.unplug());
    await onBoard(cut.path, (b) => syncFiles(b, { files: NEW, remove: REMOVE, root: '/' })).catch(
      () => undefined,
    );
    await cut.stop();

    // Powered up alone: boot.py finishes or undoes the push before main.py; then cuts inside that.
    const cutState = copy(fsDir);
    const first = await alone(fsDir, `${where}, powered up alone`);
    bootWrites = Math.max(bootWrites, first.mutations);
    // Sampled: one mode per push cut, alternating; PUSH_CUTS=all: both, at every block write.
    const bootModes: CutMode[] = ALL ? ['drop', 'tear'] : [k % 2 ? 'drop' : 'tear'];
    for (const [n, mode] of bootModes.entries()) {
      for (const j of first.mutations ? points(first.mutations, BOOT_SAMPLE, ((n + k) % 3) / 3) : []) {
        const d = copy(cutState);
        const w = `${where}, boot cut ${mode} j=${j}/${first.mutations}`;
        const r = await alone(d, w, { at: j, mode });
        assert.ok(r.powerCut, `${w}: the power went off`);
        await alone(d, `${w}, powered up again`);
        bootCuts++;
      }
    }

    if (ALL)
      process.stderr.write(
        `${where}: passed, with cuts at all ${first.mutations} block writes of its boot\n`,
      );

    const vb = await startBoard({ fsDir, fs: cs.fs, sectorSize: cs.sectorSize });
    try {
      return await onBoard(vb.path, async (b) => {
        const first = await tree(b);
        oldOrNew(first, `${where}, after reconnecting`);
        await b.exec(
          `f=open('/appdata.bin','wb')\nfor i in range(32):\n f.write(bytes([i])*1024)\nf.close()`,
        );
        assert.deepEqual(await tree(b), first, `${where}: 32 KB of app data changed a file (cross-linked?)`);
        const r = await syncFiles(b, { files: NEW, remove: REMOVE, root: '/' });
        const last = await tree(b);
        for (const p of PATHS)
          assert.equal(last.get(p), REMOVE.includes(p) ? '-' : newOf.get(p), `${where}: second push, ${p}`);
        assert.ok(!existsSync(join(fsDir, '.ota', 'push.json')), `${where}: the marker is gone`);
        if (r.uploaded.length === 0 && r.removed.length === 0) return 'new';
        return PATHS.every((p) => first.get(p) === (oldOf.get(p) ?? '-')) ? 'old' : 'mixed';
      });
    } finally {
      await vb.stop();
    }
  }
}
