// Host signatures against the board's own verifier (device/ota/sig.py) in real MicroPython.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey, type KeyAlg } from '../src/core/keys';
import { serializeSignature, signManifest } from '../src/core/sign';
import { loadDeviceMicroPython, type DeviceMicroPython } from './support/micropython';

let dir: string;
let mp: DeviceMicroPython;
const manifest = Buffer.from('{\n  "schema": 1,\n  "name": "app",\n  "version": "1.0.0"\n}\n');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ota-sigdev-'));
  mp = await loadDeviceMicroPython();
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the board's ota.sig.verify on these bytes; returns "ok <key id>" or "fail <error code>". */
function deviceVerify(keys: unknown[], sig: Buffer, bytes: Buffer): string {
  mp.put('/data/m.json', bytes);
  mp.put('/data/m.sig', sig);
  mp.put('/data/keys.json', JSON.stringify(keys));
  return mp
    .run(
      [
        'import json, ota.sig',
        'from ota.log import Fail',
        'keys = json.load(open("/data/keys.json"))',
        'try:',
        '    print("ok", ota.sig.verify(keys, open("/data/m.sig", "rb").read(), open("/data/m.json", "rb").read()))',
        'except Fail as e:',
        '    print("fail", e.args[0])',
      ].join('\n'),
    )
    .trim();
}

for (const alg of ['hmac-sha256', 'rsa-sha256', 'ed25519'] as KeyAlg[]) {
  test(`${alg}: the board accepts the host's signature and refuses tampering or another key`, async () => {
    const key = await generateKey(alg, { path: join(dir, `${alg}.json`), project: join(dir, 'proj') });
    const trust = await deviceTrustEntry(key.path);
    const sig = serializeSignature(await signManifest(manifest, key.path));
    assert.equal(deviceVerify([trust], sig, manifest), `ok ${trust.id}`);
    const tampered = Buffer.from(manifest);
    tampered[tampered.length - 3] ^= 1;
    assert.equal(deviceVerify([trust], sig, tampered), 'fail bad_signature');
    const other = await generateKey(alg, {
      path: join(dir, `${alg}-other.json`),
      project: join(dir, 'proj'),
    });
    assert.equal(deviceVerify([await deviceTrustEntry(other.path)], sig, manifest), 'fail bad_signature');
  });
}
