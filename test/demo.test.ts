import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BOOT_LINES } from '../src/core/serial/install';

const ROOT = resolve(__dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'weather-station');

test(
  'ota demo updates a virtual board to 1.0.0 then by delta to 1.1.0 and says so',
  { timeout: 180_000 },
  () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'demo', '--keep'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 170_000,
    });
    const out = r.stdout;
    const work = /work folder\s+(\S+)/.exec(out)?.[1];
    try {
      assert.equal(r.status, 0, `${out}\n${r.stderr}`);
      assert.match(out, /board version\s+none -> 1\.0\.0 -> 1\.1\.0\n/);
      assert.match(
        out,
        /update to 1\.0\.0\s+4 of 4 files downloaded \(.*\) in [\d.]+ s, confirmed by the app\n/,
      );
      assert.match(
        out,
        /update to 1\.1\.0\s+1 of 4 files downloaded \(lib\/display\.py\) in [\d.]+ s, confirmed by the app\n/,
      );
      // the delta: only the changed file's bytes travel (maybe compressed), besides latest.json and the manifest
      const changed = statSync(join(EXAMPLE, 'updates/1.1.0/lib/display.py')).size;
      const second = out.slice(out.indexOf('update to 1.1.0'));
      const fileBytes = Number(
        /over the air = (\d+) B of files \+ [\d.]+ (B|KB) latest\.json\/manifest/.exec(second)?.[1],
      );
      assert.ok(fileBytes > 0 && fileBytes <= changed, `${fileBytes} B of files for a ${changed} B change`);
      assert.match(out, /app printed: Weather station: 21\.5 C\n/);
      assert.match(out, /\nNext, your own project: the "start here" steps of ota --help/);
      // `ota` is not on PATH after `npm ci && npm run demo`: the line says how to run it from here.
      assert.match(out, /\(from this folder:\nnpx ota --help; npm link puts ota on your PATH/);
      assert.match(out, /app printed: Weather station: 21\.5 C \/ 70\.7 F\n/);
      assert.match(out, /board files\s+all 4 release files match the manifest/);
      assert.match(out, /lib\/display\.py\s+\[#+\]/, 'progress of the delta download is shown');

      // the board's flash, as the host folder behind the virtual board
      assert.ok(work && existsSync(work), 'work folder kept');
      const flash = join(work, 'board');
      const read = (p: string): Buffer => readFileSync(join(flash, p));
      assert.ok(read('lib/display.py').equals(readFileSync(join(EXAMPLE, 'updates/1.1.0/lib/display.py'))));
      for (const p of ['main.py', 'lib/sensor.py', 'data/station.json']) {
        assert.ok(read(p).equals(readFileSync(join(EXAMPLE, p))), p);
      }
      assert.equal(
        existsSync(join(flash, 'CHANGELOG.md')),
        false,
        '.otaignore kept the changelog off the board',
      );
      assert.equal(existsSync(join(flash, 'updates')), false);
      assert.equal(JSON.parse(read('version.json').toString()).version, '1.1.0');
      assert.equal(
        JSON.parse(read('.ota/state.json').toString()).state,
        'idle',
        'confirmed, nothing pending',
      );
      assert.ok(
        read('boot.py')
          .toString()
          .startsWith(BOOT_LINES.join('\n') + '\n'),
      );
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  },
);

test("the demo's next step runs as it says: npx ota --help, in the clone, offline", () => {
  // npm exec finds the project's own bin (package.json "bin") without asking the registry.
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  const r = spawnSync(npx, ['--no-install', 'ota', '--help'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, npm_config_offline: 'true' },
    shell: process.platform === 'win32',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\nstart here:\n {2}ota demo/);
});
