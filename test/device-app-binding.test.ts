// A board binds to its app (docs/protocols.md, Manifest): a release key that signs several projects
// must not let project A's genuine signed release install on project B's board. The real updater on
// the virtual board refuses another app's manifest before downloading any file.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindApp } from '../src/core/board-config';
import type { OtaConfig } from '../src/core/config';
import { explainBoardEvent } from '../src/core/user-errors';
import * as fx from './support/release-fixture';

const T = { timeout: 60_000 };
const keys = fx.makeKeys();
const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

/** A 1.0.0 board (version.json as given) updating to a 1.1.0 release named `name`, signed by the one key. */
async function attempt(
  name: string,
  versionJson: Record<string, unknown>,
  config: Record<string, unknown> = {},
) {
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { name, keep: ['settings.json'] });
  const host = fx.tempDir('host');
  cleanups.push(rel.dir, host);
  fx.publishStatic(host, rel, { sign: { keys, alg: 'ed25519' } });
  const srv = await fx.serveFolder(host);
  const fsDir = fx.makeBoard(
    {
      source: 'static',
      url: srv.url,
      retries: 0,
      timeout: 2,
      keys: [fx.boardKey(keys, 'ed25519')],
      ...config,
    },
    fx.APP_1_0_0,
    undefined,
  );
  cleanups.push(fsDir);
  const vj = JSON.stringify(versionJson);
  writeFileSync(join(fsDir, 'version.json'), vj);
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.update())\n' });
    assert.equal(r.error, undefined, r.output);
    const paths = srv.requests.map((q) => new URL(q.url, 'http://x').pathname);
    return { codes: fx.errorCodes(r.output), fsDir, output: r.output, paths, vj };
  } finally {
    await srv.close();
  }
}

function installed(fsDir: string): { version: string; name?: string } {
  return JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8'));
}

test("another app's correctly signed release is refused before any file is fetched", T, async () => {
  const o = await attempt('other-project', { version: '1.0.0', name: 'app' });
  assert.deepEqual(o.codes, ['wrong_app'], o.output);
  assert.match(o.output, /release is for other-project, this board runs app/);
  assert.deepEqual(fx.hashTree(o.fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  assert.equal(readFileSync(join(o.fsDir, 'version.json'), 'utf8'), o.vj, 'version.json byte-identical');
  assert.deepEqual(
    o.paths.filter((p) => !/latest\.json$|manifest\.json(\.sig)?$/.test(p)),
    [],
    'only the release pointer and the manifest were fetched',
  );
});

test('the same app passes and keeps its name', T, async () => {
  const o = await attempt('app', { version: '1.0.0', name: 'app' });
  assert.deepEqual(o.codes, [], o.output);
  assert.deepEqual(installed(o.fsDir), { ...installed(o.fsDir), version: '1.1.0', name: 'app' });
});

test('"app" in the config overrides the recorded name (moving a board on purpose)', T, async () => {
  const moved = await attempt('other-project', { version: '1.0.0', name: 'app' }, { app: 'other-project' });
  assert.deepEqual(moved.codes, [], moved.output);
  assert.equal(installed(moved.fsDir).name, 'other-project');
  const held = await attempt('app', { version: '1.0.0', name: 'app' }, { app: 'other-project' });
  assert.deepEqual(held.codes, ['wrong_app'], held.output);
  assert.equal(readFileSync(join(held.fsDir, 'version.json'), 'utf8'), held.vj);
});

test('a fresh board (no app, no recorded name) accepts any name and records it', T, async () => {
  const o = await attempt('weather-station', { version: '1.0.0' });
  assert.deepEqual(o.codes, [], o.output);
  assert.equal(installed(o.fsDir).name, 'weather-station');
});

test('a bad "app" in the config is bad_config', T, async () => {
  const o = await attempt('app', { version: '1.0.0', name: 'app' }, { app: 7 });
  assert.deepEqual(o.codes, ['bad_config'], o.output);
});

test('host: a config without "app" is bound to the project name; a set one is kept; the error says how to move', () => {
  const unset: OtaConfig = { source: 'static' };
  const set: OtaConfig = { source: 'static', app: 'garden' };
  assert.equal(bindApp(unset, '/home/ana/weather-station').app, 'weather-station');
  assert.equal(bindApp(set, '/home/ana/weather-station').app, 'garden');
  const a = explainBoardEvent({ code: 'wrong_app', msg: 'release is for other, this board runs app' });
  assert.deepEqual(a.fixes, ['configure', 'install']);
  assert.match(a.message, /set "app" in its configuration .* or reinstall over USB/);
  // On the command line, its words: no editor command.
  const cli = explainBoardEvent(
    { code: 'wrong_app', msg: 'release is for other, this board runs app' },
    { commandLine: true },
  );
  assert.match(cli.message, /set "app" in its ota_config\.json and run ota install again/);
  assert.doesNotMatch(cli.message, /Configure Device|Install Updater/);
});
