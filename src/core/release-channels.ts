/**
 * What a release host offers, per channel, for the editor's Releases view, its status bar and the
 * CLI: the releases, or the plain reason there are none to show (nothing configured, host
 * unreachable at a named URL, an error from the host).
 *
 *   const r = await releaseChannels({ source: 'static', url: 'http://127.0.0.1:8080' });
 *   r.state === 'ok' ? r.entries : r.message   // 'not-configured' | 'unreachable' | 'error'
 */
import { OtaError } from './errors';
import { MAX_LATEST, readBounded } from './pages';
import type { CredentialSources } from './publish/registry-login';

export type ChannelName = 'stable' | 'beta' | 'developer';

export interface ReleaseEntry {
  channel: ChannelName;
  version: string;
  /** ISO date of publication (or of the commit, for the developer tip). */
  date?: string;
  /** A page for people: the GitHub release, or the release's manifest on a static host. */
  url?: string;
  /** oci: the release's reference (host/repository:version). */
  ref?: string;
}

export interface ReleaseQuery {
  source: 'github' | 'static' | 'oci';
  /** oci: host/repository (its credentials by the one order: publish/registry-login.ts). */
  ref?: string;
  /** oci: where credentials may come from besides the environment and docker/podman login. */
  registry?: Omit<CredentialSources, 'access'>;
  /** static: base URL holding latest.json. */
  url?: string;
  /** github: owner/name. */
  repo?: string;
  /** github: REST API root. */
  apiUrl?: string;
  /** github: the developer channel's branch. */
  branch?: string;
  token?: string;
  /** Replaces global fetch (an ETag cache: see etag-fetch.ts). */
  fetch?: typeof fetch;
}

export type ReleaseStatus =
  | { state: 'ok'; host: string; entries: ReleaseEntry[] }
  /** perDevice: a `{device}` reference, and no board chosen that names its own. */
  | { state: 'not-configured'; message: string; perDevice?: boolean }
  | { state: 'unreachable'; host: string; message: string }
  /** signIn: a private ghcr.io package the VS Code GitHub sign-in can list (registry-login.ts). */
  | { state: 'error'; host: string; code: string; message: string; signIn?: 'github' };

/** Why a request never got an answer (fetch's TypeError hides it in `cause`). */
export function networkReason(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}

function base(url: string): string {
  return url.replace(/\/+$/, '');
}

async function staticChannels(url: string, doFetch: typeof fetch): Promise<ReleaseStatus> {
  const host = base(url);
  const latestUrl = `${host}/latest.json`;
  let res: Response;
  try {
    res = await doFetch(latestUrl, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    // A fetch that bounds what it caches (etag-fetch.ts) refuses a huge answer itself.
    if (err instanceof OtaError) return { state: 'error', host, code: err.code, message: err.message };
    return {
      state: 'unreachable',
      host,
      message: `Cannot reach ${host} (${networkReason(err)})`,
    };
  }
  if (!res.ok) await res.body?.cancel(); // its body is never read
  if (res.status === 404) return { state: 'ok', host, entries: [] };
  if (!res.ok)
    return { state: 'error', host, code: 'http_status', message: `${latestUrl} answered ${res.status}` };
  let latest: { version?: unknown };
  try {
    const bytes = await readBounded(res, latestUrl, MAX_LATEST);
    latest = JSON.parse(bytes.toString('utf8')) as { version?: unknown };
  } catch (err) {
    if (err instanceof OtaError) return { state: 'error', host, code: err.code, message: err.message };
    return { state: 'error', host, code: 'bad_latest', message: `${latestUrl} is not JSON` };
  }
  if (typeof latest?.version !== 'string')
    return { state: 'error', host, code: 'bad_latest', message: `${latestUrl} names no version` };
  return {
    state: 'ok',
    host,
    entries: [{ channel: 'stable', version: latest.version, url: `${host}/${latest.version}/manifest.json` }],
  };
}

async function githubChannels(q: ReleaseQuery & { repo: string }): Promise<ReleaseStatus> {
  const apiUrl = base(q.apiUrl || 'https://api.github.com');
  const { listReleases, branchTip } = await import('./publish/github');
  const conn = { repo: q.repo, token: q.token, baseUrl: apiUrl, fetch: q.fetch };
  let releases;
  try {
    releases = await listReleases(conn);
  } catch (err) {
    const code = err instanceof OtaError ? err.code : 'github_error';
    if (code === 'network')
      return {
        state: 'unreachable',
        host: apiUrl,
        message: `Cannot reach ${apiUrl} (${networkReason(err)}) to list the releases of ${q.repo}`,
      };
    return { state: 'error', host: apiUrl, code, message: err instanceof Error ? err.message : String(err) };
  }
  const entries: ReleaseEntry[] = [];
  // Each channel lists its releases newest first, the one boards get (marked by the core) on top.
  for (const channel of ['stable', 'beta'] as const) {
    const wanted = releases.filter((r) => !r.draft && r.version && r.prerelease === (channel === 'beta'));
    wanted.sort((a, b) => Number(b.channel === channel) - Number(a.channel === channel));
    for (const r of wanted) entries.push({ channel, version: r.version!, date: r.publishedAt, url: r.url });
  }
  // The developer channel follows a branch; a repository without it simply has no tip.
  const tip = await branchTip({ ...conn, branch: q.branch || 'main' }).catch(() => undefined);
  if (tip)
    entries.push({ channel: 'developer', version: `${tip.branch}@${tip.sha.slice(0, 7)}`, date: tip.date });
  return { state: 'ok', host: `${apiUrl} (${q.repo})`, entries };
}

export async function releaseChannels(q: ReleaseQuery): Promise<ReleaseStatus> {
  if (q.source === 'oci') {
    if (!q.ref) return { state: 'not-configured', message: 'No OCI reference configured: set ota.oci.ref.' };
    const { ociChannels } = await import('./publish/oci');
    const { githubSignInApplies, registryCredentials, registryOf } = await import('./publish/registry-login');
    try {
      registryOf(q.ref);
    } catch (err) {
      return { state: 'error', host: q.ref, code: 'bad_ref', message: (err as Error).message };
    }
    // The GitHub sign-in only once the registry asks for credentials (a public package never
    // needs it). A sign-in the user was asked for and declined is the caller's error.
    const { githubSession, ...rest } = q.registry ?? {};
    const credentials = await registryCredentials(q.ref, { ...rest, access: 'pull' });
    let status = await ociChannels({ ref: q.ref, credentials, fetch: q.fetch });
    if (status.state !== 'error' || status.code !== 'credentials_missing' || !githubSignInApplies(q.ref))
      return status;
    const signedIn =
      githubSession && (await registryCredentials(q.ref, { ...rest, githubSession, access: 'pull' }));
    if (signedIn) status = await ociChannels({ ref: q.ref, credentials: signedIn, fetch: q.fetch });
    return status.state === 'error' && status.code === 'credentials_missing'
      ? { ...status, signIn: 'github' }
      : status;
  }
  if (q.source === 'static') {
    if (!q.url)
      return {
        state: 'not-configured',
        message: 'No release host configured: run Configure Device, or Serve Releases Locally.',
      };
    return staticChannels(q.url, q.fetch ?? fetch);
  }
  if (!q.repo)
    return {
      state: 'not-configured',
      message: 'No GitHub repository configured: run Configure Device.',
    };
  return githubChannels({ ...q, repo: q.repo });
}
