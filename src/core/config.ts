/**
 * The board's configuration, /ota_config.json (docs/protocols.md, "Board configuration"), as one
 * typed model. schemas/ota_config.schema.json describes the same file for editors; a test holds
 * validateOtaConfig() to the schema over valid and invalid examples. The board reads the same names
 * (device/ota/updater.py, load_config).
 *
 * A small validator instead of ajv at run time: it keeps ajv (and its code generation) out of the
 * extension bundle, and names each problem in the user's terms ("repo: must be owner/name") where
 * ajv reports schema paths. Keys it does not know pass through untouched, as on the board.
 */
import { OtaError } from './errors';
import { isRepo } from './github-rules';

export const SOURCES = ['github', 'static'] as const;
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

const HTTP_URL = /^https?:\/\//;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every way `v` breaks the schema, one line each ("repo: must be owner/name"); empty when valid. */
export function validateOtaConfig(v: unknown): string[] {
  if (!isObject(v)) return ['the configuration must be a JSON object'];
  const problems: string[] = [];
  const bad = (key: string, why: string) => problems.push(`${key}: ${why}`);
  const has = (key: string) => v[key] !== undefined;
  const str = (key: string, test?: (s: string) => boolean, why = 'must be a string') => {
    if (has(key) && (typeof v[key] !== 'string' || (test && !test(v[key] as string)))) bad(key, why);
  };
  const int = (key: string, min: number) => {
    if (has(key) && !(Number.isInteger(v[key]) && (v[key] as number) >= min)) {
      bad(key, `must be a whole number of at least ${min}`);
    }
  };

  if (!has('source')) bad('source', 'is required (github or static)');
  else if (!(SOURCES as readonly unknown[]).includes(v.source)) bad('source', 'must be github or static');
  str('url', (s) => HTTP_URL.test(s), 'must be an http:// or https:// URL');
  str('repo', isRepo, 'must be owner/name');
  str('api', (s) => HTTP_URL.test(s), 'must be an http:// or https:// URL');
  str('token');
  if (has('channel') && !(CHANNELS as readonly unknown[]).includes(v.channel)) {
    bad('channel', `must be one of ${CHANNELS.join(', ')}`);
  }
  str('tag', (s) => s.length > 0, 'must be a non-empty string');
  str('branch');
  if (has('paths') && !(Array.isArray(v.paths) && v.paths.every((p) => typeof p === 'string'))) {
    bad('paths', 'must be a list of strings');
  }
  if (has('keys')) {
    if (!Array.isArray(v.keys)) bad('keys', 'must be a list');
    else v.keys.forEach((k, i) => problems.push(...keyProblems(k, `keys[${i}]`)));
  }
  if (has('allow_downgrade') && typeof v.allow_downgrade !== 'boolean')
    bad('allow_downgrade', 'must be true or false');
  int('confirm_boots', 1);
  if (has('wifi')) {
    const w = v.wifi;
    if (!isObject(w)) bad('wifi', 'must be an object {ssid, password}');
    else {
      if (typeof w.ssid !== 'string') bad('wifi.ssid', 'is required, a string');
      if (w.password !== undefined && typeof w.password !== 'string')
        bad('wifi.password', 'must be a string');
    }
  }
  if (has('timeout') && !(typeof v.timeout === 'number' && v.timeout > 0))
    bad('timeout', 'must be a number of seconds above 0');
  int('retries', 0);

  if (v.source === 'static' && !has('url')) bad('url', 'is required when source is static');
  if (v.source === 'github' && !has('repo')) bad('repo', 'is required when source is github');
  if (v.channel === 'tag' && !has('tag')) bad('tag', 'is required when channel is tag');
  return problems;
}

function keyProblems(k: unknown, at: string): string[] {
  if (!isObject(k)) return [`${at}: must be an object {alg, id, key}`];
  const problems: string[] = [];
  if (!(KEY_ALGS as readonly unknown[]).includes(k.alg))
    problems.push(`${at}.alg: must be one of ${KEY_ALGS.join(', ')}`);
  for (const f of ['id', 'key']) {
    if (typeof k[f] !== 'string' || k[f] === '') problems.push(`${at}.${f}: must be a non-empty string`);
  }
  for (const f of Object.keys(k)) {
    if (!['alg', 'id', 'key'].includes(f)) problems.push(`${at}.${f}: is not a key field (alg, id, key)`);
  }
  return problems;
}

/** `v` as an OtaConfig, or OtaError 'bad_config' naming every problem (`where`: the file). */
export function checkOtaConfig(v: unknown, where = 'ota_config.json'): OtaConfig {
  const problems = validateOtaConfig(v);
  if (problems.length > 0) throw new OtaError('bad_config', `${where}: ${problems.join('; ')}`);
  return v as OtaConfig;
}
