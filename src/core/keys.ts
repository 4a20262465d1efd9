/**
 * Signing keys: created outside any project, read back with checks, and described for the board.
 *
 *   generateKey(alg, { name?, path?, project?, force? }) -> Promise<{ path, keyFile }>
 *   newKey(alg) -> KeyFile   // in memory only; saveKey(keyFile, { name?, path?, project?, force? }) writes it
 *   readKeyFile(path) -> Promise<KeyFile>
 *   deviceTrustEntry(keyFileOrPath) -> Promise<TrustEntry>   // one item of ota_config.json "keys"
 *   readTrustFile(path) -> Promise<{ entry, signs }>   // a key file, or only its public entry
 *   defaultKeyPath(name, env?) -> string                      // $XDG_CONFIG_HOME|~/.config/micropython-ota/keys/<name>.json
 *
 * A key file is JSON, mode 0600:
 *   hmac-sha256: {"alg","id","secret": base64 32 bytes}
 *   ed25519:     {"alg","id","privateKey": PKCS#8 PEM, "publicKey": base64 raw 32 bytes}
 *   rsa-sha256:  {"alg","id","privateKey": PKCS#8 PEM, "n": base64 big-endian modulus, "e": 65537}
 * The key id is the first 16 hex digits of the SHA-256 of the bytes the board trusts (the HMAC
 * secret, the Ed25519 public key, the RSA modulus), so host and board can both compute it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, parse, relative, resolve, sep } from 'node:path';
import { fsReason, OtaError } from './errors';
import { IGNORE_FILE } from './walk';

export type KeyAlg = 'hmac-sha256' | 'ed25519' | 'rsa-sha256';

export type KeyFile =
  | { alg: 'hmac-sha256'; id: string; secret: string }
  | { alg: 'ed25519'; id: string; privateKey: string; publicKey: string }
  | { alg: 'rsa-sha256'; id: string; privateKey: string; n: string; e: number };

export interface TrustEntry {
  alg: KeyAlg;
  id: string;
  /** base64: the HMAC secret | the Ed25519 raw public key | the RSA modulus, big-endian. */
  key: string;
}

export const KEY_ALGS: readonly KeyAlg[] = ['hmac-sha256', 'ed25519', 'rsa-sha256'];

export function keyId(trusted: Uint8Array): string {
  return createHash('sha256').update(trusted).digest('hex').slice(0, 16);
}

export function defaultKeyPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) {
    throw new OtaError(
      'bad_key_name',
      `key name ${JSON.stringify(name)} may use only letters, digits, . _ -`,
    );
  }
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(config, 'micropython-ota', 'keys', `${name}.json`);
}

function isInside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith('..') && !r.startsWith(sep) && !parse(r).root);
}

/**
 * The current directory as the project keys must stay out of, unless it is the filesystem root or
 * holds the home directory (run from ~, the default key folder would otherwise be "inside" it).
 */
function workingProject(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const cwd = process.cwd();
  if (parse(cwd).root === cwd || isInside(cwd, resolve(env.HOME || homedir()))) return undefined;
  return cwd;
}

/**
 * Refuses a key path that a release could pick up: inside `project`, or inside any directory
 * holding an .otaignore (a project `ota manifest` walks).
 */
function checkOutsideProjects(path: string, project: string | undefined): void {
  if (project && isInside(resolve(project), path)) {
    throw new OtaError(
      'key_in_project',
      `${path} is inside the project ${resolve(project)}: a key there could be published with it; keep keys outside (default: ~/.config/micropython-ota/keys/)`,
    );
  }
  for (let d = dirname(path); ; d = dirname(d)) {
    if (existsSync(join(d, IGNORE_FILE))) {
      throw new OtaError('key_in_project', `${path} is inside the project ${d} (it has ${IGNORE_FILE})`);
    }
    if (dirname(d) === d) break;
  }
}

/** A new key, in memory only (saveKey writes it). */
export function newKey(alg: KeyAlg): KeyFile {
  if (!KEY_ALGS.includes(alg)) throw new OtaError('bad_key_alg', `unknown key algorithm ${String(alg)}`);
  if (alg === 'hmac-sha256') {
    const secret = randomBytes(32);
    return { alg, id: keyId(secret), secret: secret.toString('base64') };
  }
  if (alg === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    // The SPKI DER of an Ed25519 key is a fixed 12-byte prefix and the raw 32-byte key.
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    return {
      alg,
      id: keyId(raw),
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      publicKey: raw.toString('base64'),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: 65537,
  });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
  return {
    alg,
    id: keyId(n),
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    n: n.toString('base64'),
    e: 65537,
  };
}

export interface GenerateOptions {
  /** File name under the default key directory (default "default"). */
  name?: string;
  /** Explicit file path instead of the default directory. */
  path?: string;
  /** The project the key must stay out of (default: the current directory). */
  project?: string;
  /** Replace an existing key file. */
  force?: boolean;
  env?: NodeJS.ProcessEnv;
}

export async function generateKey(
  alg: KeyAlg,
  opts: GenerateOptions = {},
): Promise<{ path: string; keyFile: KeyFile }> {
  const keyFile = newKey(alg);
  return { path: await saveKey(keyFile, opts), keyFile };
}

