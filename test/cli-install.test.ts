// `ota install` end to end, as a user runs it: the built CLI (dist/cli.js) started in a folder that
// is not the project, a fresh virtual board on a real pseudo-terminal, releases made by `ota publish`
// and served by `ota serve`, updates started over the same port with `ota exec`. Without --project
// the board binds itself to the app of the first release it installs; with --project it is bound
// before any release (docs/protocols.md, "The board's app"). One release key signs both apps, so
// only the binding can refuse the other one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPtyBoard, type TestBoard } from './serial-board';
import { CLI, ota as otaIn, type Run } from './support/cli';
import { eventsOf, hashTree } from './support/release-fixture';

const T = { timeout: 120_000 };
let work: string;
/** The working folder of every command: neither project, as when a user runs `ota` from anywhere. */
let elsewhere: string;
let key: string;
/** The public entry `ota keygen` printed for `key`, saved as a file: all a board needs to trust it. */
let pub: string;
const serves: ChildProcess[] = [];

const ota = (...args: string[]): Promise<Run> => otaIn(args, { home: join(work, 'home'), cwd: elsewhere });

/** A project folder named `name` (its name is the release's app) holding one main.py. */
function project(name: string): string {
  const dir = join(work, 'projects', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.py'), `print(${JSON.stringify(name)})\n`);
  return dir;
}

/** Publishes `dir` as `version`, signed with the one key, into the host folder `host`. */
async function publish(dir: string, version: string, host: string): Promise<void> {
  const r = await ota(
    'publish',
    dir,
    '--target',
    'folder',
    '--dir',
    host,
    '--version',
    version,
    '--sign',
    key,
  );
  assert.equal(r.status, 0, r.stderr);
}

/** `ota serve` on a free port for a new host folder, and a board config pointing at it. */
async function releaseHost(): Promise<{ host: string; config: string }> {
  const host = mkdtempSync(join(work, 'host-'));
  const child = spawn(process.execPath, [CLI, 'serve', host, '--port', '0', '--json'], { cwd: elsewhere });
  serves.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`ota serve exited with ${code}`)));
  });
  const config = `${host}.json`;
  writeFileSync(config, JSON.stringify({ source: 'static', url, retries: 0, timeout: 5 }));
  return { host, config };
}

/** An update over the board's port (reset=False: the port stays up), confirmed first as an app does. */
async function update(vb: TestBoard): Promise<{ errors: string[]; out: string }> {
  const r = await ota('exec', '--port', vb.path, 'import ota; ota.confirm(); print(ota.update(False))');
  assert.equal(r.status, 0, r.stderr);
  const errors = eventsOf(r.stdout)
    .filter((e) => e.ev === 'error')
    .map((e) => String(e.code));
  return { errors, out: r.stdout };
}

/**
 * The host's newest release is greenhouse's, the board runs weather-station: the update is refused
 * with wrong_app and every board file outside .ota (the updater's own state) stays byte-identical.
 */
async function refusedAsOtherApp(vb: TestBoard): Promise<void> {
  const before = hashTree(vb.fsDir, ['.ota']);
  const refused = await update(vb);
  assert.deepEqual(refused.errors, ['wrong_app'], refused.out);
  assert.match(refused.out, /release is for greenhouse, this board runs weather-station/);
  assert.deepEqual(hashTree(vb.fsDir, ['.ota']), before, 'the board files are byte-identical');
}

function boardJson(vb: TestBoard, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(vb.fsDir, file), 'utf8')) as Record<string, unknown>;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-cli-install-'));
  elsewhere = join(work, 'elsewhere');
  mkdirSync(elsewhere);
  mkdirSync(join(work, 'home'));
  key = join(work, 'keys', 'release.json');
  const made = await ota('keygen', '--rsa', '--out', key);
  assert.equal(made.status, 0, made.stderr);
  pub = join(work, 'keys', 'release.pub.json');
  writeFileSync(
    pub,
    made.stdout.split('\n').find((l) => l.startsWith('{'))!,
  );
});

after(async () => {
  for (const child of serves) {
    if (child.exitCode !== null) continue;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test(
  'ota install without --project: the first release binds the board; a signed release of another app is refused, the old one byte-identical',
  T,
  async () => {
    const weather = project('weather-station');
    const greenhouse = project('greenhouse');
    const { host, config } = await releaseHost();
    const vb = await startPtyBoard();
    try {
      const installed = await ota('install', '--port', vb.path, '--config', config, '--key', key);
      assert.equal(installed.status, 0, installed.stderr);
      assert.match(installed.stdout, /no app set: the board binds itself to the app of the first release/);
      const cfg = boardJson(vb, 'ota_config.json');
      assert.equal(cfg.app, undefined, 'no folder was guessed: the working folder is not the project');
      assert.equal((cfg.keys as unknown[]).length, 1, 'the release key is trusted');

      await publish(weather, '1.0.0', host);
      const first = await update(vb);
      assert.deepEqual(first.errors, [], first.out);
      assert.equal(first.out.trimEnd().split('\n').at(-1)?.trim(), '1.0.0', first.out);
      assert.deepEqual(
        { version: boardJson(vb, 'version.json').version, name: boardJson(vb, 'version.json').name },
        { version: '1.0.0', name: 'weather-station' },
        'bound to the first release',
      );
      assert.equal(
        readFileSync(join(vb.fsDir, 'main.py'), 'utf8'),
        readFileSync(join(weather, 'main.py'), 'utf8'),
      );

      // Same key, newer version, another app: only the binding stands in its way.
      await publish(greenhouse, '1.1.0', host);
      await refusedAsOtherApp(vb);
    } finally {
      await vb.stop();
    }
  },
);

test('ota install --project <dir>: bound to that project before any release', T, async () => {
  const weather = project('weather-station');
  const { host, config } = await releaseHost();
  await publish(project('greenhouse'), '1.1.0', host);
  const vb = await startPtyBoard();
  try {
    // Trusted from its public entry alone: the board needs nothing more.
    const r = await ota('install', '--port', vb.path, '--config', config, '--key', pub, '--project', weather);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(boardJson(vb, 'ota_config.json').app, 'weather-station');
    assert.match(r.stdout, /bound to the app "weather-station": the board takes only its releases/);
    // The host's only release is another app's: refused on a board that has none yet.
    await refusedAsOtherApp(vb);
  } finally {
    await vb.stop();
  }
});
