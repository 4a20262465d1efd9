// A full flash gets a clear error and loses nothing: on a small board (640 KB, FAT with 4 KB clusters
// and LittleFS), an update with less room than its stage and its swap need is refused with no_space
// before the swap; the old release stays byte-identical, and once room is freed the same update
// installs. The fill sweeps a block at a time across the edge, so every level from "plenty" to "none"
// is met (cluster rounding, folder entries, the backups, the journal and the updater's own files).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';

const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

const UPDATE = 'import ota\nota.update(reset=False)\n';
const FREE = 'import os\ns = os.statvfs("/")\nprint("FREE", s[0] * s[3])\n';
const OLD = fx.hashFiles(fx.APP_1_0_0);
// 1.1.0 grows: a new folder with a new file, so its swap needs more than the backups of what it replaces.
const NEW: fx.AppFiles = { ...fx.APP_1_1_0 };
NEW['lib/more/m.py'] = 'N = 1\n' + '#'.repeat(6000) + '\n';

const version = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, 'version.json'), 'utf8')) as { version: string }).version;

/** 1.1.0 (NEW) published to a static host and served; the folders go at the end. */
async function served(): Promise<Awaited<ReturnType<typeof fx.serveFolder>>> {
  const rel = await fx.makeRelease('1.1.0', NEW);
  const host = fx.tempDir('host');
  cleanups.push(rel.dir, host);
  fx.publishStatic(host, rel);
  return fx.serveFolder(host);
}

for (const fs of ['fat', 'littlefs'] as const) {
  test(
    `${fs} 640 KB: every fill level either installs whole or is refused with no_space, old release intact`,
    { timeout: 600_000 },
    async (t) => {
      const srv = await served();
      try {
        const probe = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
        cleanups.push(probe);
        const opts = { fs, sectorSize: 4096, flashKb: 640 } as const;
        const r0 = await fx.runBoard({ fsDir: probe, ...opts, code: FREE });
        const free = Number(/FREE (\d+)/.exec(r0.output)?.[1]);
        t.diagnostic(`free ${free}`);
        const seen: string[] = [];
        let refused = 0;
        for (let fill = 0; fill <= 96 * 1024; fill += 8192) {
          const board = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
          cleanups.push(board);
          writeFileSync(join(board, 'fill.bin'), Buffer.alloc(fill, 1));
          const r = await fx.runBoard({ fsDir: board, ...opts, code: UPDATE });
          const codes = fx.errorCodes(r.output);
          seen.push(`${fill}:${codes.join(',') || version(board)}`);
          if (codes.length === 0) {
            assert.equal(version(board), '1.1.0', r.output);
            continue;
          }
          assert.deepEqual(codes, ['no_space'], `fill ${fill}: ${r.output}`);
          assert.equal(version(board), '1.0.0');
          assert.deepEqual(fx.hashTree(board, [...fx.NOT_APP, 'fill.bin']), OLD, `fill ${fill}`);
          if (refused++ === 0) {
            // Room freed: the same update installs.
            rmSync(join(board, 'fill.bin'));
            const again = await fx.runBoard({ fsDir: board, ...opts, code: UPDATE });
            assert.deepEqual(fx.errorCodes(again.output), [], again.output);
            assert.equal(version(board), '1.1.0');
          }
        }
        assert.ok(refused > 0 && refused < seen.length, seen.join(' '));
        t.diagnostic(seen.join(' '));
      } finally {
        await srv.close();
      }
    },
  );
}

// The reviewer's board: on 512 KB the updater's own modules leave too little room for this update's
// stage and swap. It used to pass the check and run out of space mid-way (io 28); now it is refused
// up front and nothing of the old release changes.
for (const fs of ['fat', 'littlefs'] as const) {
  test(`${fs} 512 KB: an update that cannot fit is refused before the swap, not cut by ENOSPC`, async () => {
    const srv = await served();
    try {
      const board = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
      cleanups.push(board);
      const r = await fx.runBoard({ fsDir: board, fs, sectorSize: 4096, flashKb: 512, code: UPDATE });
      assert.deepEqual(fx.errorCodes(r.output), ['no_space'], r.output);
      assert.equal(version(board), '1.0.0');
      assert.deepEqual(fx.hashTree(board, fx.NOT_APP), OLD);
    } finally {
      await srv.close();
    }
  });
}

