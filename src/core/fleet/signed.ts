/**
 * Signed fleet documents (docs/protocols.md, "Fleet (MQTT)"): commands, the rollout and the controller state,
 * `<json>\n<signature json>\n` with the release key, the same algorithms as manifests.
 *
 *   signDocument(doc, key, limit?) -> Promise<Buffer>  // what boards verify; over `limit` bytes is refused
 *   readDocument(bytes, trusted?) -> object            // verifies (when trusted keys are given), then parses
 *   trustOf(key) -> TrustEntry                         // what verifies what `key` signs
 */
import { OtaError } from '../errors';
import type { KeyFile, TrustEntry } from '../keys';
import type { ManifestSignature } from '../manifest-types';
import { serializeSignature, signManifest, verifySignature } from '../sign';
import { BOARD_MAX_MSG, parseDocument } from './protocol';

/** `<json>\n<signature json>\n`: the board verifies the first line's exact bytes before parsing them. */
export async function signDocument(doc: object, key: KeyFile, limit = BOARD_MAX_MSG): Promise<Buffer> {
  const body = Buffer.from(JSON.stringify(doc), 'utf8');
  const sig = await signManifest(body, key);
  const out = Buffer.concat([body, Buffer.from('\n'), serializeSignature(sig)]);
  if (out.length > limit) {
    throw new OtaError(
      'fleet_too_large',
      `the signed document is ${out.length} bytes; boards take at most ${BOARD_MAX_MSG} (list fewer devices, use groups)`,
    );
  }
  return out;
}

/** The trust entry that verifies what `key` signs (a board's config "keys" item). */
export function trustOf(key: KeyFile): TrustEntry {
  const k = key.alg === 'hmac-sha256' ? key.secret : key.alg === 'ed25519' ? key.publicKey : key.n;
  return { alg: key.alg, id: key.id, key: k };
}

/** The document of a signed message; its signature is checked when `trusted` keys are given. */
export function readDocument(bytes: Uint8Array, trusted?: TrustEntry[]): Record<string, unknown> {
  const buf = Buffer.from(bytes);
  const nl = buf.indexOf(10);
  const body = nl < 0 ? buf : buf.subarray(0, nl);
  if (trusted) {
    if (nl < 0) throw new OtaError('fleet_unsigned', 'the document has no signature');
    let sig: ManifestSignature;
    try {
      sig = JSON.parse(buf.subarray(nl + 1).toString('utf8')) as ManifestSignature;
    } catch {
      throw new OtaError('bad_signature', 'the signature line is not JSON');
    }
    verifySignature(body, sig, trusted);
  }
  return parseDocument(body);
}
