// A new user at the command line, with nothing set up: no keys, no config, no git, a PATH with node
// alone. Mistakes get a next step (the nearest command, the command's --help), and the "start here"
// lines of `ota --help` take a virtual board from nothing to an updated, signed release.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstJson } from './support/cli';

const REPO = join(__dirname, '..');
const CLI = join(REPO, 'dist', 'cli.js');

let root: string;
let env: NodeJS.ProcessEnv;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'newcomer-'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  // A first-time user: an empty home and config folder, node alone on PATH (no git, no socat).
  env = { PATH: bin, HOME: join(root, 'home'), XDG_CONFIG_HOME: join(root, 'home', '.config') };
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A new user's smallest project: a folder with one main.py. */
function newApp(name: string): string {
  const app = join(root, name);
  mkdirSync(app);
  writeFileSync(join(app, 'main.py'), 'print("hi")\n');
  return app;
}

function ota(args: string[], cwd = root) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
}

test('a mistyped command gets the nearest one; an unknown one the list', () => {
  for (const [typed, meant] of [
    ['pubish', 'publish'],
    ['instal', 'install'],
    ['verfiy', 'verify'],
    ['manfest', 'manifest'],
    ['sevre', 'serve'],
    ['updat', 'update'],
    ['Demo', 'demo'],
  ]) {
    const r = ota([typed!]);
    assert.equal(r.status, 2, typed);
    assert.equal(
      r.stderr,
      `ota: unknown command "${typed}": did you mean "ota ${meant}"? (ota --help lists the commands) [bad_option]\n`,
    );
  }
  const r = ota(['frobnicate']);
  assert.equal(r.stderr, 'ota: unknown command "frobnicate" (ota --help lists the commands) [bad_option]\n');
});

test('the version answers to the spellings other tools use', () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V', '-v', 'version']) {
    const r = ota([flag]);
    assert.equal(r.status, 0, flag);
    assert.equal(r.stdout, `ota ${version}\n`, flag);
  }
});

test("a missing argument is a usage error whose fix names the command's --help", () => {
  for (const args of [['verify'], ['serve'], ['exec'], ['install'], ['releases'], ['update'], ['sim']]) {
    const r = ota(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^ota: .+ \[bad_option\]\n/, args.join(' '));
    assert.match(r.stderr, new RegExp(`\\n {2}fix: ota ${args[0]} --help shows the options\\n$`), args[0]);
  }
});

