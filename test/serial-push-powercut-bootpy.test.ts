// boot.py's one switch, cut by a power loss at each of its block writes (dropped and torn) on the
// LittleFS and FAT (512-byte sectors) models of src/sim/flash.ts: the push's two lines put in front of a
// user's boot.py (device/install.py, _ota_hook), and `ota install` putting the updater's lines there.
// After each cut the board powers up alone, with no host, and main.py first prints the SHA-256 of
// boot.py as the board reads it: the old one or the new one, whole (boot.py runs every recovery, so
// nothing could repair it before main.py). Then a host connects and finishes it: boot.py is the new one.
// FAT has no operation that replaces a file's content in one step (a rename removes the target first,
// and a copy truncates then writes), so there boot.py is copied in place: the test counts the cut points
// that leave it torn for that boot, checks they are only the copy's own writes, and that the next
// session repairs each.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUSH_HOOK_LINES } from '../src/core/serial/board-helpers';
import { BOOT_LINES, installUpdater } from '../src/core/serial/install';
import type { OtaConfig } from '../src/core/config';
import { runBoard } from '../src/sim/board';
import type { CutMode, FsModel } from '../src/sim/flash';
import { syncFiles } from '../src/core/serial/sync';
import { startBoard } from './serial-board';
import { cutSession } from './support/cut-session';
import { flashDirs } from './support/flash-dirs';
import { onBoard } from './support/on-board';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
/** The user's boot.py: three 512-byte sectors, so a copy in place has several writes to cut. */
const USER_BOOT =
  "print('user boot')\n" +
  Array.from({ length: 40 }, (_, i) => `setting_${i} = ${i * 7}  # the user's own start-up code\n`).join('');
/** main.py: what it sees of boot.py before anything else. */
const MAIN = [
  'import hashlib, binascii',
  'try:',
  "    f = open('/boot.py', 'rb'); d = f.read(); f.close()",
  '    print("BOOTPY", binascii.hexlify(hashlib.sha256(d).digest()).decode())',
  'except OSError:',
  '    print("BOOTPY -")',
  '',
].join('\n');
const HOOKED = PUSH_HOOK_LINES.join('\n') + '\n' + USER_BOOT;
const INSTALLED = `${BOOT_LINES.join('\n')}\n${USER_BOOT}`;
const HOOK = "exec(open('/.ota/recover.py').read(), {'_ota_do': 1})";
const DEVICE = join(__dirname, '..', 'device');
const CONFIG: OtaConfig = { source: 'static', url: 'http://127.0.0.1:9/' };
const MODES: CutMode[] = ['drop', 'tear'];
/**
 * Every block write of the copy is cut in one mode, the modes alternating, and a session follows every
 * torn cut and a third of the others (near a minute in all); BOOTPY_CUTS=all cuts each in both modes and
 * follows each with a session.
 */
const ALL = process.env.BOOTPY_CUTS === 'all';
const CASES: { name: string; fs: FsModel; sectorSize?: number }[] = [
  { name: 'littlefs', fs: 'littlefs' },
  { name: 'fat512', fs: 'fat', sectorSize: 512 },
];

const { tempDir, copy } = flashDirs('ota-bootpy-cut-');

