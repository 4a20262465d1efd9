// The push's recovery script (/.ota/recover.py) is written in place, so a cut can tear it; boot.py runs it
// only while one of its marks is on flash, so it must never be torn while a mark is there. The one
// session that used to write it then: a push cut after its marker, and the script deleted since (a new
// host version brings its helpers and the script along). Cut at each block write of that session (LittleFS,
// modes alternating; PUSH_CUTS=all: both), the board then boots alone: boot.py raises nothing (no torn
// script ran) and a script on flash beside a mark is whole; the next two sessions finish the push.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECOVER_SOURCE } from '../src/core/serial/board-helpers';
import { syncFiles } from '../src/core/serial/sync';
import { runBoard } from '../src/sim/board';
import type { CutMode } from '../src/sim/flash';
import { startBoard } from './serial-board';
import { cutSession } from './support/cut-session';
import { flashDirs } from './support/flash-dirs';
import { onBoard } from './support/on-board';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const OLD = Buffer.from('x = 1\n');
const NEW = Buffer.from(Array.from({ length: 300 }, (_, i) => `y${i} = ${i}\n`).join(''));
const MAIN = Buffer.from("print('APP', open('/app.py').read(8))\n");
const ALL = process.env.PUSH_CUTS === 'all';
const model = { fs: 'littlefs' as const };
const { tempDir, copy } = flashDirs('ota-script-cut-');
const marks = (d: string) =>
  readdirSync(join(d, '.ota')).filter((n) => /^(push\.json|push\.new|hook\.json)$/.test(n));

/** The session under test: a new host version connects (helpers and script sent) and lists a file. */
async function session(fsDir: string, cut?: { at: number; mode: CutMode }): Promise<number> {
  let n = 0;
  await cutSession(fsDir, model, cut, async (b, vb) => {
    const m0 = vb.board.mutations;
    await b.stat(['/app.py']);
    n = vb.board.mutations - m0;
  });
  return n;
}

let template = '';
before(async () => {
  template = tempDir();
  const vb = await startBoard({ fsDir: template, ...model });
  await onBoard(vb.path, (b) =>
    syncFiles(b, {
      files: [
        { path: 'app.py', data: OLD },
        { path: 'main.py', data: MAIN },
      ],
      root: '/',
    }),
  );
  await vb.stop();
  // A push of NEW cut right after its marker; since then the script and the cached helpers went.
  mkdirSync(join(template, '.ota', 'push'), { recursive: true });
  writeFileSync(join(template, '.ota', 'push', 'app.py'), NEW);
  writeFileSync(
    join(template, '.ota', 'push.json'),
    JSON.stringify({ files: { '/app.py': sha(NEW) }, remove: [] }),
  );
  rmSync(join(template, '.ota', 'recover.py'));
  rmSync(join(template, '.ota', 'serial'), { recursive: true });
});

test('littlefs: the recovery script is never torn on flash beside a mark, whatever block write is cut', async (t) => {
  const total = await session(copy(template));
  assert.ok(total > 5, `${total} block writes`);
  let cuts = 0;
  for (const [m, mode] of (['drop', 'tear'] as CutMode[]).entries()) {
    for (let k = 1; k <= total; k++) {
      if (!ALL && (k + m) % 2) continue;
      const where = `${mode} k=${k}/${total}`;
      const fsDir = copy(template);
      await session(fsDir, { at: k, mode });
      const script = join(fsDir, '.ota', 'recover.py');
      if (marks(fsDir).length && existsSync(script))
        assert.equal(
          sha(readFileSync(script, 'utf8')),
          sha(RECOVER_SOURCE),
          `${where}: a torn script beside a mark`,
        );
      const r = await runBoard({ fsDir, ...model });
      assert.doesNotMatch(r.output, /Traceback|Error/, `${where}: boot.py raised: ${r.output}`);
      assert.match(r.output, /^APP /m, `${where}: main.py ran`);
      // Helpers cached but no script yet: the first session uncaches them, the second sends both.
      await session(fsDir);
      await session(fsDir);
      assert.deepEqual(readFileSync(join(fsDir, 'app.py')), NEW, `${where}: the push is finished`);
      assert.deepEqual(marks(fsDir), [], where);
      cuts++;
    }
  }
  t.diagnostic(`${total} block writes, ${cuts} cuts`);
});