/** Writes `keyFile` (0600, outside any project, never over an existing file unless `force`); its path. */
export async function saveKey(keyFile: KeyFile, opts: GenerateOptions = {}): Promise<string> {
  const path = resolve(opts.path ?? defaultKeyPath(opts.name ?? 'default', opts.env));
  checkOutsideProjects(path, opts.project ?? workingProject(opts.env));
  if (!opts.force && existsSync(path)) {
    throw new OtaError(
      'key_exists',
      `${path} already exists: pass --force to replace it (boards trusting it will refuse new releases)`,
    );
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written under a temporary name created 0600, so the secret is never readable by others.
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(keyFile, null, 2) + '\n');
  } finally {
    await fh.close();
  }
  await chmod(tmp, 0o600);
  await rename(tmp, path).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
  return path;
}

function badKey(path: string, why: string): never {
  throw new OtaError('bad_key_file', `${path}: not a usable key file (${why})`);
}

export async function readKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new OtaError('key_unreadable', `cannot read key file ${path}: ${fsReason(err)}`, {
      cause: err,
    });
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    badKey(path, 'not JSON');
  }
  if (!v || typeof v !== 'object') badKey(path, 'not an object');
  // Before the permission check: a public entry may be readable by anyone, and chmod would not help.
  if ('key' in v && !('privateKey' in v) && !('secret' in v)) {
    badKey(
      path,
      'it holds only a public key, an entry of the board\'s "keys": signing needs the key file `ota keygen` wrote',
    );
  }
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
    throw new OtaError('key_permissions', `${path} is readable by others: chmod 600 it`);
  }
  const b64 = (k: string, len?: number): Buffer => {
    const s = v[k];
    if (typeof s !== 'string') badKey(path, `"${k}" missing`);
    const buf = Buffer.from(s, 'base64');
    if (buf.length === 0 || (len !== undefined && buf.length !== len))
      badKey(path, `"${k}" has the wrong length`);
    return buf;
  };
  const pem = (): string => {
    if (typeof v.privateKey !== 'string') badKey(path, '"privateKey" missing');
    try {
      createPrivateKey(v.privateKey);
    } catch {
      badKey(path, '"privateKey" is not a PEM private key');
    }
    return v.privateKey;
  };
  let key: KeyFile;
  if (v.alg === 'hmac-sha256') {
    key = { alg: v.alg, id: keyId(b64('secret', 32)), secret: v.secret as string };
  } else if (v.alg === 'ed25519') {
    const privateKey = pem();
    const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12);
    if (!raw.equals(b64('publicKey', 32))) badKey(path, 'public key does not match the private key');
    key = { alg: v.alg, id: keyId(raw), privateKey, publicKey: v.publicKey as string };
  } else if (v.alg === 'rsa-sha256') {
    const privateKey = pem();
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    const n = Buffer.from(jwk.n ?? '', 'base64url');
    if (jwk.e !== 'AQAB' || !n.equals(b64('n')))
      badKey(path, 'modulus or exponent does not match the private key');
    if (n.length !== 256) badKey(path, 'the board verifies RSA-2048 only');
    key = { alg: v.alg, id: keyId(n), privateKey, n: v.n as string, e: 65537 };
  } else {
    badKey(path, `unknown alg ${JSON.stringify(v.alg)}`);
  }
  if (v.id !== key.id) badKey(path, `id ${JSON.stringify(v.id)} does not match its key (${key.id})`);
  return key;
}

/** The entry the board's ota_config.json "keys" list needs to trust this key. */
export async function deviceTrustEntry(keyFile: string | KeyFile): Promise<TrustEntry> {
  const k = typeof keyFile === 'string' ? await readKeyFile(keyFile) : keyFile;
  const key = k.alg === 'hmac-sha256' ? k.secret : k.alg === 'ed25519' ? k.publicKey : k.n;
  return { alg: k.alg, id: k.id, key };
}

/**
 * The board's entry for a file the user picked to trust: a key file (`signs`: it can sign releases
 * too), or an Ed25519/RSA entry alone, `{"alg", "id", "key"}` as `ota keygen` prints it (a public key:
 * the board trusts it, and signing needs the key file it came from). An HMAC entry is its secret, so
 * only its key file is taken.
 */
export async function readTrustFile(path: string): Promise<{ entry: TrustEntry; signs: boolean }> {
  let v: Record<string, unknown> | undefined;
  try {
    v = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    v = undefined; // readKeyFile says why
  }
  if (!v || typeof v !== 'object' || !('key' in v) || 'privateKey' in v || 'secret' in v) {
    return { entry: await deviceTrustEntry(path), signs: true };
  }
  if (v.alg === 'hmac-sha256') {
    badKey(path, 'an HMAC entry is the shared secret itself: pick the key file `ota keygen --hmac` wrote');
  }
  const sizes: Partial<Record<KeyAlg, number>> = { ed25519: 32, 'rsa-sha256': 256 };
  const size = sizes[v.alg as KeyAlg];
  if (!size) badKey(path, `unknown alg ${JSON.stringify(v.alg)}`);
  const raw = typeof v.key === 'string' ? Buffer.from(v.key, 'base64') : Buffer.alloc(0);
  if (raw.length !== size) badKey(path, `"key" is not a ${size}-byte ${String(v.alg)} public key`);
  if (v.id !== keyId(raw)) badKey(path, `id ${JSON.stringify(v.id)} does not match its key (${keyId(raw)})`);
  return { entry: { alg: v.alg as KeyAlg, id: keyId(raw), key: raw.toString('base64') }, signs: false };
}