// If the flash still fills up mid-swap (something else wrote to it after the check: here the check is
// switched off on the board), the journal rolls the old release back byte-identical, also when the
// power goes off at any sampled point after the ENOSPC; once room is freed the update installs.
const UNCHECKED =
  'import ota\nfrom ota import updater\nupdater.room = lambda n, b: 0\nota.update(reset=False)\n';
for (const fs of ['fat', 'littlefs'] as const) {
  test(
    `${fs} 640 KB: ENOSPC mid-swap rolls back whole, power cut after it too`,
    { timeout: 300_000 },
    async (t) => {
      const srv = await served();
      const opts = { fs, sectorSize: 4096, flashKb: 640 } as const;
      const fresh = (fill: number): string => {
        const board = fx.makeBoard({ source: 'static', url: srv.url }, fx.APP_1_0_0, '1.0.0');
        cleanups.push(board);
        writeFileSync(join(board, 'fill.bin'), Buffer.alloc(fill, 1));
        return board;
      };
      const intact = (board: string, what: string): void => {
        assert.equal(version(board), '1.0.0', what);
        assert.deepEqual(fx.hashTree(board, [...fx.NOT_APP, 'fill.bin']), OLD, what);
        const st = JSON.parse(readFileSync(join(board, '.ota/state.json'), 'utf8')) as { state: string };
        assert.equal(st.state, 'idle', what);
        // The folders the swap made for 1.1.0's new files go with them: each held a FAT cluster, and
        // the update after the rollback found too little room.
        for (const d of ['lib/more', 'ota_hooks'])
          assert.ok(!existsSync(join(board, d)), `${what}: ${d} left`);
      };
      const freedUpdates = async (board: string, what: string): Promise<void> => {
        rmSync(join(board, 'fill.bin'));
        const r = await fx.runBoard({ fsDir: board, ...opts, code: UPDATE });
        assert.deepEqual(fx.errorCodes(r.output), [], `${what}: ${r.output}`);
        assert.equal(version(board), '1.1.0', what);
      };
      try {
        // The fill levels follow the room the updater's own modules leave (they grow with the updater):
        // the fullest flash where the stage still fits and the swap runs out of space (there the old
        // rollback had no room left even for the journal), found by bisection, and two emptier ones.
        const probe = fresh(0);
        const free = Number(
          /FREE (\d+)/.exec((await fx.runBoard({ fsDir: probe, ...opts, code: FREE })).output)?.[1],
        );
        const swaps = async (fill: number): Promise<boolean> => {
          const r = await fx.runBoard({ fsDir: fresh(fill), ...opts, code: UNCHECKED });
          return fx.eventsOf(r.output).some((e) => e.ev === 'swap');
        };
        let [lo, hi] = [0, Math.floor(free / 4096)]; // the swap runs at lo * 4 KB, not at hi * 4 KB
        while (hi - lo > 1) {
          const mid = (lo + hi) >> 1;
          if (await swaps(mid * 4096)) lo = mid;
          else hi = mid;
        }
        const fullest = lo * 4096;
        t.diagnostic(`free ${free}; the swap still runs with ${fullest} B filled`);
        const picked = [fullest - 40960, fullest - 16384, fullest].filter((f) => f >= 0);
        let cuts = 0;
        for (const fill of picked) {
          const board = fresh(fill);
          const r = await fx.runBoard({ fsDir: board, ...opts, code: UNCHECKED });
          assert.deepEqual(fx.errorCodes(r.output), ['io'], r.output);
          assert.ok(
            fx.eventsOf(r.output).some((e) => e.ev === 'rollback'),
            r.output,
          );
          intact(board, `fill ${fill}`);
          await freedUpdates(board, `fill ${fill}`);
          for (const back of [1, 3, 7, 12, 20]) {
            const cut = fresh(fill);
            const c = await fx.runBoard({
              fsDir: cut,
              ...opts,
              code: UNCHECKED,
              cutAfterMutations: r.mutations - back,
            });
            if (!c.powerCut || !fx.errorCodes(c.output).includes('io')) continue; // the cut came before the ENOSPC
            cuts++;
            await fx.runBoard({ fsDir: cut, ...opts }); // boot: ota.boot() finishes the rollback
            intact(cut, `fill ${fill}, cut ${back} writes before the end`);
            if (back === 3) await freedUpdates(cut, `fill ${fill}, cut ${back}`);
          }
        }
        t.diagnostic(`${cuts} power cuts after an ENOSPC`);
        assert.ok(cuts >= 6, `${cuts} cuts after the ENOSPC`);
      } finally {
        await srv.close();
      }
    },
  );
}
