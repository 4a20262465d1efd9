/**
 * GitHub Releases: publish a release so a board never sees half of it, and list what is there.
 *
 *   publishGitHub({ dir, version?, repo, token, baseUrl?, prerelease?, notes?, force?, bundle?,
 *                   signKeyFile?, build?, concurrency?, retries?, retryDelayMs?, onProgress?, fetch? })
 *     -> Promise<GitHubPublishResult>   // { tag, version, url, releaseId, prerelease, replaced, signed, assets }
 *   listReleases({ repo, token?, baseUrl?, fetch? }) -> Promise<ReleaseInfo[]>   // newest first, channel marked
 *   branchTip({ repo, branch?, token?, baseUrl?, fetch? }) -> Promise<{ branch, sha, date }>   // the developer channel
 *   createOctokit({ token?, baseUrl?, fetch? }) -> Octokit   // with the retry and throttling plugins
 *   assetName(path) -> string   // "lib/x.py" -> "lib__x.py" (core/publish/names.ts)
 *
 * Publishing: create release `v<version>` as a draft (invisible to boards), upload manifest.json,
 * manifest.json.sig, every file and the bundle to the uploads origin from the draft's `upload_url`,
 * `concurrency` at a time, then publish the draft in one PATCH. A failure before that deletes the
 * draft. `force` on an existing version: the new draft is built beside the old release, the old one
 * is deleted only when every asset is up, then the draft is published under the tag. `baseUrl` is
 * the API root (GitHub Enterprise: https://host/api/v3). Errors are OtaErrors: token-missing,
 * token-invalid, no-permission, repo-not-found, tag-exists, rate-limited (message has the reset
 * time), unservable-name (names GitHub would rename or that clash, each named), file-changed,
 * upload-failed, github-error, network, and foreign_origin, token_unverified, redirect_downgrade when
 * an answer would lead the token off GitHub's origins (core/credential-origins.ts). Split: planUploads, uploadAsset (one read, retries),
 * uploadAll (concurrency), existingRelease, promote.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import pLimit from 'p-limit';
import {
  CREDENTIAL_REFUSALS,
  githubScope,
  githubUploadScope,
  scopedFetch,
  type CredentialScope,
} from '../credential-origins';
import { OtaError } from '../errors';
import { boundedFetch, collectPages, Listing, LISTINGS, MAX_API_ANSWER } from '../pages';
import { assetName, GITHUB_API, parseRepo } from '../github-rules';
import { compareVersions, parseVersion } from '../version';
import { readReleaseNotes } from './notes';
import type { Excluded } from '../walk';
import { prepareRelease, type PrepareOptions, type PreparedRelease } from './prepare';

export { assetName };

/**
 * An answer over MAX_API_ANSWER (boundedFetch) reaches Octokit as a failed fetch, which it wraps as a
 * status-500 RequestError that the retry plugin would send again. Registered before the retry plugin,
 * this hook runs inside it and hands the OtaError on as itself: not retried, its code kept.
 */
function answerBounds(octokit: { hook: Octokit['hook'] }): void {
  octokit.hook.error('request', (error) => {
    const cause = (error as { cause?: unknown }).cause;
    throw cause instanceof OtaError ? cause : error;
  });
}

const ThrottledOctokit = Octokit.plugin(answerBounds, retry, throttling);
export type GitHubClient = InstanceType<typeof ThrottledOctokit>;

/**
 * Releases per page of a listing: 16 releases at the 2 MB a board reads of one (device/ota/jscan.py)
 * fit one answer's MAX_API_ANSWER; a repository with 16 releases or fewer is still one request.
 */
const RELEASES_PER_PAGE = 16;

export interface GitHubConnection {
  /** "owner/name". */
  repo: string;
  token?: string;
  /** API root; default https://api.github.com. */
  baseUrl?: string;
  /** Replaces global fetch (tests hold every answer against GitHub's OpenAPI description). */
  fetch?: typeof fetch;
}

export interface PublishProgress {
  phase: 'prepare' | 'create' | 'upload' | 'publish';
  /** Asset being uploaded (phase "upload"). */
  asset?: string;
  /** Bytes uploaded so far, over all assets. */
  done: number;
  /** Bytes to upload in all. */
  total: number;
}

