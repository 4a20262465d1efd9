// Every `ota` failure is told one way (src/cli/common.ts, reportError): the message with its code
// in brackets, then the fix, picked by src/core/user-errors.ts as the editor's buttons are. Each
// case is a real command run against real local servers (or a port nothing listens on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REFUSED_PORT } from './support/refused';

const home = mkdtempSync(join(tmpdir(), 'ota-cli-errors-'));
const project = join(home, 'app');
mkdirSync(project);
writeFileSync(join(project, 'main.py'), 'print(1)\n');

/** `ota …` in its own process (async: the servers below answer from this one). */
function ota(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // No tokens or registry logins from the machine running the tests.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: home };
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['dist/cli.js', ...args], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${port}` });
    }),
  );
}

function failsWith(
  r: { status: number | null; stderr: string },
  code: string,
  fix: RegExp | null,
  status = 1,
): void {
  assert.equal(r.status, status, r.stderr);
  const [said, ...rest] = r.stderr.trimEnd().split('\n');
  assert.match(said!, new RegExp(`^ota: .+ \\[${code}\\]$`), r.stderr);
  if (fix) assert.match(rest.join('\n'), new RegExp(`^  fix: ${fix.source}`), r.stderr);
  else assert.deepEqual(rest, [], r.stderr);
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
      'publish',
      project,
      '--target',
      'oci',
      '--ref',
      ref,
      '--version',
      '1.0.0',
      '--user',
      'u',
      '--password',
      'p',
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