test('ota with no arguments shows where to start: the demo, then the flow in order', () => {
  const r = ota([]);
  assert.equal(r.status, 2);
  const start = /\nstart here:\n((?: {2}ota .*\n)+)/.exec(r.stderr);
  assert.ok(start, r.stderr);
  const steps = [...start[1]!.matchAll(/^ {2}ota (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(steps, ['demo', 'keygen', 'publish', 'serve', 'install', 'update']);
});

/** Starts `ota sim --pty --json` and resolves with the pty's path. */
function startSim(fsDir: string): { child: ChildProcessWithoutNullStreams; path: Promise<string> } {
  const child = spawn(process.execPath, [CLI, 'sim', '--fs', fsDir, '--pty', '--json'], { env });
  return { child, path: firstJson<{ path: string }>(child).then((j) => j.path) };
}

test(
  'the "start here" steps, from no key and no git to a board updated to a signed release, and again',
  { timeout: 180_000 },
  async () => {
    const app = join(root, 'weather-station'); // a copy: not a git repository
    cpSync(join(REPO, 'examples/weather-station'), app, { recursive: true });
    const board = startSim(join(root, 'flash')); // a folder that does not exist yet: a blank board
    const serve: { child?: ChildProcessWithoutNullStreams } = {};
    try {
      const key = ota(['keygen', '--rsa'], app);
      assert.equal(key.status, 0, key.stderr);
      const keyFile = join(root, 'home/.config/micropython-ota/keys/default.json');
      const pub = ota(
        ['publish', '--target', 'folder', '--dir', '../site', '--version', '1.0.0', '--sign', keyFile],
        app,
      );
      assert.equal(pub.status, 0, pub.stderr);
      assert.match(pub.stdout, /published 1\.0\.0 .*signed/);
      assert.match(pub.stderr, /dated .*not a git commit/, 'says where the date came from');

      serve.child = spawn(process.execPath, [CLI, 'serve', join(root, 'site'), '--port', '0', '--json'], {
        env,
      });
      const { url } = await firstJson<{ url: string }>(serve.child);
      writeFileSync(join(app, 'ota_config.json'), JSON.stringify({ source: 'static', url }));
      const port = await board.path;
      assert.match(ota(['info', '--port', port], app).stdout, /^updater +not installed \(ota install /m);
      const install = ota(['install', '--port', port, '--config', 'ota_config.json', '--key', keyFile], app);
      assert.equal(install.status, 0, install.stderr);
      assert.match(ota(['info', '--port', port], app).stdout, /^updater +idle$/m);

      const first = ota(['update', '--port', port], app);
      assert.equal(first.status, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /manifest 1\.0\.0 verified \(key [0-9a-f]{16}\)/);
      assert.match(first.stdout, /install 1\.0\.0 done in/);
      assert.match(first.stdout, /the board restarted into the new release\n$/);

      const again = ota(['update', '--port', port], app);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, /the board is up to date\n$/);

      cpSync(join(app, 'updates/1.1.0'), app, { recursive: true });
      assert.equal(
        ota(
          ['publish', '--target', 'folder', '--dir', '../site', '--version', '1.1.0', '--sign', keyFile],
          app,
        ).status,
        0,
      );
      const json = ota(['update', '--port', port, '--json'], app);
      assert.equal(json.status, 0, json.stderr);
      const events = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { ev: string; files?: number });
      assert.equal(events.find((e) => e.ev === 'start')?.files, 1, 'only the changed file');
      assert.ok(events.some((e) => e.ev === 'done'));

      // An unsigned release to a board that trusts a key: refused, and the fix says how to sign.
      assert.equal(
        ota(['publish', '--target', 'folder', '--dir', '../site', '--version', '1.2.0'], app).status,
        0,
      );
      const unsigned = ota(['update', '--port', port], app);
      assert.equal(unsigned.status, 1);
      assert.match(
        unsigned.stderr,
        /\[no_signature\]\n {2}fix: this board takes only signed releases: publish again with --sign <the key file ota install --key gave it>\n$/,
      );

      // Code that resets the board ends when the board is back, instead of waiting for ever.
      const reset = ota(['exec', '--port', port, 'import machine; machine.reset()'], app);
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stderr, /the board reset while running the code, and booted again/);
      assert.equal(ota(['exec', '--port', port, 'print(1+1)'], app).stdout, '2\r\n');

      // The host gone: the board's failure, its code, and exit 1.
      serve.child.kill();
      const down = ota(['update', '--port', port], app);
      assert.equal(down.status, 1);
      // It names the URL the board asks (from the board's config), and the fix in command-line words.
      assert.equal(
        down.stderr,
        `ota: The board cannot reach ${url}: connection refused. [network]\n  fix: start the release host here: ota serve <folder>\n`,
      );
    } finally {
      serve.child?.kill();
      board.child.kill();
    }
  },
);

test('an unsigned publish says so, and how to sign', () => {
  const app = newApp('unsigned-app');
  const r = ota(['publish', '--target', 'folder', '--dir', '../unsigned-site', '--version', '0.1.0'], app);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /, signed$/m);
  assert.match(r.stderr, /^unsigned: .*ota keygen --rsa.*--sign <key file>.*ota install --key/m);
});

test('ota install with no config written yet shows the smallest one', () => {
  const empty = join(root, 'no-config');
  mkdirSync(empty);
  const r = ota(['install', '--port', '/dev/null', '--config', 'ota_config.json'], empty);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^ota: there is no ota_config\.json yet: write one, e\.g\. \{"source": "static", "url": .*\[bad_config\]$/m,
  );
  assert.match(ota(['install', '--help']).stdout, /The smallest config/);
});

test('a key file that is not there: the fix says how to make one', () => {
  const app = newApp('keyless-app');
  const r = ota(
    ['publish', '--target', 'folder', '--dir', '../x', '--version', '0.2.0', '--sign', 'nope.json'],
    app,
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\[key_unreadable\]\n {2}fix: check the path; ota keygen --rsa makes a key/);
});