export interface GitHubPublishOptions extends GitHubConnection, Omit<PrepareOptions, 'bundleDir' | 'host'> {
  /** Beta channel. Default: true when the version has a prerelease part (1.2.0-beta.1). */
  prerelease?: boolean;
  /** Release notes; default: the version's section of <dir>/CHANGELOG.md. */
  notes?: string;
  /** Replace an already published version. */
  force?: boolean;
  /** Uploads in flight at once (default 4). */
  concurrency?: number;
  /** Attempts after a failed upload (default 3), each after deleting the half asset GitHub keeps. */
  retries?: number;
  /** First retry delay, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  onProgress?: (p: PublishProgress) => void;
}

export interface PublishedAsset {
  name: string;
  size: number;
  /** The asset API URL boards download through (Accept: application/octet-stream). */
  url: string;
}

export interface GitHubPublishResult {
  tag: string;
  version: string;
  /** The release page. */
  url: string;
  releaseId: number;
  prerelease: boolean;
  /** An existing release of this version was replaced (force). */
  replaced: boolean;
  signed: boolean;
  assets: PublishedAsset[];
  /** Left out by rule (reserved board paths, tool and editor files), and why. */
  excluded: Excluded[];
  /** Where the manifest's `created` came from. */
  createdFrom: string;
}

export interface ReleaseInfo {
  tag: string;
  /** The tag without its "v", when it is a semver version. */
  version?: string;
  name: string;
  prerelease: boolean;
  draft: boolean;
  publishedAt?: string;
  url: string;
  /** "stable": the release boards on the stable channel get; "beta": the newest prerelease. */
  channel?: 'stable' | 'beta';
}

const unqueued = {
  key: () => ({ schedule: <T>(_o: unknown, fn: () => T) => Promise.resolve(fn()) }),
} as never;

/**
 * The fetch every request to GitHub goes through: the token only to the API root's own origins, never
 * along a page link, upload URL or redirect to another (core/credential-origins.ts), and every answer
 * read within bounds (core/pages.ts).
 */
function githubFetch(
  conn: Omit<GitHubConnection, 'repo'>,
  listing?: Listing,
  scope = tokenScope(conn),
): typeof fetch {
  return boundedFetch(scopedFetch(conn.fetch ?? fetch, scope), MAX_API_ANSWER, listing);
}

/**
 * The fetch for the uploads of one release: its `upload_url` checked first ('foreign_origin' when it
 * names an origin that is not the API's uploads host), then every upload held to that origin.
 */
export function uploadFetch(
  conn: Omit<GitHubConnection, 'repo'>,
  uploadUrl: unknown,
  named: string,
): typeof fetch {
  return githubFetch(conn, undefined, githubUploadScope(apiRoot(conn), String(uploadUrl), named));
}

const apiRoot = (conn: Omit<GitHubConnection, 'repo'>) => (conn.baseUrl ?? GITHUB_API).replace(/\/+$/, '');
const tokenScope = (conn: Omit<GitHubConnection, 'repo'>) => githubScope(apiRoot(conn));

/** A client; with a `listing`, one for that listing alone: every answer it reads counts against it. */
export function createOctokit(conn: Omit<GitHubConnection, 'repo'>, listing?: Listing): GitHubClient {
  return new ThrottledOctokit({
    auth: conn.token,
    baseUrl: apiRoot(conn),
    userAgent: 'micropython-ota',
    // Every failure is rethrown as an OtaError with its cause; Octokit's own error lines would repeat it.
    log: { debug: () => undefined, info: () => undefined, warn: console.warn, error: () => undefined },
    request: { fetch: githubFetch(conn, listing) },
    throttle: {
      // Out of quota: stop and say when it comes back, rather than block a CLI or an editor for up to an hour.
      onRateLimit: () => false,
      // Secondary limits: wait as told once, when it is short.
      onSecondaryRateLimit: (retryAfter: number, _o: unknown, _k: unknown, count: number) =>
        count < 1 && retryAfter <= 60,
      // Uploads run `concurrency` at a time under our own bound; the plugin's default queues (one
      // write a second, one release creation every 3 s) would serialise them and stall back-to-back
      // publishes. The plugin only calls group.key(id).schedule(options, fn): this stands in.
      write: unqueued,
      notifications: unqueued,
    },
    retry: { doNotRetry: [400, 401, 403, 404, 410, 422, 451] },
  });
}