for (const c of CASES) {
  const model = { fs: c.fs, sectorSize: c.sectorSize };
  /** Powers up alone: boot.py, then main.py's view of boot.py (its SHA-256, or '-'). */
  async function bootSees(fsDir: string, where: string): Promise<string> {
    const r = await runBoard({ fsDir, ...model });
    const m = /^BOOTPY (\S+)/m.exec(r.output);
    assert.ok(m, `${where}: main.py did not run: ${r.output}`);
    return m[1];
  }

  /** A board with the helpers and the recovery script cached, the user's boot.py without any of our lines. */
  let template = '';
  before(async () => {
    template = tempDir();
    const vb = await startBoard({ fsDir: template, ...model });
    await onBoard(vb.path, (b) => b.stat(['/main.py']));
    await vb.stop();
    assert.ok(existsSync(join(template, '.ota', 'recover.py')));
    writeFileSync(join(template, 'boot.py'), USER_BOOT);
    writeFileSync(join(template, 'main.py'), MAIN);
  });

  test(`${c.name}: the push's lines go in front of boot.py; a cut at any write leaves it old or new at boot`, async (t) => {
    const probe = await runBoard({ fsDir: copy(template), ...model, boot: false, code: HOOK });
    assert.equal(probe.error, undefined, probe.output);
    const total = probe.mutations;
    assert.ok(total > 3, `${total} block writes`);
    const torn: string[] = [];
    const seen = { old: 0, new: 0 };
    for (const [m, mode] of MODES.entries()) {
      for (let k = 1; k <= total; k++) {
        if (!ALL && (k + m) % 2) continue;
        const where = `${c.name} ${mode} k=${k}/${total}`;
        const fsDir = copy(template);
        const r = await runBoard({
          fsDir,
          ...model,
          boot: false,
          code: HOOK,
          cutAfterMutations: k,
          cutMode: mode,
        });
        assert.ok(r.powerCut, `${where}: the power went off`);
        const got = await bootSees(fsDir, where);
        const whole = got === sha(USER_BOOT) || got === sha(HOOKED);
        if (got === sha(USER_BOOT)) seen.old++;
        else if (got === sha(HOOKED)) seen.new++;
        else torn.push(where);
        // A session finishes it (a push puts the lines in first): after every torn point, a third of the others.
        if (!ALL && whole && k % 3) continue;
        const vb = await startBoard({ fsDir, ...model });
        try {
          await onBoard(vb.path, (b) =>
            syncFiles(b, { files: [{ path: 'app.py', data: Buffer.from('x = 1\n') }], root: '/' }),
          );
        } finally {
          await vb.stop();
        }
        assert.equal(readFileSync(join(fsDir, 'boot.py'), 'utf8'), HOOKED, `${where}: after a session`);
        assert.ok(
          !existsSync(join(fsDir, '.ota', 'hook.json')) && !existsSync(join(fsDir, '.ota', 'hook')),
          where,
        );
      }
    }
    t.diagnostic(
      `${total} block writes, each cut ${ALL ? 'in both modes' : 'once, modes alternating'}: ` +
        `${JSON.stringify(seen)}, torn at boot: ${torn.length}`,
    );
    assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    if (c.fs === 'fat') {
      // The copy in place: its truncation and its sector writes, and nothing else.
      const writes = 1 + Math.ceil(HOOKED.length / 512);
      assert.ok(torn.length > 0 && torn.length <= 2 * writes, `${writes} writes: ${torn.join('; ')}`);
    } else {
      assert.deepEqual(torn, []);
    }
  });
}

test('littlefs: `ota install` switches boot.py in one step; a cut there leaves it old or new at boot', async (t) => {
  const model = { fs: 'littlefs' as const };
  const template = tempDir();
  writeFileSync(join(template, 'boot.py'), USER_BOOT);
  writeFileSync(join(template, 'main.py'), MAIN);
  /** Runs `ota install`, cut at block write `cut` (counted from power-up); the block writes before its switch. */
  async function install(fsDir: string, cut?: { at: number; mode: CutMode }): Promise<number> {
    let before = -1;
    await cutSession(fsDir, model, cut, async (b, vb) => {
      const exec = b.exec.bind(b);
      b.exec = (code, opts) => {
        if (code.includes("exec(open('.ota/install.py')")) before = vb.board.mutations;
        return exec(code, opts);
      };
      await installUpdater(b, { deviceDir: DEVICE, config: CONFIG });
    });
    return before;
  }
  const probe = copy(template);
  const at = await install(probe);
  assert.equal(readFileSync(join(probe, 'boot.py'), 'utf8'), INSTALLED);
  const seen = { old: 0, new: 0 };
  // The switch's first writes: boot.py's rename, two commits across folders.
  for (const mode of MODES) {
    for (let k = 1; k <= 2; k++) {
      const where = `${mode} k=${at}+${k}`;
      const fsDir = copy(template);
      await install(fsDir, { at: at + k, mode });
      const r = await runBoard({ fsDir, ...model });
      const got = /^BOOTPY (\S+)/m.exec(r.output)?.[1];
      assert.ok(
        got === sha(USER_BOOT) || got === sha(INSTALLED),
        `${where}: boot.py torn at boot: ${r.output}`,
      );
      seen[got === sha(USER_BOOT) ? 'old' : 'new']++;
      // The new boot.py finished the install before main.py (a move the cut left pending completed first).
      if (got === sha(INSTALLED)) {
        assert.doesNotMatch(r.output, /Traceback/, `${where}: ${r.output}`);
        assert.ok(!existsSync(join(fsDir, '.ota', 'install.json')), `${where}: the install is finished`);
      }
    }
  }
  t.diagnostic(`cut at the 2 block writes of boot.py's rename, both modes: ${JSON.stringify(seen)}`);
  assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
});
