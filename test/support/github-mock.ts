/**
 * A local stand-in for GitHub's REST API, answering the endpoints the project uses the way
 * docs.github.com documents them (test/github-mock.test.ts holds its answers against
 * @octokit/openapi, so it cannot drift from the real API).
 *
 *   const gh = await startGitHubMock({ token: 't0k', private: true });
 *   gh.apiUrl        // Octokit `baseUrl` (like a GitHub Enterprise base URL), e.g. http://127.0.0.1:40001
 *   gh.uploadsUrl    // separate origin; releases' `upload_url` point here
 *   gh.downloadsUrl  // separate origin; asset downloads (Accept: application/octet-stream) 302 here,
 *                    // and it answers 400 to any request carrying an Authorization header
 *   gh.webUrl        // the web host (github.com): /{o}/{r}/releases/latest 302s to /releases/tag/{tag};
 *                    // /releases/latest/download/{name} and /releases/download/{tag}/{name} 302 to
 *                    // downloadsUrl. Outside the API and its rate limit; private repositories are 404.
 *   gh.addRepo('me', 'app', { private?, defaultBranch? })
 *   gh.setBranch('me', 'app', 'main', [{ path: 'main.py', content: 'print(1)' }])  // -> commit sha
 *   gh.setTag('me', 'app', 'v1.0.0', [{ path: 'main.py', content: 'print(1)' }])    // -> commit sha
 *   gh.addRelease('me', 'app', { tag: 'v1.0.0', prerelease?, draft?, assets?: [{ name, content }] })
 *   gh.failNext({ origin?: 'api'|'uploads'|'downloads', method?, path?: RegExp, status, times? })
 *   gh.rewriteNext({ origin?, method?, path?, times?, rewrite(body, headers) })  // the mock answers, then
 *                    // the test changes its JSON body and headers in place (a hostile GitHub's URLs)
 *   gh.setRateLimit(remaining, resetEpochSeconds?)   // until reset()
 *   gh.reset()  // forget repositories, requests, pending failures and a forced rate limit
 *   gh.state.repos / gh.state.requests  // inspect: every request with origin, method, path, headers
 *   await gh.close()
 *
 * Options: `token` (accepted with write access; any other token is "Bad credentials"), `readToken`
 * (accepted, read-only: writes answer 403), `private` (default for addRepo), `pathPrefix` (GitHub
 * Enterprise's "/api/v3"), `uploadLatencyMs` (per upload, for benchmarks), `treeLimit` (a recursive
 * tree with more entries comes back `truncated: true`), `rateLimit` (per identity and hour, default
 * 5000 with a token, 60 anonymous; 304 answers to authorized requests do not count), `port`.
 *
 * Standalone, for end-to-end tests that drive a real VS Code or the CLI:
 *   node --import tsx test/support/github-mock.ts [--port N] [--token T] [--private] [--repo owner/name]...
 * prints one JSON line {apiUrl, uploadsUrl, downloadsUrl, webUrl} and serves until killed. Over HTTP:
 *   POST /_mock/repos/{owner}/{repo}                 body {private?}         add a repository
 *   PUT  /_mock/repos/{owner}/{repo}/branches/{b}    body {files:[{path, base64}]}  set a branch
 *   GET  /_mock/state                                 the request log and releases (no contents)
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { compareVersions } from '../../src/core/version';

export type Origin = 'api' | 'uploads' | 'downloads' | 'web';

export interface MockRequest {
  origin: Origin;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

export interface MockAsset {
  id: number;
  name: string;
  label: string | null;
  contentType: string;
  content: Buffer;
  /** "open": an upload that failed half-way, which GitHub keeps under the name until deleted. */
  state: 'uploaded' | 'open';
  downloadCount: number;
  createdAt: string;
}

export interface MockRelease {
  id: number;
  tag: string;
  name: string;
  body: string;
  draft: boolean;
  prerelease: boolean;
  targetCommitish: string;
  createdAt: string;
  publishedAt: string | null;
  assets: MockAsset[];
}

export interface MockRepo {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  releases: MockRelease[];
  /** Full ref name ("heads/main", "tags/v1.0.0") -> commit sha. */
  refs: Map<string, string>;
  /** Git objects by sha: blobs, trees (entries), commits (tree sha). */
  blobs: Map<string, Buffer>;
  trees: Map<string, TreeEntry[]>;
  commits: Map<string, { tree: string; message: string }>;
  /** The release marked latest (make_latest); /releases/latest falls back to the newest when unset. */
  latestId?: number;
}

export interface TreeEntry {
  path: string;
  mode: '100644' | '040000';
  type: 'blob' | 'tree';
  sha: string;
  size?: number;
}

export interface MockFailure {
  origin?: Origin;
  method?: string;
  path?: RegExp;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
}

/** An answer a test gives in the mock's place: a hostile or broken GitHub (test/host-attack-*). */
export interface MockAnswer extends Omit<MockFailure, 'status'> {
  answer: (req: IncomingMessage, res: ServerResponse) => void;
}