interface RequestErrorLike {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

/** Turns an Octokit failure into the OtaError a user can act on. */
export function githubError(err: unknown, repo: string, what: string): OtaError {
  if (err instanceof OtaError) return err;
  const e = err as RequestErrorLike;
  const data = (e.response?.data ?? {}) as { message?: string; errors?: { code?: string; field?: string }[] };
  const headers = e.response?.headers ?? {};
  const message = data.message ?? e.message ?? String(err);
  const status = e.status ?? 0;
  if (!e.response) {
    return new OtaError('network', `${what}: cannot reach GitHub (${e.message ?? String(err)})`, {
      cause: err,
    });
  }
  if (status === 401) {
    return new OtaError('token_invalid', `${what}: GitHub refused the token (${message}); create a new one`, {
      cause: err,
    });
  }
  if (
    (status === 403 || status === 429) &&
    (headers['x-ratelimit-remaining'] === '0' || /rate limit/i.test(message))
  ) {
    const reset = Number(headers['x-ratelimit-reset']);
    const when = Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString() : 'later';
    return new OtaError('rate_limited', `${what}: GitHub API rate limit exceeded; it resets at ${when}`, {
      cause: err,
    });
  }
  if (status === 403) {
    return new OtaError(
      'no_permission',
      `${what}: the token may not write to ${repo} (${message}); it needs "contents: write"`,
      { cause: err },
    );
  }
  if (status === 404) {
    return new OtaError('repo_not_found', `${what}: ${repo} not found, or the token cannot see it`, {
      cause: err,
    });
  }
  if (status === 422 && data.errors?.some((x) => x.code === 'already_exists' && x.field === 'tag_name')) {
    return new OtaError('tag_exists', `${what}: a release with this tag already exists in ${repo}`, {
      cause: err,
    });
  }
  return new OtaError('github_error', `${what}: GitHub answered ${status} ${message}`, { cause: err });
}

function contentType(name: string): string {
  if (name.endsWith('.json') || name.endsWith('.sig')) return 'application/json';
  if (name.endsWith('.py')) return 'text/x-python';
  if (name.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

/** A fetch that reports request-body bytes as the network takes them. */
function countingFetch(base: typeof fetch, onBytes: (n: number) => void): typeof fetch {
  return (input, init) => {
    const body = init?.body;
    if (!(body instanceof Uint8Array)) return base(input, init);
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= body.length) return controller.close();
        const chunk = body.subarray(at, at + 64 * 1024);
        at += chunk.length;
        onBytes(chunk.length);
        controller.enqueue(chunk);
      },
    });
    return base(input, { ...init, body: stream, duplex: 'half' } as RequestInit);
  };
}

interface Upload {
  name: string;
  /** The staged copy to read (core/publish/prepare.ts), or the bytes themselves. */
  source: string | Buffer;
  size: number;
  /** The SHA-256 the manifest lists for it, when it lists it: checked against the bytes sent. */
  sha256?: string;
}

/** Every asset of the release, in upload order: manifest first, then files, bundle, firmware. */
function planUploads(release: PreparedRelease): Upload[] {
  const { manifest } = release;
  return [
    { name: 'manifest.json', source: release.manifestBytes, size: release.manifestBytes.length },
    ...(release.signatureBytes
      ? [{ name: 'manifest.json.sig', source: release.signatureBytes, size: release.signatureBytes.length }]
      : []),
    ...release.files.map((f, i) => ({
      name: assetName(f.path),
      source: f.abs,
      size: f.size,
      sha256: manifest.files[i].sha256,
    })),
    ...(release.bundle
      ? [
          {
            name: release.bundle.path,
            source: release.bundle.abs,
            size: release.bundle.size,
            sha256: manifest.bundle?.sha256,
          },
        ]
      : []),
    ...(release.firmware
      ? [
          {
            name: release.firmware.path,
            source: release.firmware.abs,
            size: release.firmware.size,
            sha256: manifest.firmware?.sha256,
          },
        ]
      : []),
  ];
}

