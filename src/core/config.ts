/**
 * The board's configuration, /ota_config.json (docs/protocols.md, "Board configuration"), as one
 * typed model and its one check. The board reads the same names (device/ota/updater.py,
 * load_config).
 *
 * The check reads schemas/ota_config.schema.json itself, the file editors validate hand edits
 * with, so the schema stays the one rule; it walks only the JSON Schema keywords the schema uses,
 * and test/config.test.ts holds it to ajv (a devDependency) over valid and invalid examples. A
 * typo is refused on the host with every problem listed instead of failing at the first update.
 *
 *   validateOtaConfig({ source: 'static' })  // ['/url is required (source is "static")']
 *   checkOtaConfig({ source: 'static' })     // throws OtaError 'bad_config' naming the same
 */
import { readFile } from 'node:fs/promises';
import schema from '../../schemas/ota_config.schema.json';
import { OtaError } from './errors';

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
  /** The project this board runs (a manifest's `name`): another app's release is refused (`wrong_app`). */
  app?: string;
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

interface Schema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean;
  items?: Schema;
  allOf?: Schema[];
  if?: Schema;
  then?: Schema;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const got = typeOf(v);
  return got === want || (want === 'number' && got === 'integer');
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

function check(s: Schema, v: unknown, at: string, out: string[], why = ''): void {
  const where = at || '/';
  if (s.type && !typeMatches(s.type, v)) {
    out.push(`${where} must be ${s.type === 'integer' ? 'an integer' : `a ${s.type}`}, not ${show(v)}`);
    return;
  }
  if (s.enum && !s.enum.includes(v))
    out.push(`${where} must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, not ${show(v)}`);
  if ('const' in s && s.const !== v) out.push(`${where} must be ${JSON.stringify(s.const)}`);
  if (typeof v === 'string') {
    if (s.minLength !== undefined && v.length < s.minLength) out.push(`${where} must not be empty`);
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v))
      out.push(`${where} ${show(v)} does not match ${s.pattern}`);
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) out.push(`${where} must be at least ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum)
      out.push(`${where} must be more than ${s.exclusiveMinimum}`);
  }
  if (Array.isArray(v) && s.items) v.forEach((item, i) => check(s.items!, item, `${at}/${i}`, out));
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const obj = v as Record<string, unknown>;
    for (const key of s.required ?? []) if (!(key in obj)) out.push(`${at}/${key} is required${why}`);
    for (const [key, value] of Object.entries(obj)) {
      const sub = s.properties?.[key];
      if (sub) check(sub, value, `${at}/${key}`, out);
      else if (s.additionalProperties === false) out.push(`${at}/${key} is not allowed here`);
    }
  }
  for (const part of s.allOf ?? []) {
    if (part.if && part.then) {
      const probe: string[] = [];
      check(part.if, v, at, probe);
      if (probe.length === 0) check(part.then, v, at, out, ` (${conditionText(part.if)})`);
    } else check(part, v, at, out);
  }
}

/** "source is \"static\"" from { properties: { source: { const: "static" } } }. */
function conditionText(s: Schema): string {
  return Object.entries(s.properties ?? {})
    .map(([k, p]) => `${k} is ${JSON.stringify(p.const ?? p.enum)}`)
    .join(', ');
}

/** Every way `config` breaks the board configuration schema; empty when it is valid. */
export function validateOtaConfig(config: unknown): string[] {
  const out: string[] = [];
  check(schema as unknown as Schema, config, '', out);
  return out;
}

/** `v` as an OtaConfig, or OtaError 'bad_config' naming every problem (`where`: the file). */
export function checkOtaConfig(v: unknown, where = 'ota_config.json'): OtaConfig {
  const problems = validateOtaConfig(v);
  if (problems.length > 0) throw new OtaError('bad_config', `${where}: ${problems.join('; ')}`);
  return v as OtaConfig;
}

/** The ota_config.json at `file`, checked; OtaError 'bad_config' when it is not JSON or not valid. */
export async function readOtaConfig(file: string): Promise<OtaConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    // The first run: no config written yet. Say what the smallest one looks like.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new OtaError(
        'bad_config',
        `there is no ${file} yet: write one, e.g. {"source": "static", "url": "http://<this computer's address>:8080"} ` +
          `for releases served by ota serve (every field: schemas/ota_config.schema.json)`,
      );
    throw new OtaError('bad_config', `cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  return checkOtaConfig(raw, file);
}
