// `ota keygen`: creates a signing key outside the project and prints what the board must trust.
import { OtaError } from '../core/errors';
import { deviceTrustEntry, generateKey, type KeyAlg } from '../core/keys';
import { jsonOption, output, parseCommand } from './common';

const help = `usage: ota keygen --hmac|--ed25519|--rsa [--name <n>] [--out <file>] [--force] [--json]

Writes a key file, mode 0600, to ~/.config/micropython-ota/keys/<name>.json
($XDG_CONFIG_HOME when set) and prints the entry boards need in ota_config.json
"keys". A path inside the current project is refused: a key there could be
published with a release.

  --hmac        HMAC-SHA256 shared secret: cheapest on the board, but one board's
                extracted key forges updates for the whole fleet
  --rsa         RSA-2048 (PKCS#1 v1.5, SHA-256): the board verifies with one pow()
  --ed25519     Ed25519: small keys, slow in pure MicroPython (no SHA-512 in hashlib)
  --name <n>    key name (default "default")
  --out <file>  write exactly here instead
  --force       replace an existing key (boards trusting the old one refuse new releases)
  --json        print {"path", "trust"} as JSON`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    ...jsonOption,
    hmac: { type: 'boolean' },
    ed25519: { type: 'boolean' },
    rsa: { type: 'boolean' },
    name: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const algs: KeyAlg[] = [];
  if (values.hmac) algs.push('hmac-sha256');
  if (values.ed25519) algs.push('ed25519');
  if (values.rsa) algs.push('rsa-sha256');
  if (algs.length !== 1)
    throw new OtaError(
      'bad_option',
      'choose exactly one of --hmac, --ed25519 or --rsa: --rsa suits most boards (--help compares them)',
    );
  const { path, keyFile } = await generateKey(algs[0], {
    name: values.name,
    path: values.out,
    force: values.force,
  });
  const trust = await deviceTrustEntry(keyFile);
  output(values.json, { path, trust }, () => {
    console.log(`${keyFile.alg} key ${keyFile.id} written to ${path}`);
    console.log(
      `boards trust it with this entry in ota_config.json "keys" (ota install --key ${path} adds it):`,
    );
    console.log(JSON.stringify(trust));
    if (keyFile.alg === 'hmac-sha256') {
      console.log('note: every board holds this secret; one extracted board can sign updates for all.');
    }
  });
  return 0;
}