/** What one publish talks to and how it reports. */
interface Session {
  gh: GitHubClient;
  owner: string;
  repo: string;
  /** "owner/name", for messages. */
  slug: string;
  /** Where and as whom, for a client of a listing's own. */
  conn: Omit<GitHubConnection, 'repo'>;
  /** For the uploads: set from the draft's upload_url once it is checked (uploadFetch). */
  fetch: typeof fetch;
  /** Where the token may go: the API root's origin and its uploads origin. */
  scope: CredentialScope;
  /** Assets this publish uploads: the most its draft can hold. */
  planned: number;
  retries: number;
  retryDelayMs: number;
  progress: { done: number; total: number; report?: (p: PublishProgress) => void };
}

/**
 * Uploads one asset to the draft from one read of its bytes, checked against the manifest; retried
 * after a transient failure, each time after deleting the half asset GitHub keeps under the name.
 */
async function uploadAsset(
  s: Session,
  draft: { id: number; upload_url: string },
  u: Upload,
): Promise<PublishedAsset> {
  const data = typeof u.source === 'string' ? await readFile(u.source) : u.source;
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (data.length !== u.size || (u.sha256 && sha256 !== u.sha256)) {
    throw new OtaError('file_changed', `${u.name} is not the bytes the manifest lists: publish again`);
  }
  const { gh, owner, repo, progress } = s;
  for (let attempt = 0; ; attempt++) {
    let sent = 0;
    try {
      const res = await gh.rest.repos.uploadReleaseAsset({
        owner,
        repo,
        release_id: draft.id,
        name: u.name,
        url: draft.upload_url,
        data: data as unknown as string,
        headers: { 'content-type': contentType(u.name), 'content-length': String(data.length) },
        request: {
          retries: 0, // a retried upload meets its own half asset (422): retried below instead
          fetch: countingFetch(s.fetch, (n) => {
            sent += n;
            progress.done += n;
            progress.report?.({ phase: 'upload', asset: u.name, done: progress.done, total: progress.total });
          }),
        },
      });
      const digest = (res.data as { digest?: string | null }).digest;
      if (res.data.size !== data.length || (digest && digest !== `sha256:${sha256}`)) {
        throw new OtaError('upload_failed', `${u.name} arrived damaged (${res.data.size} bytes, ${digest})`);
      }
      // The URL boards and the user are given: GitHub's own, or the release is not published.
      s.scope.require(res.data.url, `the API URL GitHub gave ${u.name}`);
      return { name: u.name, size: u.size, url: res.data.url };
    } catch (err) {
      progress.done -= sent;
      const status = (err as RequestErrorLike).status ?? 0;
      // A credential kept from another origin meets the same refusal again: not retried.
      const transient =
        err instanceof OtaError
          ? !CREDENTIAL_REFUSALS.has(err.code)
          : !(err as RequestErrorLike).response || status >= 500;
      if (!transient || attempt >= s.retries) {
        throw err instanceof OtaError ? err : githubError(err, s.slug, `uploading ${u.name}`);
      }
      // The draft is this publish's own: it holds at most one asset per planned upload, so a longer
      // listing (or one that loops, or weighs more than a release a board can read) is a hostile or
      // broken host.
      const what = `listing the assets of the draft release in ${s.slug}`;
      const listing = new Listing(what, { ...LISTINGS.assets, entries: s.planned });
      const lister = createOctokit(s.conn, listing);
      const pages = lister.paginate.iterator(lister.rest.repos.listReleaseAssets, {
        owner,
        repo,
        release_id: draft.id,
        per_page: 100,
      });
      const assets = await collectPages(
        (async function* () {
          for await (const p of pages)
            yield {
              url: p.url,
              items: entries<{ id: number; name: string }>(p.data, what).map((a) => ({
                id: a.id,
                name: a.name,
              })),
            };
        })(),
        listing,
      );
      for (const a of assets.filter((x) => x.name === u.name)) {
        await gh.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: a.id });
      }
      await sleep(s.retryDelayMs * 2 ** attempt);
    }
  }
}

/**
 * Uploads every asset, `concurrency` at a time (p-limit). After the first failure no new upload
 * starts, the ones running finish, and that failure is thrown; results come back in plan order.
 */
async function uploadAll(
  s: Session,
  draft: { id: number; upload_url: string },
  uploads: Upload[],
  concurrency: number,
): Promise<PublishedAsset[]> {
  const limit = pLimit(Math.max(1, concurrency));
  let failed: unknown;
  const results = await Promise.all(
    uploads.map((u) =>
      limit(async () => {
        if (failed !== undefined) return undefined;
        try {
          return await uploadAsset(s, draft, u);
        } catch (err) {
          failed ??= err;
          return undefined;
        }
      }),
    ),
  );
  if (failed !== undefined) throw failed;
  return results as PublishedAsset[];
}

