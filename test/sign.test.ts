// Keys and signatures on the host: keygen rules, trust entries, sign/verify, bad key files, the CLI.
// test/sign-device.test.ts holds the same signatures against the board's own verifier.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { OtaError } from '../src/core/errors';
import { defaultKeyPath, deviceTrustEntry, generateKey, readKeyFile, type KeyAlg } from '../src/core/keys';
import { serializeSignature, signManifest, verifySignature } from '../src/core/sign';

let home: string;
const env = () => ({ HOME: home });
const manifest = Buffer.from('{\n  "schema": 1,\n  "name": "app",\n  "version": "1.0.0"\n}\n');

before(() => {
  home = mkdtempSync(join(tmpdir(), 'ota-sign-'));
});
after(() => rmSync(home, { recursive: true, force: true }));

const code = (c: string) => (e: unknown) => e instanceof OtaError && e.code === c;

for (const alg of ['hmac-sha256', 'rsa-sha256', 'ed25519'] as KeyAlg[]) {
  test(`${alg}: keygen 0600 outside the project, trust entry, signature verified`, async () => {
    const { path, keyFile } = await generateKey(alg, {
      name: alg,
      env: env(),
      project: join(home, 'proj'),
    });
    assert.equal(path, join(home, '.config', 'micropython-ota', 'keys', `${alg}.json`));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const trust = await deviceTrustEntry(path);
    const raw = Buffer.from(trust.key, 'base64');
    assert.equal(raw.length, { 'hmac-sha256': 32, 'rsa-sha256': 256, ed25519: 32 }[alg]);
    assert.equal(trust.id, createHash('sha256').update(raw).digest('hex').slice(0, 16));
    assert.equal(trust.id, keyFile.id);
    assert.equal(trust.alg, alg);
    const sig = await signManifest(manifest, path);
    assert.deepEqual(Object.keys(sig), ['alg', 'key', 'sig']);
    verifySignature(manifest, sig, [trust]);
    const tampered = Buffer.from(manifest);
    tampered[tampered.length - 3] ^= 1;
    assert.throws(() => verifySignature(tampered, sig, [trust]), code('bad_signature'));
    assert.deepEqual(JSON.parse(serializeSignature(sig).toString()), sig);
    assert.throws(
      () => verifySignature(manifest, sig, [{ ...trust, id: 'ffffffffffffffff' }]),
      code('sig_unknown_key'),
    );
  });
}

test('keygen refuses a path inside the project or an .otaignore project, and an existing key', async () => {
  const proj = join(home, 'work', 'proj');
  mkdirSync(proj, { recursive: true });
  await assert.rejects(
    generateKey('hmac-sha256', { path: join(proj, 'keys', 'k.json'), project: proj }),
    code('key_in_project'),
  );
  const other = join(home, 'work', 'other');
  mkdirSync(other, { recursive: true });
  writeFileSync(join(other, '.otaignore'), '');
  await assert.rejects(
    generateKey('hmac-sha256', { path: join(other, 'sub', 'k.json'), project: proj }),
    code('key_in_project'),
  );
  assert.equal(existsSync(join(other, 'sub', 'k.json')), false);
  const ok = await generateKey('hmac-sha256', { name: 'once', env: env(), project: proj });
  const before = readFileSync(ok.path, 'utf8');
  await assert.rejects(
    generateKey('hmac-sha256', { name: 'once', env: env(), project: proj }),
    code('key_exists'),
  );
  assert.equal(readFileSync(ok.path, 'utf8'), before, 'the existing key is untouched');
  assert.throws(() => defaultKeyPath('../escape', env()), code('bad_key_name'));
  // Run from the home directory (or /), the default key folder below it is not "inside a project".
  const cwd = process.cwd();
  process.chdir(home);
  try {
    const fromHome = await generateKey('ed25519', { name: 'from-home', env: env() });
    assert.ok(fromHome.path.startsWith(join(home, '.config')));
  } finally {
    process.chdir(cwd);
  }
});

test('bad key files are refused with specific codes', async () => {
  const dir = join(home, 'bad');
  mkdirSync(dir, { recursive: true });
  const put = (name: string, text: string, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };
  await assert.rejects(readKeyFile(join(dir, 'missing.json')), code('key_unreadable'));
  await assert.rejects(readKeyFile(put('notjson.json', '{')), code('bad_key_file'));
  await assert.rejects(readKeyFile(put('alg.json', '{"alg":"dsa"}')), code('bad_key_file'));
  const good = await generateKey('hmac-sha256', {
    path: join(dir, 'good.json'),
    project: join(home, 'proj'),
  });
  const text = readFileSync(good.path, 'utf8');
  await assert.rejects(readKeyFile(put('open.json', text, 0o644)), code('key_permissions'));
  const wrongId = JSON.stringify({ ...good.keyFile, id: '0000000000000000' });
  await assert.rejects(readKeyFile(put('id.json', wrongId)), code('bad_key_file'));
  const shortSecret = JSON.stringify({ ...good.keyFile, secret: Buffer.alloc(8).toString('base64') });
  await assert.rejects(readKeyFile(put('short.json', shortSecret)), code('bad_key_file'));
});

test('ota keygen CLI: writes the key, prints the trust entry, refuses the project dir', () => {
  // Run from the repository itself: a real project the key must stay out of.
  const cwd = join(__dirname, '..');
  const cli = join(__dirname, '..', 'src', 'cli.ts');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', cli, 'keygen', ...args], {
      cwd,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: '' },
      encoding: 'utf8',
      timeout: 30_000,
    });
  const r = run('--rsa', '--name', 'fleet', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { path: string; trust: { alg: string; id: string; key: string } };
  assert.equal(out.path, join(home, '.config', 'micropython-ota', 'keys', 'fleet.json'));
  assert.equal(out.trust.alg, 'rsa-sha256');
  const inside = run('--hmac', '--out', join(cwd, 'k.json'));
  assert.equal(inside.status, 1);
  assert.match(inside.stderr, /key_in_project/);
  const none = run('--name', 'x');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--hmac, --ed25519 or --rsa/);
});
