// The files a user picks for the board to trust (Configure Device > Add a key file…, core
// readTrustFile): a key file of ours signs too; an Ed25519 or RSA entry alone, as `ota keygen` prints
// it, is a public key the board trusts but nothing can sign with; anything else is refused with
// bad_key_file. And a key made in memory (newKey) is written only by saveKey, outside any project.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { deviceTrustEntry, generateKey, newKey, readKeyFile, readTrustFile, saveKey } from '../src/core/keys';

test('a key file signs; its public entry alone is trusted but does not sign; a bad entry is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-trust-file-'));
  try {
    for (const alg of ['ed25519', 'rsa-sha256', 'hmac-sha256'] as const) {
      const { path } = await generateKey(alg, { path: join(dir, `${alg}.json`), project: join(dir, 'p') });
      const entry = await deviceTrustEntry(path);
      assert.deepEqual(await readTrustFile(path), { entry, signs: true }, alg);
      // The entry `ota keygen` prints, in a file of its own (a public file need not be 0600).
      const pub = join(dir, `${alg}.pub.json`);
      writeFileSync(pub, JSON.stringify(entry), { mode: 0o644 });
      if (alg === 'hmac-sha256') {
        await assert.rejects(readTrustFile(pub), (e: unknown) => {
          assert.ok(e instanceof OtaError && e.code === 'bad_key_file', String(e));
          assert.match(e.message, /an HMAC entry is the shared secret itself/);
          return true;
        });
        continue;
      }
      assert.deepEqual(await readTrustFile(pub), { entry, signs: false }, alg);
      // What signs (ota publish --sign, ota.signingKey) says so, not "chmod 600 it".
      await assert.rejects(readKeyFile(pub), /holds only a public key.*signing needs the key file/);
      const forged = join(dir, `${alg}.forged.json`);
      writeFileSync(forged, JSON.stringify({ ...entry, id: '0123456789abcdef' }));
      await assert.rejects(readTrustFile(forged), /bad_key_file|does not match its key/);
      writeFileSync(forged, JSON.stringify({ ...entry, key: Buffer.alloc(7).toString('base64') }));
      await assert.rejects(readTrustFile(forged), /is not a \d+-byte .* public key/);
    }
    writeFileSync(join(dir, 'junk.json'), '{"alg": "ed25519"}', { mode: 0o600 });
    await assert.rejects(readTrustFile(join(dir, 'junk.json')), /"privateKey" missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('newKey writes nothing; saveKey writes it 0600, never inside the project, never over a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-save-key-'));
  try {
    const project = join(dir, 'project');
    mkdirSync(project);
    const key = newKey('ed25519');
    const path = join(dir, 'keys', 'k.json');
    assert.ok(!existsSync(path));
    await assert.rejects(
      saveKey(key, { path: join(project, 'k.json'), project }),
      /key_in_project|inside the project/,
    );
    assert.equal(await saveKey(key, { path, project }), path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), key);
    const bytes = readFileSync(path);
    await assert.rejects(saveKey(newKey('ed25519'), { path, project }), /already exists/);
    assert.deepEqual(readFileSync(path), bytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