/** The release already published under `tag`, if any; refused unless `force`. */
async function existingRelease(
  s: Session,
  tag: string,
  force: boolean | undefined,
): Promise<{ id: number } | undefined> {
  let existing: { id: number } | undefined;
  try {
    existing = (await s.gh.rest.repos.getReleaseByTag({ owner: s.owner, repo: s.repo, tag })).data;
  } catch (err) {
    if ((err as RequestErrorLike).status !== 404) throw githubError(err, s.slug, `publishing to ${s.slug}`);
    // 404 is also what a missing repository answers: creating the draft tells them apart.
  }
  if (existing && !force) {
    throw new OtaError(
      'tag_exists',
      `${tag} is already published in ${s.slug}: pass --force to replace its assets`,
    );
  }
  return existing;
}

/** Publishes the draft under its tag in one PATCH, after deleting the release it replaces. */
async function promote(
  s: Session,
  draft: { id: number },
  tag: string,
  prerelease: boolean,
  replacing: { id: number } | undefined,
): Promise<{ html_url: string; id: number }> {
  const { gh, owner, repo } = s;
  if (replacing) await gh.rest.repos.deleteRelease({ owner, repo, release_id: replacing.id });
  const res = await gh.rest.repos.updateRelease({
    owner,
    repo,
    release_id: draft.id,
    tag_name: tag,
    draft: false,
    prerelease,
    // A hotfix of an older line must not become the stable channel's "latest": highest version wins.
    make_latest: 'legacy',
  });
  return res.data;
}

export async function publishGitHub(opts: GitHubPublishOptions): Promise<GitHubPublishResult> {
  const { owner, repo } = parseRepo(opts.repo);
  if (!opts.token) {
    throw new OtaError(
      'token_missing',
      'publishing to GitHub needs a token: set GITHUB_TOKEN or pass --token',
    );
  }
  const s: Session = {
    gh: createOctokit(opts),
    owner,
    repo,
    slug: opts.repo,
    conn: opts,
    fetch: githubFetch(opts),
    scope: tokenScope(opts),
    planned: 0,
    retries: opts.retries ?? 3,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    progress: { done: 0, total: 0, report: opts.onProgress },
  };
  const fail = (err: unknown) => githubError(err, opts.repo, `publishing to ${opts.repo}`);
  const bundleDir = await mkdtemp(join(tmpdir(), 'ota-publish-'));
  try {
    opts.onProgress?.({ phase: 'prepare', done: 0, total: 0 });
    const release = await prepareRelease({ ...opts, host: 'github', bundleDir });
    const version = release.manifest.version;
    const tag = `v${version}`;
    const prerelease = opts.prerelease ?? parseVersion(version).prerelease.length > 0;
    const uploads = planUploads(release);
    s.planned = uploads.length;
    const existing = await existingRelease(s, tag, opts.force);
    const notes = opts.notes ?? (await readReleaseNotes(opts.dir, version)) ?? `Release ${version}`;
    s.progress.total = uploads.reduce((n, u) => n + u.size, 0);
    opts.onProgress?.({ phase: 'create', done: 0, total: s.progress.total });
    const draft = await s.gh.rest.repos
      .createRelease({
        owner,
        repo,
        // Beside an existing release the draft waits under a name of its own; it takes the tag when published.
        tag_name: existing ? `${tag}-ota-replacing-${Date.now()}` : tag,
        name: tag,
        body: notes,
        draft: true,
        prerelease,
      })
      .then(
        (r) => r.data,
        (err: unknown) => Promise.reject(fail(err)),
      );
    try {
      // Checked before the first upload, so no byte goes to an upload host GitHub's API does not own.
      s.fetch = uploadFetch(opts, draft.upload_url, "the draft's upload_url");
      const assets = await uploadAll(s, draft, uploads, opts.concurrency ?? 4);
      opts.onProgress?.({ phase: 'publish', done: s.progress.done, total: s.progress.total });
      const published = await promote(s, draft, tag, prerelease, existing);
      return {
        tag,
        version,
        url: published.html_url,
        releaseId: published.id,
        prerelease,
        replaced: Boolean(existing),
        signed: Boolean(release.signatureBytes),
        assets,
        excluded: release.excluded,
        createdFrom: release.createdFrom,
      };
    } catch (err) {
      // Nothing half-made stays behind: the draft (never visible to boards) goes, or the user is told.
      const kept = await s.gh.rest.repos.deleteRelease({ owner, repo, release_id: draft.id }).then(
        () => false,
        () => true,
      );
      const e = fail(err);
      if (!kept) throw e;
      throw new OtaError(
        e.code,
        `${e.message}; the draft release ${draft.id} (never visible to boards) could not be deleted: delete it on GitHub`,
        { cause: err },
      );
    }
  } finally {
    await rm(bundleDir, { recursive: true, force: true });
  }
}

