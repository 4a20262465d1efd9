// `ota publish --target oci` and `ota verify --ref` as a user runs them (real processes) against a
// real registry with htpasswd auth (Debian's docker-registry on 127.0.0.1).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { ota as run } from './support/cli';
import { registryMissing, startRegistry, type TestRegistry } from './support/registry';

const skip = registryMissing(['/usr/bin/htpasswd']);
const T = { skip, timeout: 60_000 };
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

/** `ota …` with a HOME of its own: no registry logins or tokens but those a test passes in `env`. */
const ota = (args: string[], env: Record<string, string> = {}) => run(args, { home, env });

/** `ota publish` of the project to the registry repository `ref`. */
const publish = (ref: string) => ['publish', project, '--target', 'oci', '--ref', ref];
const common = ['--version', '1.0.0', '--created', '2026-11-25T10:00:00Z'];

test(
  'ota publish --target oci: no credentials, then OTA_REGISTRY_TOKEN; then the tag exists',
  T,
  async () => {
    const ref = `${reg.host}/me/app`;
    const none = await ota([...publish(ref), ...common]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /asks for credentials.*\[credentials_missing\]/);
    const ok = await ota([...publish(ref), ...common, '--json'], {
      OTA_REGISTRY_USER: 'ci',
      OTA_REGISTRY_TOKEN: 'pw-5',
    });
    assert.equal(ok.status, 0, ok.stderr);
    const r = JSON.parse(ok.stdout);
    assert.deepEqual(r.pushed[0].tags, ['1.0.0', 'stable']);
    const again = await ota([
      ...publish(ref),
      ...['--version', '1.0.0', '--created', '2026-11-26T10:00:00Z', '--user', 'ci', '--password', 'pw-5'],
    ]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /\[tag_exists\]/);
    const missing = await ota(['publish', project, '--target', 'oci', ...common]);
    assert.match(missing.stderr, /--ref/);
  },
);

test('ota verify --ref: the tree against the registry release, layers included', T, async () => {
  const env = { OTA_REGISTRY_USER: 'ci', OTA_REGISTRY_TOKEN: 'pw-5' };
  const key = (await generateKey('ed25519', { path: join(work, 'keys', 'k.json'), project })).path;
  const other = (await generateKey('ed25519', { path: join(work, 'keys', 'other.json'), project })).path;
  const signed = await ota([...publish(`${reg.host}/me/signed`), ...common, '--sign', key], env);
  assert.equal(signed.status, 0, signed.stderr);
  const good = await ota(['verify', '--ref', `${reg.host}/me/signed`, project, '--key', key], env);
  assert.equal(good.status, 0, good.stdout + good.stderr);
  // The public entry alone, as `ota keygen` prints it, verifies as well.
  const pub = join(work, 'keys', 'k.pub.json');
  writeFileSync(pub, JSON.stringify(await deviceTrustEntry(key)));
  const byEntry = await ota(['verify', '--ref', `${reg.host}/me/signed`, project, '--key', pub], env);
  assert.equal(byEntry.status, 0, byEntry.stdout + byEntry.stderr);
  const wrong = await ota(['verify', '--ref', `${reg.host}/me/signed`, project, '--key', other], env);
  assert.match(wrong.stderr, /\[sig_unknown_key\]/);
  const unsigned = await ota(['verify', '--ref', `${reg.host}/me/app:1.0.0`, project, '--key', key], env);
  assert.match(unsigned.stderr, /\[no_signature\]/);
  const plain = await ota(['verify', '--ref', `${reg.host}/me/app:1.0.0`, project], env);
  assert.equal(plain.status, 0, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /ok: 1 files match/);
  writeFileSync(join(project, 'main.py'), 'print("edited")\n');
  const bad = await ota(['verify', '--ref', `${reg.host}/me/app`, project], env);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /changed {2}main\.py/);
  const anon = await ota(['verify', '--ref', `${reg.host}/me/app`, project]);
  assert.match(anon.stderr, /\[credentials_missing\]/);
});