test('a mistyped option gets the nearest one, in a line without node internals', () => {
  for (const [args, said] of [
    [['info', '--prot', '/dev/ttyUSB0'], 'unknown option --prot: did you mean --port?'],
    [['verify', '--jsn', 'm.json'], 'unknown option --jsn: did you mean --json?'],
    [['publish', '--sing', 'k.json'], 'unknown option --sing: did you mean --sign?'],
    [['info', '--zzzzzz'], 'unknown option --zzzzzz'],
  ] as const) {
    const r = ota([...args]);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr, `ota: ${said} (--help lists the options) [bad_option]\n`);
  }
});

test(
  "an app that never calls ota.confirm(): ota update says so, and after the rollback it is not 'up to date'",
  { timeout: 180_000 },
  async () => {
    // A newcomer's own project: no ota.confirm() anywhere, no key, no git.
    const app = join(root, 'unconfirmed-app');
    mkdirSync(join(app, 'lib'), { recursive: true });
    writeFileSync(join(app, 'main.py'), 'import x\nprint("hello", x.f())\n');
    writeFileSync(join(app, 'lib', 'x.py'), 'def f():\n    return 42\n');
    const board = startSim(join(root, 'unconfirmed-flash'));
    const serve: { child?: ChildProcessWithoutNullStreams } = {};
    try {
      const pub = ota(
        ['publish', '--target', 'folder', '--dir', '../unconfirmed-site', '--version', '1.0.0'],
        app,
      );
      assert.equal(pub.status, 0, pub.stderr);
      serve.child = spawn(
        process.execPath,
        [CLI, 'serve', join(root, 'unconfirmed-site'), '--port', '0', '--json'],
        { env },
      );
      const { url } = await firstJson<{ url: string }>(serve.child);
      writeFileSync(join(app, 'ota_config.json'), JSON.stringify({ source: 'static', url }));
      const port = await board.path;
      const install = ota(['install', '--port', port, '--config', 'ota_config.json'], app);
      assert.equal(install.status, 0, install.stderr);
      assert.match(install.stdout, new RegExp(`\\nnext: ota update --port ${port} \\(the board updates now`));
      assert.doesNotMatch(install.stderr, /warning/, 'the virtual board reaches 127.0.0.1: no warning');

      const first = ota(['update', '--port', port], app);
      assert.equal(first.status, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /swapping in 1\.0\.0: 2 files\n/);
      assert.match(
        first.stdout,
        /^1\.0\.0 runs unconfirmed: the app must call ota\.confirm\(\) .*rolls it back after a few boots.*; to keep it now: ota confirm --port \S+\n$/m,
      );
      assert.match(ota(['info', '--port', port], app).stdout, /^note +1\.0\.0 runs unconfirmed/m);

      // Three boots later (confirm_boots), the board has rolled the release back by itself.
      for (let i = 0; i < 4; i++)
        assert.equal(ota(['exec', '--port', port, 'import machine; machine.reset()'], app).status, 0);
      const info = ota(['info', '--port', port], app);
      assert.match(info.stdout, /^release +none$/m);
      assert.match(info.stdout, /^note +the board rolled 1\.0\.0 back .*ota\.confirm\(\)/m);

      // The host still offers 1.0.0, which the board skips: that is no "up to date".
      const again = ota(['update', '--port', port], app);
      assert.doesNotMatch(again.stdout, /up to date/);
      assert.equal(again.status, 1, again.stdout + again.stderr);
      assert.match(
        again.stderr,
        /^ota: the board rolled 1\.0\.0 back .*it runs no release\. Publish a newer version, whose app calls ota\.confirm\(\) once it runs well \[rolled_back\]\n$/m,
      );

      // A newer version installs; one more waits behind it until it is confirmed, by the line the fix gives.
      const publish = (v: string) =>
        ota(['publish', '--target', 'folder', '--dir', '../unconfirmed-site', '--version', v], app).status;
      assert.equal(publish('1.0.1'), 0);
      assert.match(ota(['update', '--port', port], app).stdout, /^1\.0\.1 runs unconfirmed/m);
      assert.equal(publish('1.0.2'), 0);
      const waits = ota(['update', '--port', port], app);
      assert.equal(waits.status, 1, waits.stdout);
      assert.equal(
        waits.stderr,
        'ota: A newer release waits: the release the board runs is not confirmed yet (its app calls ota.confirm() ' +
          'once it runs well). Confirm it, or roll it back, then update again [board_busy]\n' +
          '  fix: ota confirm --port <path> (or ota rollback --port <path>), then ota update again\n',
      );
      assert.equal(ota(['confirm', '--port', port], app).status, 0);
      const now = ota(['update', '--port', port], app);
      assert.equal(now.status, 0, now.stderr);
      assert.match(now.stdout, /update 1\.0\.1 → 1\.0\.2 done/);
    } finally {
      serve.child?.kill();
      board.child.kill();
    }
  },
);

