/**
 * Checks a board configuration against schemas/ota_config.schema.json before it is written to a
 * board, so a typo is refused on the host with every problem listed instead of failing at the
 * first update. The schema file is the one rule (the editor validates hand edits with it too);
 * this reads the JSON Schema keywords it uses (test/config-validate.test.ts holds it to Ajv).
 *
 *   validateOtaConfig({ source: 'static' })  // ['/url is required (source is "static")']
 */
import schema from '../../schemas/ota_config.schema.json';

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
