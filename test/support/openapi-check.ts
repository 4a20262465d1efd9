/**
 * Holds HTTP answers against GitHub's official OpenAPI description (@octokit/openapi), so the
 * local GitHub mock cannot drift from the real REST API.
 *
 *   checkResponse(method, path, status, body) -> string[]   // problems; [] when the answer is documented
 *   validatingFetch(problems)                                 // a fetch for Octokit's `request.fetch` that
 *                                                             // checks every API answer into `problems`
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';

interface Operation {
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
}

let spec: Spec | undefined;
let templates: { re: RegExp; literal: number; path: string }[] = [];
const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();

function load(): Spec {
  if (!spec) {
    const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
    spec = JSON.parse(readFileSync(file, 'utf8')) as Spec;
    templates = Object.keys(spec.paths).map((path) => ({
      path,
      re: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literal: path.replace(/\{[^}]+\}/g, '').length,
    }));
    // Every `$ref: '#/components/...'` in the description resolves against this one document.
    ajv.addSchema({ components: spec.components }, 'gh');
  }
  return spec;
}

/** The documented path template for a concrete path, preferring literal segments (`releases/latest`). */
export function operationPath(path: string): string | undefined {
  load();
  const hits = templates.filter((t) => t.re.test(path)).sort((a, b) => b.literal - a.literal);
  return hits[0]?.path;
}

function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `gh${v}` : rewriteRefs(v);
    }
    return out;
  }
  return node;
}

export function checkResponse(method: string, rawPath: string, status: number, body: unknown): string[] {
  const s = load();
  const path = rawPath.split('?')[0];
  const template = operationPath(path);
  if (!template) return [`${method} ${path}: no such path in GitHub's REST API`];
  const op = s.paths[template][method.toLowerCase()];
  if (!op) return [`${method} ${template}: no such operation`];
  let response = op.responses[String(status)];
  // Authentication, permission, rate-limit and server failures can answer any operation; GitHub
  // documents their body once, as basic-error.
  if (!response && (status === 401 || status === 403 || status >= 500))
    response = { content: { 'application/json': { schema: { $ref: '#/components/schemas/basic-error' } } } };
  if (!response) return [`${method} ${template}: status ${status} is not documented`];
  if (response.$ref) {
    const name = response.$ref.split('/').pop()!;
    response = s.components.responses[name] as typeof response;
  }
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return [];
  const key = `${method} ${template} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(rewriteRefs(schema) as object);
    compiled.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${key}: ${e.instancePath || '/'} ${e.message ?? ''}`);
}

/**
 * A fetch that checks every JSON (or empty) answer from under `apiRoots` (API base URLs, e.g. the
 * mock's apiUrl and uploadsUrl) against the description and appends problems to `problems`; other
 * hosts (the downloads origin) pass through unchecked.
 */
export function validatingFetch(problems: string[], apiRoots: string[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const root = apiRoots.find((r) => url.href.startsWith(`${r.replace(/\/+$/, '')}/`));
    if (!root || res.status === 304) return res;
    const method = (init?.method ?? 'GET').toUpperCase();
    const type = res.headers.get('content-type') ?? '';
    const body: unknown = type.includes('json') ? await res.clone().json() : undefined;
    const path = url.pathname.slice(new URL(root).pathname.replace(/\/+$/, '').length);
    problems.push(...checkResponse(method, path, res.status, body));
    return res;
  };
}