test('a path that is not there is named in words, with the exit code of a failure', () => {
  const app = newApp('paths-app');
  const none = join(root, 'no-such-folder');
  for (const [args, said] of [
    [
      ['verify', 'nope.json'],
      /^ota: cannot read nope\.json: no such file or folder \(ENOENT\) \(ota manifest <dir> writes/,
    ],
    [['verify', 'nope.json', none], /^ota: cannot read nope\.json: no such file or folder/],
    [
      ['manifest', none, '--version', '1.0.0'],
      /^ota: cannot read .*no-such-folder: no such file or folder \(ENOENT\) \[unreadable\]$/m,
    ],
    [
      ['publish', '--target', 'folder', '--dir', '../s', '--version', '1.0.0', '--sign', 'k.json'],
      /^ota: cannot read key file k\.json: no such file or folder \(ENOENT\) \[key_unreadable\]$/m,
    ],
    [
      ['info', '--port', join(root, 'ttyNONE')],
      /^ota: cannot open serial port .*ttyNONE: no such port \(is the board plugged in\?\) \[port_open_failed\]$/m,
    ],
    [
      ['update', '--port', app],
      /^ota: cannot open serial port .*paths-app: not a serial port \[port_open_failed\]$/m,
    ],
  ] as const) {
    const r = ota([...args], app);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, said, args.join(' '));
    assert.doesNotMatch(
      r.stderr,
      /(?<!\()\bE[A-Z]{3,}\b(?!\))|Error: |\n\s+at /,
      `${args.join(' ')}: no bare errno, no stack`,
    );
  }
});

test('ota serve says what boards will get: the version published there, or that nothing is', async () => {
  const app = newApp('serve-app');
  const none = ota(['serve', 'site'], app);
  assert.equal(none.status, 1);
  assert.match(
    none.stderr,
    /^ota: cannot serve site: no such file or folder \(ENOENT\)\. Publish a release there first: ota publish --target folder --dir site \[not_found\]\n$/,
  );
  /** The first stdout line and what stderr said by then, of `ota serve <dir>` in the project. */
  const first = (dir: string, ...more: string[]) =>
    new Promise<{ out: string; err: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'serve', dir, '--port', '0', ...more], { cwd: app, env });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!out.includes('\n')) return;
        // The warning is written right after the first line: give it a moment.
        setTimeout(() => (child.kill('SIGINT'), resolve({ out, err })), 300);
      });
      child.on('exit', (code) =>
        out.includes('\n') ? undefined : reject(new Error(`exit ${code}: ${err}`)),
      );
    });
  // The project itself (a newcomer's first guess): served, with why boards will find nothing.
  const project = await first('.');
  assert.match(project.out, /^serving \. at http:\/\/127\.0\.0\.1:\d+ \(Ctrl-C stops\)\n/);
  assert.match(
    project.err,
    /^ota: \. holds no latest\.json, so boards find no release here: serve the folder that `ota publish --target folder --dir <folder>` wrote/,
  );
  assert.equal(ota(['publish', '--target', 'folder', '--dir', 'site', '--version', '0.3.0'], app).status, 0);
  const site = await first('site');
  assert.match(
    site.out,
    /^serving site at http:\/\/127\.0\.0\.1:\d+: latest\.json offers 0\.3\.0 \(Ctrl-C stops\)\n/,
  );
  assert.match(
    site.err,
    /^ota: on 127\.0\.0\.1, only this computer \(and the virtual board\) reaches it: for boards on Wi-Fi, --host 0\.0\.0\.0/,
  );
  assert.doesNotMatch(site.err, /latest\.json/);
  // For boards on Wi-Fi: the address to put in their config, never 0.0.0.0.
  const lan = await first('site', '--host', '0.0.0.0');
  assert.match(
    lan.out,
    /^serving site at http:\/\/0\.0\.0\.0:(\d+), for boards at http:\/\/(?!0\.0\.0\.0)[\d.]+:\1: latest\.json offers 0\.3\.0 \(Ctrl-C stops\)\n/,
  );
  assert.equal(lan.err, '');
});

