// Updating the updater over USB (`ota install`, src/core/serial/install.ts) with a power cut at its
// mutations on the virtual board: after the cut the board boots either the old updater or the new one,
// whole (never a mix), ota.boot() runs, and the next install completes. The two updaters differ in two
// modules and one the new one drops. Every 3rd mutation is cut here (a minute); INSTALL_CUTS=all cuts
// each one. The boot.py merge stays idempotent.
import type { OtaConfig } from '../src/core/config';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBoard } from '../src/core/serial/board';
import { BOOT_LINES, installUpdater } from '../src/core/serial/install';
import { VirtualBoard, exposeOnPty } from '../src/sim/board';
import * as fx from './support/release-fixture';

const DEVICE = join(__dirname, '..', 'device');
const CONFIG: OtaConfig = { source: 'static', url: 'http://127.0.0.1:9/' };
const STRIDE = process.env.INSTALL_CUTS === 'all' ? 1 : 3;
const cleanups: string[] = [];
let oldDir: string;
let template: string;

/** path -> sha256 of the board's ota/ package. */
function pkg(fsDir: string): Record<string, string> {
  return fx.hashTree(join(fsDir, 'ota'));
}

async function install(
  fsDir: string,
  deviceDir: string,
  cutAt = 0,
): Promise<{ mutations: number; cut: boolean }> {
  const board = await VirtualBoard.start({ fsDir, cutAfterMutations: cutAt, heapKb: fx.BOARD_HEAP_KB });
  const m0 = board.mutations;
  const pty = await exposeOnPty(board);
  // The power going off unplugs the cable: the host sees its port close, as with a real board.
  board.once('poweroff', () => void pty.close().catch(() => undefined));
  const b = await openBoard(pty.path);
  try {
    await installUpdater(b, { deviceDir, config: CONFIG });
  } catch (e) {
    if (!board.powerCut) throw e;
  } finally {
    await b.close().catch(() => undefined);
    await pty.close().catch(() => undefined);
    await board.stop();
  }
  return { mutations: board.mutations - m0, cut: board.powerCut };
}

let OLD: Record<string, string>;
let NEW: Record<string, string>;

before(async () => {
  // The old updater: the same package with another version string and a module the new one drops.
  oldDir = fx.tempDir('old-device');
  cpSync(DEVICE, oldDir, { recursive: true });
  const init = join(oldDir, 'ota', '__init__.py');
  writeFileSync(init, readFileSync(init, 'utf8').replace(/__version__ = "[^"]*"/, '__version__ = "0.0.9"'));
  const journal = join(oldDir, 'ota', 'journal.py');
  writeFileSync(journal, readFileSync(journal, 'utf8') + '# the old journal\n');
  writeFileSync(join(oldDir, 'ota', 'legacy.py'), 'X = 1\n');
  const pj = JSON.parse(readFileSync(join(oldDir, 'package.json'), 'utf8')) as { urls: [string, string][] };
  pj.urls.push(['ota/legacy.py', 'ota/legacy.py']);
  writeFileSync(join(oldDir, 'package.json'), JSON.stringify(pj));
  template = fx.tempDir('inst');
  writeFileSync(join(template, 'boot.py'), 'print("user boot")\n');
  writeFileSync(join(template, 'main.py'), 'print("app")\n');
  await install(template, oldDir);
  OLD = pkg(template);
  const fresh = fx.tempDir('inst-new');
  cpSync(template, fresh, { recursive: true });
  await install(fresh, DEVICE);
  NEW = pkg(fresh);
  cleanups.push(oldDir, template, fresh);
  assert.notDeepEqual(OLD, NEW);
});
after(() => fx.cleanup(...cleanups));

test(
  'a power cut at the mutations of `ota install` never leaves a half-installed updater running',
  { timeout: 300_000 },
  async (t) => {
    const probe = fx.tempDir('inst-probe');
    cleanups.push(probe);
    cpSync(template, probe, { recursive: true });
    const boot0 = await VirtualBoard.start({ fsDir: probe }).then(async (b) => {
      const n = b.mutations;
      await b.stop();
      return n;
    });
    const full = await install(probe, DEVICE);
    assert.deepEqual(pkg(probe), NEW);
    const total = full.mutations;
    assert.ok(total > 10, `an install makes several mutations (${total})`);
    const seen = { old: 0, new: 0 };
    for (let k = 1; k <= total; k += STRIDE) {
      const fsDir = fx.tempDir('inst-cut');
      cleanups.push(fsDir);
      cpSync(template, fsDir, { recursive: true });
      const cut = await install(fsDir, DEVICE, boot0 + k);
      assert.ok(cut.cut, `k=${k}: the power went off`);
      const r = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.__version__)' });
      assert.equal(r.error, undefined, `k=${k}: ${r.output}`);
      const got = pkg(fsDir);
      const which =
        JSON.stringify(got) === JSON.stringify(NEW)
          ? 'new'
          : JSON.stringify(got) === JSON.stringify(OLD)
            ? 'old'
            : undefined;
      assert.ok(which, `k=${k}: the updater on the board is neither release: ${JSON.stringify(got)}`);
      seen[which]++;
      assert.ok(
        fx.eventsOf(r.output).some((e) => e.ev === 'state'),
        `k=${k}: ota.boot() ran: ${r.output}`,
      );
      assert.match(r.output, which === 'new' ? /0\.\d+\.\d+/ : /0\.0\.9/);
      // The next install completes; boot.py holds the hook once, the user's line kept.
      await install(fsDir, DEVICE);
      assert.deepEqual(pkg(fsDir), NEW, `k=${k}`);
      const bootPy = readFileSync(join(fsDir, 'boot.py'), 'utf8');
      assert.equal(bootPy, `${BOOT_LINES.join('\n')}\nprint("user boot")\n`, `k=${k}`);
      assert.deepEqual(
        readdirSync(join(fsDir, '.ota')).filter((f) => /install|pkg/.test(f)),
        [],
        `k=${k}`,
      );
    }
    assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    t.diagnostic(`${total} mutations, every ${STRIDE} cut: old updater ${seen.old}x, new ${seen.new}x`);
  },
);
