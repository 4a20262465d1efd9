/**
 * Detached manifest signatures (docs/protocols.md): `manifest.json.sig` = {"alg","key","sig"} over the exact
 * bytes of manifest.json as published.
 *
 *   signManifest(bytes, keyFileOrPath) -> Promise<ManifestSignature>
 *   serializeSignature(sig) -> Buffer                       // the bytes of manifest.json.sig
 *   verifySignature(bytes, sig, trusted: TrustEntry[]) -> void   // throws OtaError, as a board would refuse
 *
 * RSA is PKCS#1 v1.5 with SHA-256 (the board checks it with one pow(sig, 65537, n)); Ed25519 is pure
 * Ed25519 over the bytes; HMAC is HMAC-SHA256 with the shared secret.
 */
import { createHmac, createPublicKey, sign, timingSafeEqual, verify } from 'node:crypto';
import { OtaError } from './errors';
import { readKeyFile, type KeyFile, type TrustEntry } from './keys';
import type { ManifestSignature } from './manifest-types';

export async function signManifest(bytes: Uint8Array, keyFile: string | KeyFile): Promise<ManifestSignature> {
  const k = typeof keyFile === 'string' ? await readKeyFile(keyFile) : keyFile;
  let sig: Buffer;
  if (k.alg === 'hmac-sha256')
    sig = createHmac('sha256', Buffer.from(k.secret, 'base64')).update(bytes).digest();
  else if (k.alg === 'ed25519') sig = sign(null, bytes, k.privateKey);
  else sig = sign('sha256', bytes, k.privateKey);
  return { alg: k.alg, key: k.id, sig: sig.toString('base64') };
}

export function serializeSignature(sig: ManifestSignature): Buffer {
  return Buffer.from(JSON.stringify({ alg: sig.alg, key: sig.key, sig: sig.sig }) + '\n', 'utf8');
}

export function verifySignature(bytes: Uint8Array, sig: ManifestSignature, trusted: TrustEntry[]): void {
  const entry = trusted.find((t) => t.id === sig.key);
  if (!entry) throw new OtaError('sig_unknown_key', `signed with key ${sig.key}, which is not trusted`);
  if (entry.alg !== sig.alg) {
    throw new OtaError('sig_bad_alg', `key ${sig.key} is ${entry.alg}, the signature claims ${sig.alg}`);
  }
  const raw = Buffer.from(sig.sig, 'base64');
  const key = Buffer.from(entry.key, 'base64');
  let ok: boolean;
  if (entry.alg === 'hmac-sha256') {
    const want = createHmac('sha256', key).update(bytes).digest();
    ok = raw.length === want.length && timingSafeEqual(raw, want);
  } else if (entry.alg === 'ed25519') {
    const pub = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: key.toString('base64url') },
      format: 'jwk',
    });
    ok = verify(null, bytes, pub, raw);
  } else {
    const pub = createPublicKey({
      key: { kty: 'RSA', n: key.toString('base64url'), e: 'AQAB' },
      format: 'jwk',
    });
    ok = verify('sha256', bytes, pub, raw);
  }
  if (!ok) throw new OtaError('bad_signature', `manifest signature does not verify with key ${sig.key}`);
}
