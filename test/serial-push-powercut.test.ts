// `ota push` over the link, cut by a power loss at sampled block writes (dropped and torn) on the FAT
// (512-byte sectors) and LittleFS models of src/sim/flash.ts. After each cut the board powers up again
// and a host connects: every file must be its old or its new content (a new file absent or new, a
// deleted one old or absent), never torn; 32 KB of app data written then must change none of them (a
// cross-linked pair would); and a second push must leave exactly the new project. The new project
// changes files, adds one (written in place: no old content to keep) and deletes one.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBoard, type BoardConnection } from '../src/core/serial/board';
import { syncFiles, type SyncFile } from '../src/core/serial/sync';
import type { CutMode, FsModel } from '../src/sim/flash';
import { startBoard } from './serial-board';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const text = (seed: string, n: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => `def ${seed}${i}(x):\n    return x + ${i}\n`).join(''));

const OLD: SyncFile[] = [
  { path: 'main.py', data: text('main', 40) },
  { path: 'lib/a.py', data: text('a', 25) },
  { path: 'data/blob.bin', data: randomBytes(6000) },
  { path: 'gone.py', data: text('gone', 10) },
  { path: 'same.txt', data: Buffer.from('unchanged\n') },
];
const NEW: SyncFile[] = [
  { path: 'main.py', data: text('main2_', 45) },
  { path: 'lib/a.py', data: text('a2_', 20) },
  { path: 'data/blob.bin', data: randomBytes(7000) },
  { path: 'lib/new.py', data: text('fresh', 30) },
  { path: 'same.txt', data: Buffer.from('unchanged\n') },
];
const REMOVE = ['gone.py'];
const PATHS = [...new Set([...OLD, ...NEW].map((f) => f.path))];
const oldOf = new Map(OLD.map((f) => [f.path, sha(f.data)]));
const newOf = new Map(NEW.map((f) => [f.path, sha(f.data)]));
/** Cut points per model and mode: the whole file stays near a minute. PUSH_CUTS=all cuts at every one. */
const SAMPLE = 5;
const ALL = process.env.PUSH_CUTS === 'all';

const CASES: { name: string; fs: FsModel; sectorSize?: number }[] = [
  { name: 'fat512', fs: 'fat', sectorSize: 512 },
  { name: 'littlefs', fs: 'littlefs' },
];
const cleanups: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ota-push-cut-'));
  cleanups.push(d, `${d}.fsmeta.json`);
  return d;
};
const copy = (from: string) => {
  const d = tempDir();
  cpSync(from, d, { recursive: true });
  if (existsSync(`${from}.fsmeta.json`)) cpSync(`${from}.fsmeta.json`, `${d}.fsmeta.json`);
  return d;
};

after(() => {
  for (const d of cleanups) rmSync(d, { recursive: true, force: true });
});

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

  test(
    `${c.name}: a push cut at sampled block writes leaves each file old or new; a second push finishes it`,
    {
      timeout: 300_000,
    },
    async (t) => {
      // The board with the old project and the helpers cached (what a cut push starts from).
      template = tempDir();
      const vb = await startBoard({ fsDir: template, fs: c.fs, sectorSize: c.sectorSize });
      await onLink(vb.path, (b) => syncFiles(b, { files: OLD, root: '/' }));
      await vb.stop();
      // Block writes of the whole push session, counted on a copy.
      const probe = await startBoard({ fsDir: copy(template), fs: c.fs, sectorSize: c.sectorSize });
      before0 = probe.board.mutations;
      await onLink(probe.path, (b) => syncFiles(b, { files: NEW, remove: REMOVE, root: '/' }));
      total = probe.board.mutations - before0;
      await probe.stop();
      assert.ok(total > 10, `${total} block writes`);

      const seen = { old: 0, new: 0, mixed: 0 };
      for (const [m, mode] of (['drop', 'tear'] as CutMode[]).entries()) {
        const ks = ALL
          ? [...Array(total).keys()].map((i) => i + 1)
          : [...Array(SAMPLE).keys()].map((i) =>
              Math.min(total, 1 + Math.floor((i + (m + 1) / 3) * (total / SAMPLE))),
            );
        for (const k of ks) seen[await point(c, mode, k)]++;
      }
      t.diagnostic(`${total} block writes; after the sampled cuts: ${JSON.stringify(seen)}`);
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
    await onLink(cut.path, (b) => syncFiles(b, { files: NEW, remove: REMOVE, root: '/' })).catch(
      () => undefined,
    );
    await cut.stop();

    const vb = await startBoard({ fsDir, fs: cs.fs, sectorSize: cs.sectorSize });
    try {
      return await onLink(vb.path, async (b) => {
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

async function onLink<T>(path: string, fn: (b: BoardConnection) => Promise<T>): Promise<T> {
  const b = await openBoard(path);
  try {
    return await fn(b);
  } finally {
    await b.close().catch(() => undefined);
  }
}