/** The mock's own answer, changed before it is sent: a hostile GitHub naming other origins (test/host-attack-*). */
export interface MockRewrite extends Omit<MockFailure, 'status'> {
  rewrite: (body: unknown, headers: Record<string, string>) => void;
}

/** A release a test puts in the mock directly (not through the API). */
export interface ReleaseSpec {
  tag: string;
  prerelease?: boolean;
  draft?: boolean;
  body?: string;
  assets?: { name: string; content: string | Uint8Array; contentType?: string }[];
}

/** A release as GitHub's release list gives it, empty: for the hand-made listings of hostile-answer tests. */
export const bareRelease = (id: number, tag: string) => ({
  id,
  tag_name: tag,
  name: null,
  prerelease: false,
  draft: false,
  published_at: null,
  html_url: 'x',
  assets: [],
});

export interface GitHubMockOptions {
  token?: string;
  readToken?: string;
  private?: boolean;
  treeLimit?: number;
  rateLimit?: number;
  port?: number;
  /** Serve the API under this path, as GitHub Enterprise Server does ("/api/v3"); apiUrl includes it. */
  pathPrefix?: string;
  /** Serve every origin over HTTPS with this certificate (boards verifying TLS, tokens over TLS only). */
  tls?: { cert: Buffer; key: Buffer };
  /** Delay before each upload is answered, as a round trip to a distant uploads host would (benchmarks). */
  uploadLatencyMs?: number;
}

export interface GitHubMock {
  apiUrl: string;
  uploadsUrl: string;
  downloadsUrl: string;
  webUrl: string;
  state: { repos: Map<string, MockRepo>; requests: MockRequest[] };
  addRepo(owner: string, name: string, opts?: { private?: boolean; defaultBranch?: string }): MockRepo;
  setBranch(
    owner: string,
    name: string,
    branch: string,
    files: { path: string; content: string | Uint8Array }[],
  ): string;
  setTag(
    owner: string,
    name: string,
    tag: string,
    files: { path: string; content: string | Uint8Array }[],
  ): string;
  addRelease(owner: string, name: string, rel: ReleaseSpec): MockRelease;
  failNext(failure: MockFailure): void;
  /** The next matching API request (times: how many) is answered by `answer` instead. */
  answerNext(answer: MockAnswer): void;
  /** The next matching request's answer (api or uploads; times: how many) is changed by `rewrite`. */
  rewriteNext(rewrite: MockRewrite): void;
  setRateLimit(remaining: number, resetEpochSeconds?: number): void;
  reset(): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly docs = DOCS,
  ) {
    super(message);
  }
}

function gitHash(type: string, body: Buffer): string {
  return createHash('sha1').update(`${type} ${body.length}\0`).update(body).digest('hex');
}