test('names other tools use get what to run here, not the nearest name', () => {
  for (const [typed, said] of [
    ['init', /a project needs no set-up here: start with ota keygen --rsa, then ota publish/],
    ['revert', /ota rollback --port <path>/],
    ['status', /ota info --port <path>/],
    ['deploy', /ota publish/],
  ] as const) {
    const r = ota([typed]);
    assert.equal(r.status, 2, typed);
    assert.match(
      r.stderr,
      new RegExp(`^ota: there is no "ota ${typed}": .*${said.source}.* \\[bad_option\\]\\n$`),
      typed,
    );
  }
  // With no target, publish names the three and what each needs; keygen names the usual key.
  assert.match(
    ota(['publish']).stderr,
    /^ota: which --target\? folder \(--dir <out>: a static host or ota serve\), github \(--repo <owner\/name>\) or oci \(--ref <host\/repo>\)/,
  );
  assert.match(ota(['publish', '--target', 's3']).stderr, /^ota: --target s3 is unknown: use folder /);
  assert.match(ota(['keygen']).stderr, /--rsa suits most boards/);
});

test('ota info --list with no port found says how to get one', () => {
  const r = spawnSync(process.execPath, [CLI, 'info', '--list'], {
    env: { ...env, OTA_PORTS_DIR: join(root, 'no-virtual-ports') },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  // A machine with a serial port (a board plugged in) lists it instead: that line names its path.
  if (!r.stdout.startsWith('no serial ports')) assert.match(r.stdout, /^\S+\t[0-9a-f-]{4}:[0-9a-f-]{4}\t/m);
  else
    assert.match(
      r.stdout,
      /^no serial ports found: plug a board in over USB .*or start a virtual one: ota sim --fs board --pty\n$/,
    );
});

test('ota publish refuses an option its --target would ignore, before anything is written', () => {
  const app = newApp('targets-app');
  const site = ['publish', '--target', 'folder', '--dir', '../targets-site', '--version', '1.0.0'];
  for (const [extra, said] of [
    [
      ['--concurrency', 'x'],
      /^ota: --concurrency is for --target github or oci, not folder \[bad_option\]$/m,
    ],
    [['--repo', 'me/app'], /^ota: --repo is for --target github, not folder \[bad_option\]$/m],
    [['--ref', 'ghcr.io/me/app'], /^ota: --ref is for --target oci, not folder \[bad_option\]$/m],
    [
      ['--prerelease'],
      /^ota: --prerelease: a static host has one channel \(latest\.json\), which every board on it follows; publish a beta to a folder of its own/m,
    ],
  ] as const) {
    const r = ota([...site, ...extra], app);
    assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, said, extra.join(' '));
  }
  const github = ota(
    ['publish', '--target', 'github', '--repo', 'me/app', '--dir', 'x', '--version', '1.0.0'],
    app,
  );
  assert.equal(github.status, 2);
  assert.match(github.stderr, /^ota: --dir is for --target folder, not github \[bad_option\]$/m);
  assert.throws(() => readFileSync(join(root, 'targets-site', 'latest.json')), /ENOENT/, 'nothing published');
  // A prerelease version on a static host reaches every board on it: published, and said.
  const rc = ota([...site.slice(0, -1), '1.1.0-rc.1'], app);
  assert.equal(rc.status, 0, rc.stderr);
  assert.match(rc.stderr, /^note: 1\.1\.0-rc\.1 is a prerelease, and every board on this host installs it/m);
});

test('ota releases and ota verify refuse an option they would ignore', () => {
  for (const [args, said] of [
    [
      ['releases', '--url', 'http://127.0.0.1:9', '--repo', 'me/app'],
      '--url and --repo: name one release host',
    ],
    [['releases', '--url', 'http://127.0.0.1:9', '--branch', 'dev'], '--branch is for --repo (GitHub)'],
    [['releases', '--url', 'http://127.0.0.1:9', '--token', 't'], '--token is for --repo (GitHub)'],
    [['verify', 'm.json', '--user', 'bob'], '--user goes with --ref'],
    [['verify', 'm.json', '--key', 'k.json'], '--key goes with --ref'],
  ] as const) {
    const r = ota([...args]);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(
      r.stderr,
      new RegExp(`^ota: ${said.replace(/[()]/g, '\\$&')} \\[bad_option\\]\\n`),
      args.join(' '),
    );
  }
});
