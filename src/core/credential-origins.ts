/**
 * Where a credential the host holds may go: one rule for every client that sends one (GitHub's API
 * through Octokit, the fleet's release check, the OCI registry client, the MQTT broker), whatever a
 * hostile or misconfigured server answers (docs/protocols.md, "Where the host sends credentials").
 *
 *   const scope = githubScope('https://api.github.com')   // api.github.com and uploads.github.com
 *   scope.allows(url)                       // a credential for this scope may go to url
 *   scope.require(url, 'the upload URL')    // or foreign_origin, before anything is sent
 *   scopedFetch(fetch, scope)               // every request checked; redirects followed by hand
 *   refuseCleartext(url, 'the GitHub token')  // token_unverified: http:// off this machine
 *   keptToken(keepToken(token, apiRoot), apiRoot)  // the editor's stored token, for its own API root only
 *
 * - A credential goes to the origins (scheme, host, port) of its scope only. A page link, an upload
 *   URL, an asset URL or a redirect naming another origin gets none: a request that must carry it is
 *   refused ('foreign_origin') before it is sent; a GET or HEAD redirected elsewhere (a CDN) goes on
 *   without it.
 * - Never over cleartext: http:// only to this machine's loopback (127.0.0.0/8, ::1, localhost), where
 *   the tests' servers and a local registry run ('token_unverified'). A redirect from https:// to
 *   http:// is refused ('redirect_downgrade').
 */
import { OtaError } from './errors';
import { GITHUB_API } from './github-rules';
import { isLoopbackHost } from './local-host';

function parse(url: string | URL, what: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new OtaError('bad_url', `${what}: ${JSON.stringify(String(url).slice(0, 200))} is not a URL`);
  }
}

/** 'token_unverified' when a credential for `url` would cross the network in clear text. */
export function refuseCleartext(url: string | URL, what: string): void {
  const u = parse(url, what);
  if (u.protocol === 'https:' || isLoopbackHost(u.hostname)) return;
  throw new OtaError(
    'token_unverified',
    `${what} goes over TLS only, or to this machine: ${u.protocol}//${u.host} is neither, so nothing was sent`,
  );
}

/** The origins one credential may reach. */
export class CredentialScope {
  readonly origins: ReadonlySet<string>;

  constructor(
    /** The credential, for messages: "the GitHub token". */
    readonly what: string,
    origins: (string | URL)[],
  ) {
    this.origins = new Set(origins.map((o) => parse(o, what).origin));
  }

  allows(url: string | URL): boolean {
    try {
      return this.origins.has(new URL(url).origin);
    } catch {
      return false;
    }
  }

  /** 'foreign_origin' unless the credential may go to `url`; `named` says who named it. */
  require(url: string | URL, named: string): void {
    if (this.allows(url)) return;
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      origin = JSON.stringify(String(url).slice(0, 200));
    }
    throw new OtaError(
      'foreign_origin',
      `${named} leads to ${origin}, which is not where ${this.what} belongs (${[...this.origins].join(', ')}): ` +
        'nothing was sent there',
    );
  }
}

/**
 * GitHub's token: the API root's origin and its uploads origin. `api.` hosts have their uploads on
 * `uploads.` of the same domain (api.github.com -> uploads.github.com; GitHub Enterprise Cloud's
 * api.NAME.ghe.com -> uploads.NAME.ghe.com); GitHub Enterprise Server serves both on its own origin
 * (https://HOST/api/v3 and https://HOST/api/uploads).
 */
export function githubScope(apiRoot: string): CredentialScope {
  const api = parse(apiRoot, 'the GitHub API root');
  const origins: (string | URL)[] = [api.origin];
  if (/^api\./i.test(api.hostname)) {
    const uploads = new URL(api.origin);
    uploads.hostname = `uploads.${api.hostname.slice(4)}`;
    origins.push(uploads);
  }
  return new CredentialScope(`the GitHub token for ${api.origin}`, origins);
}

/**
 * The scope for the uploads of one release, from its `upload_url` ('foreign_origin' when it names
 * another origin, checked before any upload). An API on this machine's loopback (a local stand-in,
 * as the tests' mock, which keeps api.github.com and uploads.github.com apart on two ports) may name
 * another port of the same host and scheme: the token stays on the machine. Page links, redirects and
 * asset URLs get no such latitude (githubScope).
 */