async function listen(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function user(apiUrl: string, login: string, id: number): Record<string, unknown> {
  const url = `${apiUrl}/users/${login}`;
  return {
    login,
    id,
    node_id: `U_${id}`,
    avatar_url: `${apiUrl}/avatars/${login}`,
    gravatar_id: '',
    url,
    html_url: `${apiUrl}/${login}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: 'User',
    site_admin: false,
  };
}

export async function startGitHubMock(options: GitHubMockOptions = {}): Promise<GitHubMock> {
  const repos = new Map<string, MockRepo>();
  const requests: MockRequest[] = [];
  const failures: MockFailure[] = [];
  const answers: MockAnswer[] = [];
  const rewrites: MockRewrite[] = [];
  const rewriting = new WeakMap<ServerResponse, MockRewrite>();
  const signed = new Map<string, MockAsset>(); // download token -> asset
  let nextId = 1000;
  const rate = new Map<string, { remaining: number; reset: number }>();
  let forcedRate: { remaining: number; reset: number } | undefined;

  const make = (): Server =>
    options.tls ? (createHttpsServer(options.tls) as unknown as Server) : createServer();
  const apiServer = make();
  const uploadServer = make();
  const downloadServer = make();
  const webServer = make();
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  const apiUrl = (await listen(apiServer, options.port)) + prefix;
  const uploadsUrl = await listen(uploadServer);
  const downloadsUrl = await listen(downloadServer);
  const webUrl = await listen(webServer);

  const repoKey = (o: string, n: string) => `${o}/${n}`.toLowerCase();

  function addRepo(owner: string, name: string, opts: { private?: boolean; defaultBranch?: string } = {}) {
    const repo: MockRepo = {
      id: nextId++,
      owner,
      name,
      private: opts.private ?? options.private ?? false,
      defaultBranch: opts.defaultBranch ?? 'main',
      releases: [],
      refs: new Map(),
      blobs: new Map(),
      trees: new Map(),
      commits: new Map(),
    };
    repos.set(repoKey(owner, name), repo);
    return repo;
  }

  function mustRepo(owner: string, name: string): MockRepo {
    const repo = repos.get(repoKey(owner, name));
    if (!repo) throw new Error(`github-mock: no repository ${owner}/${name}`);
    return repo;
  }

  // Builds real Git objects, so sha values equal what `git hash-object` / `git write-tree` give.
  function writeTree(repo: MockRepo, files: { path: string; content: Buffer }[]): string {
    const here = new Map<string, Buffer>();
    const sub = new Map<string, { path: string; content: Buffer }[]>();
    for (const f of files) {
      const i = f.path.indexOf('/');
      if (i < 0) here.set(f.path, f.content);
      else {
        const dir = f.path.slice(0, i);
        if (!sub.has(dir)) sub.set(dir, []);
        sub.get(dir)!.push({ path: f.path.slice(i + 1), content: f.content });
      }
    }
    const entries: TreeEntry[] = [];
    for (const [name, content] of here) {
      const sha = gitHash('blob', content);
      repo.blobs.set(sha, content);
      entries.push({ path: name, mode: '100644', type: 'blob', sha, size: content.length });
    }
    for (const [name, list] of sub) {
      entries.push({ path: name, mode: '040000', type: 'tree', sha: writeTree(repo, list) });
    }
    // Git sorts tree entries by name, with directories compared as if they ended in '/'.
    const key = (e: TreeEntry) => (e.type === 'tree' ? `${e.path}/` : e.path);
    entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const body = Buffer.concat(
      entries.map((e) =>
        Buffer.concat([
          Buffer.from(`${e.mode === '040000' ? '40000' : e.mode} ${e.path}\0`),
          Buffer.from(e.sha, 'hex'),
        ]),
      ),
    );
    const sha = gitHash('tree', body);
    repo.trees.set(sha, entries);
    return sha;
  }

  function setBranch(
    owner: string,
    name: string,
    branch: string,
    files: { path: string; content: string | Uint8Array }[],
  ): string {
    return commitRef(owner, name, `heads/${branch}`, files);
  }

  function commitRef(
    owner: string,
    name: string,
    ref: string,
    files: { path: string; content: string | Uint8Array }[],
  ): string {
    const branch = ref.replace(/^(heads|tags)\//, '');
    const repo = mustRepo(owner, name);
    const tree = writeTree(
      repo,
      files.map((f) => ({ path: f.path, content: Buffer.from(f.content) })),
    );
    const parent = repo.refs.get(ref);
    const message = `update ${branch}`;
    const text =
      `tree ${tree}\n` +
      (parent ? `parent ${parent}\n` : '') +
      `author Mock <mock@example.com> 1700000000 +0000\ncommitter Mock <mock@example.com> 1700000000 +0000\n\n${message}\n`;
    const sha = gitHash('commit', Buffer.from(text));
    repo.commits.set(sha, { tree, message });
    repo.refs.set(ref, sha);
    return sha;
  }

  function addRelease(owner: string, name: string, rel: ReleaseSpec): MockRelease {
    const repo = mustRepo(owner, name);
    const now = new Date().toISOString();
    const release: MockRelease = {
      id: nextId++,
      tag: rel.tag,
      name: rel.tag,
      body: rel.body ?? '',
      draft: rel.draft ?? false,
      prerelease: rel.prerelease ?? false,
      targetCommitish: repo.defaultBranch,
      createdAt: now,
      publishedAt: rel.draft ? null : now,
      assets: (rel.assets ?? []).map((a) => ({
        id: nextId++,
        name: a.name,
        label: null,
        contentType: a.contentType ?? 'application/octet-stream',
        content: Buffer.from(a.content),
        state: 'uploaded',
        downloadCount: 0,
        createdAt: now,
      })),
    };
    repo.releases.push(release);
    if (!release.draft) markLatest(repo, release, 'true');
    return release;
  }

  /** make_latest as documented: "true" (the default), "false", or "legacy" (highest version wins). */
  function markLatest(repo: MockRepo, r: MockRelease, makeLatest: unknown): void {
    if (r.prerelease || r.draft || makeLatest === 'false') return;
    const current = repo.releases.find((x) => x.id === repo.latestId && !x.draft && !x.prerelease);
    if (makeLatest === 'legacy' && current) {
      try {
        if (compareVersions(r.tag, current.tag) < 0) return;
      } catch {
        // tags that are not versions: the newer release wins, as by creation date
      }
    }
    repo.latestId = r.id;
  }

  // --- JSON shapes, as the REST API documents them ---

  function assetJson(repo: MockRepo, release: MockRelease, a: MockAsset) {
    return {
      url: `${apiUrl}/repos/${repo.owner}/${repo.name}/releases/assets/${a.id}`,
      browser_download_url: `${apiUrl}/${repo.owner}/${repo.name}/releases/download/${release.tag}/${encodeURIComponent(a.name)}`,
      id: a.id,
      node_id: `RA_${a.id}`,
      name: a.name,
      label: a.label,
      state: a.state,
      content_type: a.contentType,
      size: a.content.length,
      digest: `sha256:${createHash('sha256').update(a.content).digest('hex')}`,
      download_count: a.downloadCount,
      created_at: a.createdAt,
      updated_at: a.createdAt,
      uploader: user(apiUrl, repo.owner, 1),
    };
  }

  function releaseJson(repo: MockRepo, r: MockRelease) {
    const base = `${apiUrl}/repos/${repo.owner}/${repo.name}`;
    return {
      url: `${base}/releases/${r.id}`,
      html_url: `${apiUrl}/${repo.owner}/${repo.name}/releases/tag/${r.tag}`,
      assets_url: `${base}/releases/${r.id}/assets`,
      upload_url: `${uploadsUrl}/repos/${repo.owner}/${repo.name}/releases/${r.id}/assets{?name,label}`,
      tarball_url: `${base}/tarball/${r.tag}`,
      zipball_url: `${base}/zipball/${r.tag}`,
      id: r.id,
      node_id: `RE_${r.id}`,
      tag_name: r.tag,
      target_commitish: r.targetCommitish,
      name: r.name,
      body: r.body,
      draft: r.draft,
      prerelease: r.prerelease,
      created_at: r.createdAt,
      published_at: r.publishedAt,
      author: user(apiUrl, repo.owner, 1),
      assets: r.assets.map((a) => assetJson(repo, r, a)),
    };
  }

  // --- request handling ---

  type Identity = { login: string; write: boolean } | null;

  function identify(req: IncomingMessage): Identity {
    const auth = req.headers.authorization;
    if (!auth) return null;
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(auth);
    const token = m?.[1];
    if (token && token === options.token) return { login: 'owner', write: true };
    if (token && token === options.readToken) return { login: 'reader', write: false };
    throw new HttpError(401, 'Bad credentials');
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const rewrite = rewriting.get(res);
    if (rewrite) {
      headers = { ...headers };
      rewrite.rewrite(body, headers);
    }
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
    if (err instanceof HttpError) {
      send(res, err.status, { message: err.message, documentation_url: err.docs, ...err.extra }, headers);
    } else {
      send(res, 500, { message: String(err), documentation_url: DOCS }, headers);
    }
  }

  function takeFailure<T extends Omit<MockFailure, 'status'> = MockFailure>(
    origin: Origin,
    req: IncomingMessage,
    list: T[] = failures as unknown as T[],
  ): T | undefined {
    const i = list.findIndex(
      (f) =>
        (!f.origin || f.origin === origin) &&
        (!f.method || f.method.toUpperCase() === req.method) &&
        (!f.path || f.path.test(req.url ?? '')),
    );
    if (i < 0) return undefined;
    const f = list[i];
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) list.splice(i, 1);
    return f;
  }

  function log(origin: Origin, req: IncomingMessage, res: ServerResponse): void {
    const entry: MockRequest = {
      origin,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: { ...req.headers },
      status: 0,
    };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
  }

  function rateHeaders(identity: Identity, count: boolean): Record<string, string> {
    const key = identity?.login ?? 'anonymous';
    const limit = options.rateLimit ?? (identity ? 5000 : 60);
    const nowS = Math.floor(Date.now() / 1000);
    let bucket = rate.get(key);
    if (!bucket || bucket.reset <= nowS) {
      bucket = { remaining: limit, reset: nowS + 3600 };
      rate.set(key, bucket);
    }
    if (forcedRate) bucket = forcedRate;
    if (bucket.remaining <= 0) {
      const headers = {
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-used': String(limit),
        'x-ratelimit-reset': String(bucket.reset),
        'x-ratelimit-resource': 'core',
      };
      throw Object.assign(
        new HttpError(
          403,
          `API rate limit exceeded for ${key}.`,
          {},
          'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        ),
        { headers },
      );
    }
    if (count) bucket.remaining -= 1;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(bucket.remaining),
      'x-ratelimit-used': String(limit - bucket.remaining),
      'x-ratelimit-reset': String(bucket.reset),
      'x-ratelimit-resource': 'core',
    };
  }

  function findRepo(owner: string, name: string, identity: Identity): MockRepo {
    const repo = repos.get(repoKey(owner, name));
    // GitHub answers 404, not 403, for a private repository the caller cannot see.
    if (!repo || (repo.private && !identity)) throw new HttpError(404, 'Not Found');
    return repo;
  }

  function needWrite(identity: Identity): void {
    if (!identity) throw new HttpError(401, 'Requires authentication');
    if (!identity.write) throw new HttpError(403, 'Resource not accessible by personal access token');
  }

  function findRelease(repo: MockRepo, id: number, identity: Identity): MockRelease {
    const r = repo.releases.find((x) => x.id === id);
    if (!r || (r.draft && !identity?.write)) throw new HttpError(404, 'Not Found');
    return r;
  }

  function findAsset(repo: MockRepo, id: number, identity: Identity) {
    for (const release of repo.releases) {
      if (release.draft && !identity?.write) continue;
      const asset = release.assets.find((a) => a.id === id);
      if (asset) return { release, asset };
    }
    throw new HttpError(404, 'Not Found');
  }

  function parseJsonBody(buf: Buffer): Record<string, unknown> {
    if (buf.length === 0) return {};
    try {
      const v = JSON.parse(buf.toString('utf8')) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through to the documented answer for unparsable bodies
    }
    throw new HttpError(400, 'Problems parsing JSON');
  }

  function paginate<T>(url: URL, items: T[]): T[] {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    return items.slice((page - 1) * perPage, page * perPage);
  }

  function resolveCommit(repo: MockRepo, ref: string): string | undefined {
    if (repo.commits.has(ref)) return ref;
    return repo.refs.get(`heads/${ref}`) ?? repo.refs.get(`tags/${ref}`) ?? repo.refs.get(ref);
  }

  function treeJson(repo: MockRepo, sha: string, recursive: boolean) {
    const base = `${apiUrl}/repos/${repo.owner}/${repo.name}/git`;
    const out: Record<string, unknown>[] = [];
    const walk = (treeSha: string, prefix: string) => {
      for (const e of repo.trees.get(treeSha) ?? []) {
        out.push({
          path: prefix + e.path,
          mode: e.mode,
          type: e.type,
          sha: e.sha,
          ...(e.type === 'blob' ? { size: e.size } : {}),
          url: `${base}/${e.type === 'blob' ? 'blobs' : 'trees'}/${e.sha}`,
        });
        if (recursive && e.type === 'tree') walk(e.sha, `${prefix}${e.path}/`);
      }
    };
    walk(sha, '');
    const limit = options.treeLimit ?? 100000;
    return { sha, url: `${base}/trees/${sha}`, tree: out.slice(0, limit), truncated: out.length > limit };
  }

  async function api(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', apiUrl);
    const method = req.method ?? 'GET';
    if (!url.pathname.startsWith(`${prefix}/`)) return sendError(res, new HttpError(404, 'Not Found'));
    const parts = url.pathname.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
    let extraHeaders: Record<string, string> = {};
    try {
      if (parts[0] === '_mock') return await admin(req, res, parts.slice(1));
      const identity = identify(req);
      const failure = takeFailure('api', req);
      if (failure) throw new HttpError(failure.status, 'Injected failure');
      const given = takeFailure('api', req, answers);
      if (given) return given.answer(req, res);

      // Public download URL: github.com/{o}/{r}/releases/download/{tag}/{name}.
      if (parts[2] === 'releases' && parts[3] === 'download' && parts.length === 6 && method === 'GET') {
        const repo = findRepo(parts[0], parts[1], null);
        const rel = repo.releases.find((r) => r.tag === parts[4] && !r.draft);
        const asset = rel?.assets.find((a) => a.name === parts[5] && a.state === 'uploaded');
        if (!asset) throw new HttpError(404, 'Not Found');
        res.writeHead(302, { location: signedUrl(asset) });
        return void res.end();
      }

      const isGet = method === 'GET' || method === 'HEAD';
      // GitHub waives a 304 only for a request "correctly authorized with an Authorization header":
      // an anonymous conditional request counts like any other.
      const free = isGet && Boolean(req.headers['if-none-match']) && identity !== null;
      const counted = !free;
      extraHeaders = rateHeaders(identity, counted);
      const result = await route(req, url, parts, method, identity);
      if (result.redirect) {
        res.writeHead(302, { location: result.redirect, ...extraHeaders });
        return void res.end();
      }
      if (result.raw) {
        res.writeHead(200, {
          'content-type': 'application/vnd.github.raw',
          'content-length': String(result.raw.length),
          ...extraHeaders,
        });
        return void res.end(result.raw);
      }
      if (result.body === undefined) return send(res, result.status, undefined, extraHeaders);
      const text = JSON.stringify(result.body);
      const etag = `W/"${createHash('sha256').update(text).digest('hex').slice(0, 40)}"`;
      if (isGet && req.headers['if-none-match'] === etag) {
        // An authorized 304 costs nothing against the limit (not counted above).
        res.writeHead(304, { etag, ...extraHeaders });
        return void res.end();
      }
      if (free) {
        // Conditional but stale: it is a full answer after all, so it counts.
        extraHeaders = rateHeaders(identity, true);
      }
      send(res, result.status, result.body, { ...(isGet ? { etag } : {}), ...extraHeaders });
    } catch (err) {
      const h = (err as { headers?: Record<string, string> }).headers ?? extraHeaders;
      sendError(res, err, h);
    }
  }

  async function route(
    req: IncomingMessage,
    url: URL,
    p: string[],
    method: string,
    identity: Identity,
  ): Promise<{ status: number; body?: unknown; raw?: Buffer; redirect?: string }> {
    if (p[0] === 'rate_limit' && p.length === 1) {
      const h = rateHeaders(identity, false);
      const core = {
        limit: Number(h['x-ratelimit-limit']),
        remaining: Number(h['x-ratelimit-remaining']),
        reset: Number(h['x-ratelimit-reset']),
        used: Number(h['x-ratelimit-used']),
      };
      return { status: 200, body: { resources: { core, search: core }, rate: core } };
    }
    if (p[0] !== 'repos' || p.length < 3) throw new HttpError(404, 'Not Found');
    const repo = findRepo(p[1], p[2], identity);
    const rest = p.slice(3);
    const json = async () => parseJsonBody(await readBody(req));

    if (rest[0] === 'releases') {
      if (rest.length === 1 && method === 'GET') {
        const visible = [...repo.releases].reverse().filter((r) => !r.draft || identity?.write);
        return { status: 200, body: paginate(url, visible).map((r) => releaseJson(repo, r)) };
      }
      if (rest.length === 1 && method === 'POST') {
        needWrite(identity);
        const b = await json();
        const tag = b.tag_name;
        if (typeof tag !== 'string' || !tag)
          throw new HttpError(422, 'Validation Failed', {
            errors: [{ resource: 'Release', code: 'missing_field', field: 'tag_name' }],
          });
        if (repo.releases.some((r) => r.tag === tag && !r.draft))
          throw new HttpError(422, 'Validation Failed', {
            errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }],
          });
        const now = new Date().toISOString();
        const draft = b.draft === true;
        const r: MockRelease = {
          id: nextId++,
          tag,
          name: typeof b.name === 'string' ? b.name : tag,
          body: typeof b.body === 'string' ? b.body : '',
          draft,
          prerelease: b.prerelease === true,
          targetCommitish: typeof b.target_commitish === 'string' ? b.target_commitish : repo.defaultBranch,
          createdAt: now,
          publishedAt: draft ? null : now,
          assets: [],
        };
        repo.releases.push(r);
        if (!draft) markLatest(repo, r, b.make_latest);
        return { status: 201, body: releaseJson(repo, r) };
      }
      if (rest[1] === 'latest' && rest.length === 2 && method === 'GET') {
        const latest = latestOf(repo);
        if (!latest) throw new HttpError(404, 'Not Found');
        return { status: 200, body: releaseJson(repo, latest) };
      }
      if (rest[1] === 'tags' && rest.length === 3 && method === 'GET') {
        const r = repo.releases.find((x) => x.tag === rest[2] && !x.draft);
        if (!r) throw new HttpError(404, 'Not Found');
        return { status: 200, body: releaseJson(repo, r) };
      }
      if (rest[1] === 'assets' && rest.length === 3) {
        const { release, asset } = findAsset(repo, Number(rest[2]), identity);
        if (method === 'GET') {
          if ((req.headers.accept ?? '').includes('application/octet-stream')) {
            return { status: 302, redirect: signedUrl(asset) };
          }
          return { status: 200, body: assetJson(repo, release, asset) };
        }
        if (method === 'DELETE') {
          needWrite(identity);
          release.assets.splice(release.assets.indexOf(asset), 1);
          return { status: 204 };
        }
      }
      const id = Number(rest[1]);
      if (Number.isInteger(id) && rest.length === 2) {
        const r = findRelease(repo, id, identity);
        if (method === 'GET') return { status: 200, body: releaseJson(repo, r) };
        if (method === 'PATCH') {
          needWrite(identity);
          const b = await json();
          if (typeof b.tag_name === 'string') r.tag = b.tag_name;
          if (typeof b.name === 'string') r.name = b.name;
          if (typeof b.body === 'string') r.body = b.body;
          if (typeof b.prerelease === 'boolean') r.prerelease = b.prerelease;
          if (b.draft === false && r.draft) {
            if (repo.releases.some((x) => x !== r && x.tag === r.tag && !x.draft))
              throw new HttpError(422, 'Validation Failed', {
                errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }],
              });
            r.draft = false;
            markLatest(repo, r, b.make_latest);
            r.publishedAt = new Date().toISOString();
            if (!repo.refs.has(`tags/${r.tag}`)) {
              const head = repo.refs.get(`heads/${r.targetCommitish}`);
              if (head) repo.refs.set(`tags/${r.tag}`, head);
            }
          }
          return { status: 200, body: releaseJson(repo, r) };
        }
        if (method === 'DELETE') {
          needWrite(identity);
          repo.releases.splice(repo.releases.indexOf(r), 1);
          return { status: 204 };
        }
      }
      if (Number.isInteger(id) && rest[2] === 'assets' && rest.length === 3 && method === 'GET') {
        const r = findRelease(repo, id, identity);
        const list = r.assets; // half uploads (state "open") included, as GitHub lists them
        return { status: 200, body: paginate(url, list).map((a) => assetJson(repo, r, a)) };
      }
    }

    if (rest[0] === 'git' && method === 'GET') {
      if ((rest[1] === 'ref' || rest[1] === 'refs') && rest.length >= 3) {
        const ref = rest.slice(2).join('/');
        const sha = repo.refs.get(ref);
        if (!sha) throw new HttpError(404, 'Not Found');
        return {
          status: 200,
          body: {
            ref: `refs/${ref}`,
            node_id: `REF_${sha.slice(0, 8)}`,
            url: `${apiUrl}/repos/${repo.owner}/${repo.name}/git/refs/${ref}`,
            object: {
              type: 'commit',
              sha,
              url: `${apiUrl}/repos/${repo.owner}/${repo.name}/git/commits/${sha}`,
            },
          },
        };
      }
      if (rest[1] === 'trees' && rest.length >= 3) {
        const ref = rest.slice(2).join('/');
        const commit = resolveCommit(repo, ref);
        const sha = commit ? repo.commits.get(commit)!.tree : ref;
        if (!repo.trees.has(sha)) throw new HttpError(404, 'Not Found');
        const recursive = url.searchParams.has('recursive');
        return { status: 200, body: treeJson(repo, sha, recursive) };
      }
      if (rest[1] === 'blobs' && rest.length === 3) {
        const blob = repo.blobs.get(rest[2]);
        if (!blob) throw new HttpError(404, 'Not Found');
        if ((req.headers.accept ?? '').includes('application/vnd.github.raw')) {
          return { status: 200, raw: blob };
        }
        return {
          status: 200,
          body: {
            sha: rest[2],
            node_id: `B_${rest[2].slice(0, 8)}`,
            size: blob.length,
            url: `${apiUrl}/repos/${repo.owner}/${repo.name}/git/blobs/${rest[2]}`,
            content: blob.toString('base64'),
            encoding: 'base64',
          },
        };
      }
      if (rest[1] === 'commits' && rest.length === 3) {
        const c = repo.commits.get(rest[2]);
        if (!c) throw new HttpError(404, 'Not Found');
        const base = `${apiUrl}/repos/${repo.owner}/${repo.name}/git`;
        const who = { name: 'Mock', email: 'mock@example.com', date: '2023-11-14T22:13:20Z' };
        return {
          status: 200,
          body: {
            sha: rest[2],
            node_id: `C_${rest[2].slice(0, 8)}`,
            url: `${base}/commits/${rest[2]}`,
            html_url: `${apiUrl}/${repo.owner}/${repo.name}/commit/${rest[2]}`,
            author: who,
            committer: who,
            message: c.message,
            tree: { sha: c.tree, url: `${base}/trees/${c.tree}` },
            parents: [],
            verification: {
              verified: false,
              reason: 'unsigned',
              signature: null,
              payload: null,
              verified_at: null,
            },
          },
        };
      }
    }
    throw new HttpError(404, 'Not Found');
  }

  function latestOf(repo: MockRepo): MockRelease | undefined {
    const stable = (r: MockRelease) => !r.draft && !r.prerelease;
    const marked = repo.releases.find((r) => r.id === repo.latestId && stable(r));
    return marked ?? [...repo.releases].reverse().find(stable);
  }

  // github.com's release pages and download links, as an anonymous browser (or board) sees them.
  function web(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', webUrl);
    const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const page = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    const failure = takeFailure('web', req);
    if (failure) return page(failure.status, 'Injected failure');
    const repo = repos.get(repoKey(p[0] ?? '', p[1] ?? ''));
    if (!repo || repo.private || p[2] !== 'releases' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return page(404, 'Not Found');
    }
    const base = `${webUrl}/${repo.owner}/${repo.name}/releases`;
    const published = (tag: string) => repo.releases.find((r) => r.tag === tag && !r.draft);
    const assetOf = (rel: MockRelease | undefined, name: string) =>
      rel?.assets.find((a) => a.name === name && a.state === 'uploaded');
    const redirect = (asset: MockAsset | undefined) =>
      asset ? page(302, '', { location: signedUrl(asset) }) : page(404, 'Not Found');
    if (p[3] === 'latest' && p.length === 4) {
      const latest = latestOf(repo);
      return page(302, '', { location: latest ? `${base}/tag/${encodeURIComponent(latest.tag)}` : base });
    }
    if (p[3] === 'latest' && p[4] === 'download' && p.length === 6)
      return redirect(assetOf(latestOf(repo), p[5]));
    if (p[3] === 'download' && p.length === 6) return redirect(assetOf(published(p[4]), p[5]));
    if (p[3] === 'tag' && p.length === 5 && published(p[4])) return page(200, `<title>${p[4]}</title>`);
    if (p.length === 3) return page(200, '<title>Releases</title>');
    return page(404, 'Not Found');
  }

  function signedUrl(asset: MockAsset): string {
    const token = createHash('sha256').update(`${asset.id}:${Math.random()}`).digest('hex').slice(0, 32);
    signed.set(token, asset);
    return `${downloadsUrl}/github-production-release-asset/${asset.id}?X-Amz-Signature=${token}`;
  }

  async function admin(req: IncomingMessage, res: ServerResponse, p: string[]): Promise<void> {
    const method = req.method ?? 'GET';
    if (p[0] === 'state' && method === 'GET') {
      const rs = [...repos.values()].map((r) => ({
        owner: r.owner,
        name: r.name,
        private: r.private,
        releases: r.releases
          .map((x) => releaseJson(r, x))
          .map((x, i) => ({ ...x, draft: r.releases[i].draft })),
      }));
      return send(res, 200, { repos: rs, requests });
    }
    if (p[0] === 'repos' && p.length === 3 && method === 'POST') {
      const b = parseJsonBody(await readBody(req));
      addRepo(p[1], p[2], { private: b.private === true });
      return send(res, 201, { ok: true });
    }
    if (p[0] === 'repos' && p[3] === 'branches' && p.length === 5 && method === 'PUT') {
      const b = parseJsonBody(await readBody(req));
      const files = (b.files as { path: string; base64: string }[] | undefined) ?? [];
      const sha = setBranch(
        p[1],
        p[2],
        p[4],
        files.map((f) => ({ path: f.path, content: Buffer.from(f.base64, 'base64') })),
      );
      return send(res, 200, { sha });
    }
    throw new HttpError(404, 'Not Found');
  }

  async function uploads(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', uploadsUrl);
      const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const identity = identify(req);
      if (!(
        p[0] === 'repos' &&
        p[3] === 'releases' &&
        p[5] === 'assets' &&
        p.length === 6 &&
        req.method === 'POST'
      ))
        throw new HttpError(404, 'Not Found');
      const repo = findRepo(p[1], p[2], identity);
      needWrite(identity);
      const release = findRelease(repo, Number(p[4]), identity);
      const name = url.searchParams.get('name');
      if (!name)
        throw new HttpError(422, 'Validation Failed', {
          errors: [{ resource: 'ReleaseAsset', code: 'missing_field', field: 'name' }],
        });
      const contentType = req.headers['content-type'];
      if (!contentType)
        throw new HttpError(422, 'Validation Failed', {
          errors: [{ resource: 'ReleaseAsset', code: 'missing_field', field: 'content_type' }],
        });
      if (release.assets.some((a) => a.name === name))
        throw new HttpError(422, 'Validation Failed', {
          errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }],
        });
      const failure = takeFailure('uploads', req);
      const body = await readBody(req);
      if (options.uploadLatencyMs) await new Promise((r) => setTimeout(r, options.uploadLatencyMs));
      const asset: MockAsset = {
        id: nextId++,
        name,
        label: url.searchParams.get('label'),
        contentType,
        content: body,
        state: 'uploaded',
        downloadCount: 0,
        createdAt: new Date().toISOString(),
      };
      if (failure) {
        // What GitHub does on a failed upload: a half asset stays behind and blocks the name. Real
        // answers have shown "starter"; the OpenAPI description documents "uploaded" | "open".
        asset.state = 'open';
        asset.content = body.subarray(0, body.length >> 1);
        release.assets.push(asset);
        throw new HttpError(failure.status, 'Injected failure');
      }
      release.assets.push(asset);
      send(res, 201, assetJson(repo, release, asset));
    } catch (err) {
      sendError(res, err);
    }
  }

  function downloads(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', downloadsUrl);
    const failure = takeFailure('downloads', req);
    const xml = (status: number, code: string, message: string) => {
      const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(text.length) });
      res.end(text);
    };
    if (failure) return xml(failure.status, 'InternalError', 'Injected failure');
    // The storage host already has a credential in the signed URL and refuses a second one.
    if (req.headers.authorization)
      return xml(
        400,
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      );
    const asset = signed.get(url.searchParams.get('X-Amz-Signature') ?? '');
    if (!asset || !url.pathname.endsWith(`/${asset.id}`))
      return xml(403, 'AccessDenied', 'Request has expired');
    asset.downloadCount += 1;
    const body = asset.content;
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : body.length - 1, body.length - 1);
      if (start > end) return xml(416, 'InvalidRange', 'The requested range is not satisfiable');
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/${body.length}`,
      });
      return void res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  apiServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    log('api', req, res);
    const rewrite = takeFailure('api', req, rewrites);
    if (rewrite) rewriting.set(res, rewrite);
    void api(req, res);
  });
  uploadServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    log('uploads', req, res);
    const rewrite = takeFailure('uploads', req, rewrites);
    if (rewrite) rewriting.set(res, rewrite);
    void uploads(req, res);
  });
  downloadServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    log('downloads', req, res);
    downloads(req, res);
  });

  webServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    log('web', req, res);
    web(req, res);
  });

  async function close(): Promise<void> {
    await Promise.all(
      [apiServer, uploadServer, downloadServer, webServer].map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  return {
    apiUrl,
    uploadsUrl,
    downloadsUrl,
    webUrl,
    state: { repos, requests },
    addRepo,
    setBranch,
    setTag: (owner, name, tag, files) => commitRef(owner, name, `tags/${tag}`, files),
    addRelease,
    failNext: (f) => failures.push({ ...f }),
    answerNext: (a) => answers.push({ ...a }),
    rewriteNext: (r) => rewrites.push({ ...r }),
    setRateLimit: (remaining, reset) => {
      forcedRate = { remaining, reset: reset ?? Math.floor(Date.now() / 1000) + 3600 };
    },
    reset: () => {
      repos.clear();
      requests.length = 0;
      failures.length = 0;
      answers.length = 0;
      rewrites.length = 0;
      rate.clear();
      forcedRate = undefined;
    },
    close,
  };
}

async function standalone(): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      token: { type: 'string' },
      private: { type: 'boolean' },
      repo: { type: 'string', multiple: true },
    },
  });
  const gh = await startGitHubMock({
    port: values.port ? Number(values.port) : undefined,
    token: values.token,
    private: values.private,
  });
  for (const full of values.repo ?? []) {
    const [owner, name] = full.split('/');
    gh.addRepo(owner, name);
  }
  console.log(
    JSON.stringify({
      apiUrl: gh.apiUrl,
      uploadsUrl: gh.uploadsUrl,
      downloadsUrl: gh.downloadsUrl,
      webUrl: gh.webUrl,
    }),
  );
  process.on('SIGTERM', () => void gh.close().then(() => process.exit(0)));
}

if (require.main === module) void standalone();
