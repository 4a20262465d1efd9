/**
 * The board's configuration, /ota_config.json (docs/protocols.md, "Board configuration"), as one
 * typed model. schemas/ota_config.schema.json describes the same file for editors; a test holds
 * validateOtaConfig() to the schema over valid and invalid examples. The board reads the same names
 * (device/ota/updater.py, load_config).
 *
 * Validation reads the schema itself (core/config-validate.ts), so the schema stays the one rule
 * and ajv (a devDependency) only checks the validator in tests.
 */
import { OtaError } from './errors';
import { validateOtaConfig } from './config-validate';

export const SOURCES = ['github', 'static', 'oci'] as const;
export const CHANNELS = ['stable', 'beta', 'developer', 'tag'] as const;
export const KEY_ALGS = ['hmac-sha256', 'ed25519', 'rsa-sha256'] as const;

export interface TrustedKey {
  alg: (typeof KEY_ALGS)[number];
  /** Key id, as in manifest.json.sig "key". */
  id: string;
  /** Base64: the HMAC secret, the raw Ed25519 public key, or the RSA-2048 modulus. */
  key: string;
}

export interface OtaConfig {
  source: (typeof SOURCES)[number];
  /** static: base URL holding latest.json. */
  url?: string;
  /** github: owner/name. */
  repo?: string;
  /** github: REST API root (default https://api.github.com). */
  api?: string;
  /** github: token for a private repository. */
  token?: string;
  channel?: (typeof CHANNELS)[number];
  /** channel tag: the pinned release tag. */
  tag?: string;
  /** channel developer: the branch followed, and the path prefixes installed. */
  branch?: string;
  paths?: string[];
  keys?: TrustedKey[];
  allow_downgrade?: boolean;
  confirm_boots?: number;
  wifi?: { ssid: string; password?: string; [extra: string]: unknown };
  /** Socket timeout in seconds. */
  timeout?: number;
  retries?: number;
  /** Keys added by other features (tls, fleet, …) pass through to the board. */
  [extra: string]: unknown;
}

/** The schema's checks (schemas/ota_config.schema.json is the one rule), one line per problem. */
export { validateOtaConfig };

/** `v` as an OtaConfig, or OtaError 'bad_config' naming every problem (`where`: the file). */
export function checkOtaConfig(v: unknown, where = 'ota_config.json'): OtaConfig {
  const problems = validateOtaConfig(v);
  if (problems.length > 0) throw new OtaError('bad_config', `${where}: ${problems.join('; ')}`);
  return v as OtaConfig;
}
