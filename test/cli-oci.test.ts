// `ota publish --target oci` and `ota verify --ref` as a user runs them (real processes) against a
// real registry with htpasswd auth (Debian's docker-registry on 127.0.0.1).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryMissing, startRegistry, type TestRegistry } from './support/registry';

const skip = registryMissing(['/usr/bin/htpasswd']);
const T = { skip, timeout: 60_000 };
const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'src', 'cli.ts');
let reg: TestRegistry;
let work: string;
let project: string;
let home: string;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-clioci-'));
  project = join(work, 'app');
  home = join(work, 'home');
  mkdirSync(project);
  mkdirSync(home);
  writeFileSync(join(project, 'main.py'), 'print("cli")\n');
  reg = await startRegistry({ auth: 'htpasswd', user: 'ci', password: 'pw-5' });
});
after(async () => {
  await reg?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

function ota(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      DOCKER_CONFIG: join(home, '.docker'),
      XDG_CONFIG_HOME: join(home, '.config'),
    };
    for (const k of [
      'GITHUB_TOKEN',
      'OTA_REGISTRY_TOKEN',
      'OTA_REGISTRY_USER',
      'REGISTRY_AUTH_FILE',
      'XDG_RUNTIME_DIR',
    ])
      delete base[k];
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const common = ['--version', '1.0.0', '--created', '2026-11-25T10:00:00Z'];

test(
  'ota publish --target oci: no credentials, then OTA_REGISTRY_TOKEN; then the tag exists',
  T,
  async () => {
    const ref = `${reg.host}/me/app`;
    const none = await ota(['publish', project, '--target', 'oci', '--ref', ref, ...common]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /asks for credentials.*\[credentials-missing\]/);
    const ok = await ota(['publish', project, '--target', 'oci', '--ref', ref, ...common, '--json'], {
      OTA_REGISTRY_USER: 'ci',
      OTA_REGISTRY_TOKEN: 'pw-5',
    });
    assert.equal(ok.code, 0, ok.stderr);
    const r = JSON.parse(ok.stdout);
    assert.deepEqual(r.pushed[0].tags, ['1.0.0', 'stable']);
    const again = await ota([
      'publish',
      project,
      '--target',
      'oci',
      '--ref',
      ref,
      '--version',
      '1.0.0',
      '--created',
      '2026-11-26T10:00:00Z',
      '--user',
      'ci',
      '--password',
      'pw-5',
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\[tag-exists\]/);
    const missing = await ota(['publish', project, '--target', 'oci', ...common]);
    assert.match(missing.stderr, /--ref/);
  },
);

test('ota verify --ref: the tree against the registry release, layers included', T, async () => {
  const env = { OTA_REGISTRY_USER: 'ci', OTA_REGISTRY_TOKEN: 'pw-5' };
  const good = await ota(['verify', '--ref', `${reg.host}/me/app:1.0.0`, project], env);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /ok: 1 files match/);
  writeFileSync(join(project, 'main.py'), 'print("edited")\n');
  const bad = await ota(['verify', '--ref', `${reg.host}/me/app`, project], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /changed {2}main\.py/);
  const anon = await ota(['verify', '--ref', `${reg.host}/me/app`, project]);
  assert.match(anon.stderr, /\[credentials-missing\]/);
});
