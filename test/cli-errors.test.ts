// Every `ota` failure is told one way (src/cli/common.ts, reportError): the message with its code
// in brackets, then the fix, picked by src/core/user-errors.ts as the editor's buttons are. Each
// case is a real command run against real local servers (or a port nothing listens on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failsWith, ota as run, type Run } from './support/cli';
import { REFUSED_PORT } from './support/refused';

const home = mkdtempSync(join(tmpdir(), 'ota-cli-errors-'));
const project = join(home, 'app');
mkdirSync(project);
writeFileSync(join(project, 'main.py'), 'print(1)\n');

const ota = (...args: string[]): Promise<Run> => run(args, { home });

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${port}` });
    }),
  );
}

test('ota fleet: a broker that does not answer names --broker as the fix', async () => {
  const port = REFUSED_PORT;
  const r = await ota('fleet', 'status', '--broker', `mqtt://127.0.0.1:${port}`, '--fleet', 'lab');
  failsWith(r, 'fleet_down', /check --broker \(OTA_FLEET_BROKER\)/);
});

test('ota publish --target oci: refused credentials name the options to check', async () => {
  let asked = 0;
  const { server, url } = await listen((_req, res) => {
    asked++;
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="registry"' }).end();
  });
  try {
    const ref = `${new URL(url).host}/me/app`;
    const r = await ota(
      ...['publish', project, '--target', 'oci', '--ref', ref, '--version', '1.0.0'],
      ...['--user', 'u', '--password', 'p'],
    );
    failsWith(r, 'auth_failed', /check --user and --password or OTA_REGISTRY_TOKEN/);
    assert.ok(asked > 0, 'the registry was asked');
  } finally {
    server.close();
  }
});

test('ota publish to GitHub without a token names --token and GITHUB_TOKEN', async () => {
  const r = await ota('publish', project, '--target', 'github', '--repo', 'me/app', '--version', '1.0.0');
  failsWith(r, 'token_missing', /pass --token or set GITHUB_TOKEN/);
});

test('ota install: an invalid configuration names the configuration as the fix', async () => {
  const cfg = join(home, 'bad_config.json');
  writeFileSync(cfg, JSON.stringify({ source: 'static' }));
  const r = await ota('install', '--port', join(home, 'no-such-port'), '--config', cfg);
  failsWith(r, 'bad_config', /check the configuration/);
});

test('ota install: what it reads here is checked before the board is opened, each with its own code', async () => {
  // The port does not exist: any of these reaching it would fail with port_open_failed instead.
  const port = join(home, 'no-such-port');
  const cfg = join(home, 'ota_config.json');
  writeFileSync(cfg, JSON.stringify({ source: 'static', url: 'http://127.0.0.1:9' }));
  const none = await ota('install');
  failsWith(none, 'bad_option', /ota install --help shows the options$/, 2);
  assert.match(none.stderr, /needs --port <path> and --config <ota_config\.json>/);
  // A mistyped --project would bind the board to an app that never publishes.
  const typo = await ota(
    'install',
    '--port',
    port,
    '--config',
    cfg,
    '--project',
    join(home, 'weather-statoin'),
  );
  failsWith(typo, 'not_a_directory', null);
  assert.match(typo.stderr, /bound to the app "weather-statoin"/);
  const file = await ota('install', '--port', port, '--config', cfg, '--project', cfg);
  failsWith(file, 'not_a_directory', null);
  failsWith(
    await ota('install', '--port', port, '--config', cfg, '--key', join(home, 'no-key.json')),
    'key_unreadable',
    /check the path; ota keygen/,
  );
  failsWith(await ota('install', '--port', port, '--config', cfg), 'port_open_failed', /check --port/);
});

test('ota releases lists the channels of a static host, and a stopped local host says: ota serve', async () => {
  const { server, url } = await listen((req, res) => {
    if (req.url === '/latest.json') res.writeHead(200).end(JSON.stringify({ version: '1.2.0' }));
    else res.writeHead(404).end();
  });
  try {
    const r = await ota('releases', '--url', url);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ {2}stable +1\.2\.0 +http:\/\/127\.0\.0\.1:\d+\/1\.2\.0\/manifest\.json$/m);
    const j = await ota('releases', '--url', url, '--json');
    assert.deepEqual(
      (JSON.parse(j.stdout) as { entries: { version: string }[] }).entries.map((e) => e.version),
      ['1.2.0'],
    );
  } finally {
    server.close();
  }
  const port = REFUSED_PORT;
  const down = await ota('releases', '--url', `http://127.0.0.1:${port}`);
  failsWith(down, 'unreachable', /start the release host here: ota serve <folder>/);
  assert.match(down.stderr, /Cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
});

test("a usage error's fix is the command's own --help", async () => {
  failsWith(await ota('releases'), 'bad_option', /ota releases --help shows the options$/, 2);
});

test('every command missing what it needs says so the one way, before it reads or opens anything', async () => {
  // push asks for the board before it reads the project (here one that does not exist).
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['keygen'], /one of --hmac, --ed25519 or --rsa/],
    [['push', join(home, 'no-such-project')], /no board given: use --port <path>/],
    [['install'], /needs --port <path> and --config/],
    [['exec'], /usage: ota exec --port <path> <code>/],
    [['info'], /no board given: use --port <path>/],
    [['watch'], /no board given: use --port <path>/],
    [['serve'], /which folder\?/],
    [['verify'], /usage: ota verify/],
    [['publish'], /which --target\? folder \(--dir <out>/],
    [['sim'], /use --fs <dir>/],
    [['fleet'], /needs a subcommand/],
  ];
  for (const [args, said] of cases) {
    const r = await run(args, { home, cwd: home });
    // A usage error's fix is the command's own --help, unless the message already names it.
    const fix = /--help/.test(r.stderr.split('\n')[0]!)
      ? null
      : new RegExp(`ota ${args[0]} --help shows the options$`);
    failsWith(r, 'bad_option', fix, 2);
    assert.match(r.stderr, said, args.join(' '));
  }
});

test('every refusal a newcomer meets from a board on ota update has a fix line', async () => {
  // The board's codes as `ota update` reports them (src/cli/update.ts explains the board's event).
  const { fixHint, errorContext } = await import('../src/cli/common');
  const { OtaError } = await import('../src/core/errors');
  errorContext({ onBoard: true, commandLine: true, source: 'static', host: 'http://127.0.0.1:8080' });
  const without = [
    'no_updater',
    'no_signature',
    'sig_unknown_key',
    'bad_signature',
    'downgrade',
    'no_space',
    'expired',
    'wrong_app',
    'network',
    'http_404',
    'port_closed',
    'port_open_failed',
  ].filter((code) => !fixHint(new OtaError(code as never, 'the board said so')));
  assert.deepEqual(without, [], 'codes told with no fix line');
});