/** The entries of a listing's page; a page that is not a list is a broken or hostile host. */
function entries<T>(data: unknown, what: string): T[] {
  if (!Array.isArray(data)) throw new OtaError('github_error', `${what}: the answer is not a list`);
  return data.filter((x): x is T => typeof x === 'object' && x !== null);
}

/**
 * A string the host sent, cut to what a listing shows (one answer is bounded, but a whole listing is
 * kept); anything else it sent in its place, ''.
 */
const short = (x: unknown, max = 1024): string =>
  typeof x !== 'string' ? '' : x.length > max ? x.slice(0, max) : x;

/** What a listing keeps of one release, whatever types the host sent. */
function releaseInfo(r: Record<string, unknown>): ReleaseInfo {
  const tag = short(r.tag_name);
  let version: string | undefined;
  try {
    version = parseVersion(tag).text;
  } catch {
    version = undefined; // a tag that is not a version: listed, never a board's update
  }
  return {
    tag,
    version,
    name: short(r.name ?? tag),
    prerelease: r.prerelease === true,
    draft: r.draft === true,
    publishedAt: r.published_at ? short(r.published_at, 64) : undefined,
    url: short(r.html_url, 4096),
  };
}

export async function listReleases(conn: GitHubConnection): Promise<ReleaseInfo[]> {
  const { owner, repo } = parseRepo(conn.repo);
  const what = `listing releases of ${conn.repo}`;
  const listing = new Listing(what, LISTINGS.releases);
  const gh = createOctokit(conn, listing);
  let infos: ReleaseInfo[];
  try {
    const pages = gh.paginate.iterator(gh.rest.repos.listReleases, {
      owner,
      repo,
      per_page: RELEASES_PER_PAGE,
    });
    infos = await collectPages(
      (async function* () {
        // Only what the channels need is kept of each page (the answer's asset lists are not).
        for await (const p of pages)
          yield { url: p.url, items: entries<Record<string, unknown>>(p.data, what).map(releaseInfo) };
      })(),
      listing,
    );
  } catch (err) {
    if (err instanceof OtaError) throw err;
    throw githubError(err, conn.repo, what);
  }
  // Stable: the highest version among releases (what publishing marks latest, so what /releases/latest
  // gives boards); beta: the newest prerelease, as GitHub lists them newest first.
  let stable: ReleaseInfo | undefined;
  for (const r of infos) {
    if (r.draft || r.prerelease) continue;
    if (!stable || (r.version && (!stable.version || compareVersions(r.version, stable.version) > 0)))
      stable = r;
  }
  if (stable) stable.channel = 'stable';
  const beta = infos.find((r) => !r.draft && r.prerelease);
  if (beta) beta.channel = 'beta';
  return infos;
}

export async function branchTip(
  conn: GitHubConnection & { branch?: string },
): Promise<{ branch: string; sha: string; date: string }> {
  const { owner, repo } = parseRepo(conn.repo);
  const gh = createOctokit(conn);
  const branch = conn.branch ?? 'main';
  try {
    const ref = await gh.rest.git.getRef({ owner, repo, ref: `heads/${branch}` });
    const sha = ref.data.object.sha;
    // The ref names the commit only; its committer date says how fresh the tip is.
    const commit = await gh.rest.git.getCommit({ owner, repo, commit_sha: sha });
    return { branch, sha, date: commit.data.committer.date };
  } catch (err) {
    throw githubError(err, conn.repo, `reading branch ${branch} of ${conn.repo}`);
  }
}