export function githubUploadScope(apiRoot: string, uploadUrl: string, named: string): CredentialScope {
  const scope = githubScope(apiRoot);
  const api = new URL(apiRoot);
  let up: URL | undefined;
  try {
    up = new URL(uploadUrl.replace(/\{.*$/, ''));
  } catch {
    up = undefined;
  }
  const local =
    up !== undefined &&
    isLoopbackHost(api.hostname) &&
    up.protocol === api.protocol &&
    up.hostname === api.hostname;
  if (!local) {
    scope.require(uploadUrl.replace(/\{.*$/, ''), named);
    return scope;
  }
  return new CredentialScope(scope.what, [...scope.origins, up!]);
}

const REDIRECTS = [301, 302, 303, 307, 308];
/** As many hops as a fetch follows for a GitHub API answer; more is a loop. */
const MAX_REDIRECTS = 5;

function headersOf(input: string | URL | Request, init?: RequestInit): Headers {
  const h = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(init?.headers).forEach((v, k) => h.set(k, v));
  return h;
}

/**
 * A fetch for a client that puts a credential in its requests' `Authorization` (Octokit): each such
 * request is checked against `scope` and refuseCleartext before it is sent, and redirects are followed
 * here, not by fetch, so no hop decides alone where the credential goes. A same-origin redirect keeps
 * it; a GET or HEAD led to another origin goes on without it; a write led there, or one whose body is a
 * stream (cannot be sent twice), is refused. The answer handed back is never a redirect.
 */
export function scopedFetch(base: typeof fetch, scope: CredentialScope): typeof fetch {
  return async (input, init) => {
    let url = input instanceof Request ? input.url : String(input);
    let method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const headers = headersOf(input, init);
    let body = init?.body ?? undefined;
    const replayable = body === undefined || typeof body === 'string' || body instanceof Uint8Array;
    for (let hop = 0; ; hop++) {
      if (headers.has('authorization')) {
        refuseCleartext(url, scope.what);
        scope.require(url, `${method} ${url.split('?')[0]}`);
      }
      const res = await base(url, { ...init, method, headers, body, redirect: 'manual' });
      const location = res.headers.get('location');
      if (!REDIRECTS.includes(res.status) || !location) return res;
      await res.body?.cancel().catch(() => undefined);
      const next = new URL(location, url);
      const from = new URL(url);
      if (hop >= MAX_REDIRECTS) {
        throw new OtaError(
          'too_many_redirects',
          `${method} ${from.origin}${from.pathname}: more than ${MAX_REDIRECTS} redirects`,
        );
      }
      if (from.protocol === 'https:' && next.protocol !== 'https:') {
        throw new OtaError(
          'redirect_downgrade',
          `${method} ${from.origin}${from.pathname} redirected to ${next.origin}: refused`,
        );
      }
      const read = method === 'GET' || method === 'HEAD';
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET'; // as fetch does: the body is not sent on
        body = undefined;
      } else if (!read && !replayable) {
        throw new OtaError(
          'github_error',
          `${method} ${from.origin}${from.pathname} answered a redirect to a write that cannot be sent twice`,
        );
      }
      if (headers.has('authorization') && !scope.allows(next)) {
        if (!read) scope.require(next, `the redirect of ${method} ${from.origin}${from.pathname}`);
        headers.delete('authorization'); // a CDN or storage host: the credential stays behind
      }
      url = next.href;
    }
  };
}

/** Codes of a credential kept from where it does not belong: a retry would meet the same refusal. */
export const CREDENTIAL_REFUSALS: ReadonlySet<string> = new Set([
  'foreign_origin',
  'token_unverified',
  'redirect_downgrade',
  'too_many_redirects',
]);

/**
 * A GitHub token the editor keeps ("Set GitHub Token", VS Code secret storage) is kept with the API
 * root it was given for, and handed to that root only: a workspace whose settings name another API
 * (GitHub Enterprise, or a host that is not GitHub) never gets the github.com token. A token kept
 * before this rule, without its root, is github.com's.
 */
export function keepToken(token: string, apiRoot: string): string {
  return JSON.stringify({ api: sameRoot(apiRoot), token });
}

export function keptToken(stored: string | undefined, apiRoot: string): string | undefined {
  if (!stored) return undefined;
  let kept: { api?: unknown; token?: unknown };
  try {
    kept = JSON.parse(stored) as typeof kept;
  } catch {
    kept = { api: GITHUB_API, token: stored };
  }
  if (typeof kept?.token !== 'string' || typeof kept.api !== 'string') return undefined;
  return sameRoot(kept.api) === sameRoot(apiRoot) ? kept.token : undefined;
}

/** An API root as compared: its URL, normalised (case of the host, default port), no trailing slash. */
function sameRoot(apiRoot: string): string {
  try {
    return new URL(apiRoot).href.replace(/\/+$/, '');
  } catch {
    return apiRoot;
  }
}
