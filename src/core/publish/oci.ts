/**
 * OCI registries (ghcr.io, Harbor, Docker Hub, the CNCF distribution registry) as a release store:
 * the few calls of the OCI distribution spec, with Node's fetch. There is no maintained JavaScript
 * ORAS client on npm, and the calls are small (docs/protocols.md, "OCI registries").
 *
 *   parseRef("ghcr.io/owner/app:1.0.0") -> OciRef          // registry, repository, tag, plain HTTP?
 *   resolveCredentials(registry, { user?, password?, env?, home? }) -> Credentials | undefined
 *     (callers go through registry-login.ts registryCredentials, the one order for every command)
 *   publishOci({ dir, ref, devices?, credentials?, force?, prerelease?, mountFrom?, ... })
 *     -> Promise<OciPublishResult>
 *   listOciTags({ ref, credentials?, fetch? }) -> Promise<OciTagInfo[]>   // tags, channels marked
 *   ociChannels({ ref, credentials?, fetch? }) -> Promise<ReleaseStatus>  // the Releases view's channels
 *   fetchOciRelease({ ref, credentials?, fetch? }) -> Promise<OciRelease>  // manifest bytes, signature
 *   boardManifest(manifest, signature?, version) -> Buffer   // what `<tag>.board` holds
 *
 * A release is one ORAS-style artifact: an image manifest with artifactType RELEASE_TYPE, the empty
 * config, the version annotation, then layers (annotation org.opencontainers.image.title = the
 * name): manifest.json, manifest.json.sig, one per file, the bundle and the firmware image. Layer digests are the files'
 * SHA-256, so a blob the registry already holds (HEAD) or can mount from another repository is not
 * uploaded again. Tags: the version, then the channel (`stable`, or `beta` for a prerelease), moved
 * only forward, each with its `<tag>.board` partner (BOARD_SUFFIX). Errors are OtaErrors: bad-ref, credentials-missing, auth-failed, denied,
 * repo-not-found, tag-exists, network, registry-error, upload-failed.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialScope, refuseCleartext } from '../credential-origins';
import { isLoopbackHost } from '../local-host';
import { OtaError } from '../errors';
import { collectPages, Listing, LISTINGS, MAX_DOCUMENT, readBounded } from '../pages';
import type { Manifest } from '../manifest-types';
import type { TrustEntry } from '../keys';
import { networkReason, type ReleaseEntry, type ReleaseStatus } from '../release-channels';
import { verifySignature } from '../sign';
import { compareVersions, parseVersion } from '../version';
import { expandDevices } from './device-ref';
import { prepareRelease, type PrepareOptions } from './prepare';

export const RELEASE_TYPE = 'application/vnd.micropython-ota.release.v1+json';
export const MANIFEST_MEDIA = 'application/vnd.oci.image.manifest.v1+json';
export const EMPTY_MEDIA = 'application/vnd.oci.empty.v1+json';
export const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
export const TITLE = 'org.opencontainers.image.title';
export const VERSION = 'org.opencontainers.image.version';
export const LAYER_MEDIA = {
  file: 'application/vnd.micropython-ota.file.v1',
  manifest: 'application/vnd.micropython-ota.manifest.v1+json',
  signature: 'application/vnd.micropython-ota.signature.v1+json',
  bundle: 'application/vnd.micropython-ota.bundle.v1.tar+gzip',
  firmware: 'application/vnd.micropython-ota.firmware.v1',
} as const;

/**
 * Beside every tag it pushes (the version, the channel, a tag in the reference), the publisher puts a
 * small manifest under `<tag>.board`: the one a board reads. Its config is manifest.json (digest and
 * size), its one layer the signature; its version and both documents' bytes ride inline
 * (boardManifest). The board needs nothing else from the registry: every other blob it takes
 * by the SHA-256 the signed manifest.json names. The full artifact stays what oras and skopeo see
 * (docs/protocols.md, "OCI registries").
 */
export const BOARD_SUFFIX = '.board';
/** A signature up to this size rides inline (the board reads it to RAM). */
export const INLINE_SIGNATURE = 4096;
/**
 * A manifest.json up to this size rides inline. A board reads a whole `.board` whenever its tag moves
 * (or its ETag goes stale) even with nothing to install, so a huge manifest.json stays a blob.
 */
export const INLINE_MANIFEST = 256 * 1024;

export function boardTag(tag: string): string {
  return `${tag}${BOARD_SUFFIX}`;
}

export interface OciRef {
  /** host[:port] as written (docker.io becomes registry-1.docker.io). */
  registry: string;
  repository: string;
  tag?: string;
  /** http:// instead of https:// (given explicitly, or a loopback registry). */
  plainHttp: boolean;
}

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages (never the secret). */
  from: string;
}

const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** "[http(s)://]host[:port]/repo/path[:tag]"; `{device}` placeholders must be expanded first. */
export function parseRef(ref: string): OciRef {
  const bad = (why: string) =>
    new OtaError('bad_ref', `reference ${JSON.stringify(ref)} ${why} (expected host/repository[:tag])`);
  let rest = ref ?? '';
  let scheme: string | undefined;
  const m = /^(https?):\/\//.exec(rest);
  if (m) {
    scheme = m[1];
    rest = rest.slice(m[0].length);
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) throw bad('has no registry host');
  let registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(registry) && !/^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(registry)) {
    throw bad('has a bad registry host');
  }
  if (!registry.includes('.') && !registry.includes(':') && registry !== 'localhost') {
    throw bad(`starts with "${registry}", which is not a registry host`);
  }
  if (path.includes('@')) throw bad('names a digest: name a tag instead');
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(`has a bad tag "${tag}"`);
    if (!TAG_RE.test(boardTag(tag))) throw bad(`has a tag too long for its ${BOARD_SUFFIX} partner`);
    if (tag.endsWith(BOARD_SUFFIX)) throw bad(`names a ${BOARD_SUFFIX} tag: name the release's own tag`);
  }
  if (path.includes('{') || path.includes('}')) throw bad('has an unexpanded placeholder');
  if (!REPO_RE.test(path)) throw bad('has a bad repository name (lowercase letters, digits, . _ - and /)');
  if (registry === 'docker.io' || registry === 'index.docker.io') {
    registry = 'registry-1.docker.io';
    if (!path.includes('/')) path = `library/${path}`;
  }
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  return { registry, repository: path, tag, plainHttp: scheme ? scheme === 'http' : loopback };
}

export function formatRef(r: OciRef, tag = r.tag): string {
  return `${r.registry}/${r.repository}${tag ? `:${tag}` : ''}`;
}

// `{device}` references: one rule with Publish Release and the Releases view (device-ref.ts).
export { expandDevices };

function baseUrl(r: OciRef): string {
  return `${r.plainHttp ? 'http' : 'https'}://${r.registry}`;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/**
 * Asks a docker credential helper (`docker-credential-<name> get`, the registry on stdin), as docker,
 * oras and skopeo do: Docker Desktop keeps every login in one (osxkeychain, wincred, desktop).
 */
async function fromHelper(
  name: string,
  registry: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return undefined;
  const { execFile } = await import('node:child_process');
  for (const server of authKeys(registry)) {
    const out = await new Promise<string | undefined>((resolve) => {
      const child = execFile(`docker-credential-${name}`, ['get'], { env, timeout: 10_000 }, (err, stdout) =>
        resolve(err ? undefined : stdout),
      );
      child.stdin?.end(server);
    });
    if (!out) continue;
    try {
      const c = JSON.parse(out) as { Username?: string; Secret?: string };
      if (c.Secret) {
        // "<token>" as the user name marks an identity token, which only the OAuth2 flow takes.
        if (c.Username === '<token>') continue;
        return { username: c.Username ?? 'ota', password: c.Secret, from: `docker-credential-${name}` };
      }
    } catch {
      // not JSON: no credentials there
    }
  }
  return undefined;
}

/** The auth files oras, skopeo, docker and podman read, in their order. */
function authFiles(env: NodeJS.ProcessEnv, home: string): string[] {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  files.push(join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'));
  return files;
}

function authKeys(registry: string): string[] {
  const keys = [
    registry,
    `https://${registry}`,
    `http://${registry}`,
    `https://${registry}/v1/`,
    `https://${registry}/v2/`,
  ];
  if (registry === 'registry-1.docker.io')
    keys.push('docker.io', 'index.docker.io', 'https://index.docker.io/v1/');
  return keys;
}

/**
 * Credentials for a registry: --user/--password, then OTA_REGISTRY_TOKEN (a password or token, with
 * --user or OTA_REGISTRY_USER as the name), GITHUB_TOKEN for ghcr.io, then the docker/podman auth
 * files' `auths` entries, or the credential helper they name. Read only; nothing is ever written.
 */
export async function resolveCredentials(
  registry: string,
  opts: { user?: string; password?: string; env?: NodeJS.ProcessEnv; home?: string } = {},
): Promise<Credentials | undefined> {
  const env = opts.env ?? process.env;
  if (opts.password !== undefined || opts.user !== undefined) {
    if (!opts.user || opts.password === undefined) {
      throw new OtaError('bad_option', '--user and --password go together');
    }
    return { username: opts.user, password: opts.password, from: '--user/--password' };
  }
  if (env.OTA_REGISTRY_TOKEN) {
    return {
      username: env.OTA_REGISTRY_USER ?? 'ota',
      password: env.OTA_REGISTRY_TOKEN,
      from: 'OTA_REGISTRY_TOKEN',
    };
  }
  if (registry === 'ghcr.io' && env.GITHUB_TOKEN) {
    // ghcr.io takes any user name with a token that has packages:write (or read).
    return { username: env.GITHUB_ACTOR ?? 'ota', password: env.GITHUB_TOKEN, from: 'GITHUB_TOKEN' };
  }
  for (const file of authFiles(env, opts.home ?? homedir())) {
    let doc: AuthFile;
    try {
      doc = JSON.parse(await readFile(file, 'utf8')) as AuthFile;
    } catch {
      continue; // absent or unreadable: the next one
    }
    for (const key of authKeys(registry)) {
      const e = doc.auths?.[key];
      if (!e) continue;
      if (e.auth) {
        const plain = Buffer.from(e.auth, 'base64').toString('utf8');
        const i = plain.indexOf(':');
        if (i > 0) return { username: plain.slice(0, i), password: plain.slice(i + 1), from: file };
      }
      if (e.username && e.password) return { username: e.username, password: e.password, from: file };
    }
    const helper = doc.credHelpers?.[registry] ?? doc.credsStore;
    if (helper) {
      const c = await fromHelper(helper, registry, env);
      if (c) return c;
    }
  }
  return undefined;
}

/** The key="value" parameters of a WWW-Authenticate challenge. */
export function parseChallenge(h: string): { scheme: string; params: Record<string, string> } {
  const sp = h.indexOf(' ');
  const scheme = (sp < 0 ? h : h.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)="([^"]*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(sp < 0 ? '' : h.slice(sp + 1)))) params[m[1].toLowerCase()] = m[2];
  return { scheme, params };
}

export interface ClientOptions {
  credentials?: Credentials;
  fetch?: typeof fetch;
  /** Attempts after a network error, 429 or 5xx (default 3). */
  retries?: number;
  retryDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One registry, with the distribution token flow: a 401 names Basic (credentials sent as they are)
 * or Bearer (a token fetched from the realm for the scopes, anonymously when there are no
 * credentials). Redirects are followed by hand, and Authorization goes to the registry's origin only;
 * credentials cross the network over https:// only (docs/protocols.md, "Where the host sends credentials").
 */
export class RegistryClient {
  private auth?: string;
  private readonly base: string;
  /** The registry's own origin: the only one its credentials and tokens go to (core/credential-origins.ts). */
  readonly scope: CredentialScope;
  private readonly f: typeof fetch;
  readonly retries: number;
  readonly retryDelayMs: number;

  constructor(
    readonly registry: OciRef,
    readonly scopes: string[],
    private readonly opts: ClientOptions = {},
  ) {
    this.base = baseUrl(registry);
    this.scope = new CredentialScope(`the credentials for ${registry.registry}`, [this.base]);
    this.f = opts.fetch ?? fetch;
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 500;
  }

  get what(): string {
    return this.registry.registry;
  }

  url(path: string): string {
    return path.startsWith('http://') || path.startsWith('https://') ? path : `${this.base}${path}`;
  }

  /** One request (no retry), with authentication as the registry asks. */
  async send(
    method: string,
    path: string,
    init: {
      headers?: Record<string, string>;
      body?: () => Buffer | ReadableStream<Uint8Array>;
      length?: number;
    } = {},
  ): Promise<Response> {
    let url = this.url(path);
    // One login per request: the first 401, or a token that ran out during a long publish.
    let loggedIn = false;
    for (let round = 0; ; round++) {
      const res = await this.hop(method, url, init);
      // A 401 from where a redirect led (blob storage, another host) gets no login: the registry's
      // credentials would go to a token service that host names.
      if (res.status === 401 && !this.scope.allows(url)) {
        await res.body?.cancel();
        throw new OtaError(
          'auth_failed',
          `${this.what} redirected to ${new URL(url).origin}, which asks for credentials: none sent`,
        );
      }
      if (res.status === 401 && !loggedIn) {
        const challenge = res.headers.get('www-authenticate');
        await res.body?.cancel();
        if (!challenge) throw this.authError(false);
        await this.login(challenge);
        loggedIn = true;
        continue;
      }
      if (res.status === 401) {
        const challenge = res.headers.get('www-authenticate') ?? '';
        await res.body?.cancel();
        // A token that authenticates but does not grant the scope (read-only account, another owner).
        if (this.opts.credentials && /error="insufficient_scope"/.test(challenge)) {
          throw new OtaError(
            'denied',
            `${this.what} denied ${this.scopes.join(' ')} to the credentials from ${this.opts.credentials.from}`,
          );
        }
        throw this.authError(true);
      }
      if ((method === 'GET' || method === 'HEAD') && [301, 302, 303, 307, 308].includes(res.status)) {
        const loc = res.headers.get('location');
        await res.body?.cancel();
        if (!loc || round > 5) throw new OtaError('registry_error', `${this.what}: a redirect without end`);
        url = new URL(loc, url).href;
        continue;
      }
      return res;
    }
  }

  private async hop(
    method: string,
    url: string,
    init: {
      headers?: Record<string, string>;
      body?: () => Buffer | ReadableStream<Uint8Array>;
      length?: number;
    },
  ): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'micropython-ota', ...init.headers };
    // The token is the registry's; blob storage a redirect points to gets none.
    if (this.auth && this.scope.allows(url)) headers.authorization = this.auth;
    const body = init.body?.();
    try {
      return await this.f(url, {
        method,
        headers,
        body,
        redirect: 'manual',
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      throw new OtaError(
        'network',
        `cannot reach ${this.what} (${(err as Error).cause ?? (err as Error).message})`,
        {
          cause: err,
        },
      );
    }
  }

  private authError(tried: boolean): OtaError {
    const c = this.opts.credentials;
    if (!c) {
      return new OtaError(
        'credentials_missing',
        `${this.what} asks for credentials: pass --user/--password, set OTA_REGISTRY_TOKEN` +
          (this.what === 'ghcr.io' ? ' or GITHUB_TOKEN' : '') +
          ', or log in with docker/podman',
      );
    }
    return new OtaError(
      'auth_failed',
      `${this.what} refused the credentials from ${c.from}${tried ? ' for ' + this.scopes.join(' ') : ''}`,
    );
  }

  private async login(challenge: string): Promise<void> {
    const c = this.opts.credentials;
    const { scheme, params } = parseChallenge(challenge);
    const basic = c ? 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64') : undefined;
    if (scheme === 'basic') {
      if (!basic) throw this.authError(false);
      refuseCleartext(this.base, `the credentials from ${c!.from}`);
      this.auth = basic;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) {
      throw new OtaError(
        'registry_error',
        `${this.what}: unknown authentication "${challenge.slice(0, 60)}"`,
      );
    }
    let u: URL;
    try {
      u = new URL(params.realm);
    } catch {
      throw new OtaError('registry_error', `${this.what} names a token service that is not a URL`);
    }
    if (basic) {
      // The realm is the registry's word: trusted as its token service (Docker Hub's is another host)
      // only when the registry spoke over TLS or from this machine; credentials then go to it over
      // TLS or on this machine only, as the board's do (docs/protocols.md "Where the host sends credentials").
      refuseCleartext(this.base, `the credentials from ${c!.from} (for the token service ${u.origin})`);
      const where = `the credentials from ${c!.from} (for the token service ${this.what} names)`;
      refuseCleartext(u, where);
      // http:// to this machine only when the registry is on it too (the tests' and a local registry).
      if (u.protocol !== 'https:' && !isLoopbackHost(new URL(this.base).hostname)) {
        throw new OtaError(
          'token_unverified',
          `${where}: ${u.origin} is http://, named by a registry elsewhere: not sent`,
        );
      }
    }
    if (params.service) u.searchParams.set('service', params.service);
    for (const s of this.scopes) u.searchParams.append('scope', s);
    let res: Response;
    try {
      res = await this.f(u, { headers: basic ? { authorization: basic } : {}, redirect: 'error' });
    } catch (err) {
      throw new OtaError('network', `cannot reach ${u.origin} for a token (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.authError(true);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new OtaError('registry_error', `${u.origin} answered ${res.status} for a token`);
    }
    const bytes = await readBounded(res, `the token from ${u.origin}`);
    let doc: { token?: string; access_token?: string } = {};
    try {
      doc = (JSON.parse(bytes.toString('utf8')) as typeof doc | null) ?? {};
    } catch {
      // no token in it: said below
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new OtaError('registry_error', `${u.origin} gave no token`);
    this.auth = `Bearer ${token}`;
  }

  /** A request retried after network errors, 429 and 5xx. */
  async request(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: () => Buffer | ReadableStream<Uint8Array> } = {},
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      let err: unknown;
      try {
        res = await this.send(method, path, init);
      } catch (e) {
        err = e;
      }
      const transient = res
        ? res.status === 429 || res.status >= 500
        : err instanceof OtaError && err.code === 'network';
      if (!transient || attempt >= this.retries) {
        if (err) throw err;
        return res!;
      }
      await res?.body?.cancel();
      await sleep(this.retryDelayMs * 2 ** attempt);
    }
  }

  /** An OtaError for an unexpected answer. */
  async fail(res: Response, what: string): Promise<OtaError> {
    // Only the start is shown: a longer error page is not read on.
    const text = await readBounded(res, what, 64 * 1024).then(
      (b) => b.toString('utf8'),
      () => '',
    );
    let detail = text.slice(0, 200);
    try {
      const e = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
      if (e) detail = `${e.code ?? ''} ${e.message ?? ''}`.trim();
    } catch {
      // not JSON: the text itself
    }
    if (res.status === 403) return new OtaError('denied', `${what}: ${this.what} denied it (${detail})`);
    if (res.status === 404 && /NAME_UNKNOWN/.test(detail)) {
      return new OtaError(
        'repo_not_found',
        `${what}: no repository ${this.registry.repository} on ${this.what}`,
      );
    }
    return new OtaError('registry_error', `${what}: ${this.what} answered ${res.status} ${detail}`);
  }
}

export interface OciPublishProgress {
  phase: 'prepare' | 'check' | 'upload' | 'tag';
  /** Blob being uploaded (phase "upload"). */
  asset?: string;
  done: number;
  total: number;
}

export interface OciPublishOptions extends Omit<PrepareOptions, 'bundleDir'> {
  /** host/repo[:tag]; `{device}` expanded once per entry of `devices`. The tag, when given, is pushed too. */
  ref: string;
  devices?: string[];
  credentials?: Credentials;
  prerelease?: boolean;
  force?: boolean;
  /** Another repository on the same registry to mount blobs from. */
  mountFrom?: string;
  concurrency?: number;
  retries?: number;
  retryDelayMs?: number;
  onProgress?: (p: OciPublishProgress) => void;
  fetch?: typeof fetch;
}

export interface OciPushed {
  ref: string;
  digest: string;
  tags: string[];
  /** Blobs sent over the network, by title. */
  sent: string[];
  uploaded: number;
  uploadedBytes: number;
  /** Blobs the registry had already, or mounted from another repository. */
  present: number;
  mounted: number;
  replaced: boolean;
}

export interface OciPublishResult {
  version: string;
  prerelease: boolean;
  signed: boolean;
  /** The release's layers: title, digest and size. */
  layers: { title: string; digest: string; size: number }[];
  pushed: OciPushed[];
}

interface Blob {
  title: string;
  mediaType: string;
  digest: string;
  size: number;
  source: string | Buffer;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

/** The artifact manifest for these layers: the exact bytes pushed. */
export function artifactManifest(blobs: Omit<Blob, 'source'>[], version: string, created: string): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA,
    artifactType: RELEASE_TYPE,
    config: { mediaType: EMPTY_MEDIA, digest: EMPTY_DIGEST, size: 2, data: 'e30=' },
    // The version and the manifest.json(.sig) layers come first: a board stops reading there.
    annotations: { [VERSION]: version, 'org.opencontainers.image.created': created },
    layers: blobs.map((b) => ({
      mediaType: b.mediaType,
      digest: b.digest,
      size: b.size,
      annotations: { [TITLE]: b.title },
    })),
  };
  return Buffer.from(JSON.stringify(doc));
}

/**
 * What a board reads under `<tag>.board`: config = manifest.json, one layer = the signature or,
 * unsigned, the empty blob (registries want a layer), then properties of its own: `version`, and the
 * two documents' exact bytes as `sig` and `manifest` (both are JSON, so the whole is JSON; OCI
 * readers ignore unknown properties, and a registry serves a manifest's bytes as pushed). A board
 * streams manifest.json's byte range to flash, hashing it against the config digest: one request
 * instead of three, and no base64. Every byte counts here (a small update is ~2 KB): `version` is
 * 40 B shorter than the version annotation the artifact carries. A manifest.json over
 * INLINE_MANIFEST is left to its blob.
 */
export function boardManifest(
  manifest: { digest: string; size: number; source?: Buffer | string },
  signature: Buffer | undefined,
  version: string,
): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA,
    config: { mediaType: LAYER_MEDIA.manifest, digest: manifest.digest, size: manifest.size },
    layers: [
      signature
        ? { mediaType: LAYER_MEDIA.signature, digest: sha256(signature), size: signature.length }
        : { mediaType: EMPTY_MEDIA, digest: EMPTY_DIGEST, size: 2 },
    ],
    version,
  };
  const head = JSON.stringify(doc).slice(0, -1);
  const parts: Buffer[] = [Buffer.from(head)];
  if (signature && signature.length <= INLINE_SIGNATURE) parts.push(Buffer.from(',"sig":'), signature);
  const bytes = manifest.source;
  if (Buffer.isBuffer(bytes) && bytes.length <= INLINE_MANIFEST)
    parts.push(Buffer.from(',"manifest":'), bytes);
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

interface ManifestDoc {
  artifactType?: string;
  config?: { mediaType?: string; digest?: string; size?: number };
  layers?: { mediaType?: string; digest?: string; size?: number; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
  /** A `.board` manifest's version. */
  version?: string;
}

const ACCEPT = `${MANIFEST_MEDIA}, application/vnd.oci.artifact.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json`;

/** The manifest under a tag, or undefined when the tag does not exist. */
async function getManifest(
  c: RegistryClient,
  tag: string,
): Promise<{ doc: ManifestDoc; digest: string; bytes: Buffer } | undefined> {
  const res = await c.request('GET', `/v2/${c.registry.repository}/manifests/${tag}`, {
    headers: { accept: ACCEPT },
  });
  if (res.status === 404) {
    // MANIFEST_UNKNOWN, or NAME_UNKNOWN before a first push (the repository appears with it).
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) throw await c.fail(res, `reading ${formatRef(c.registry, tag)}`);
  const bytes = await readBounded(res, `reading ${formatRef(c.registry, tag)}`);
  let doc: ManifestDoc;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ManifestDoc;
  } catch {
    throw new OtaError('bad_manifest', `${formatRef(c.registry, tag)} is not a JSON manifest`);
  }
  return { doc, digest: res.headers.get('docker-content-digest') ?? sha256(bytes), bytes };
}

async function pushOne(
  ref: OciRef,
  blobs: Blob[],
  manifestBytes: Buffer,
  boardBytes: Buffer,
  tags: { version: string; channel: string },
  opts: OciPublishOptions,
  progress: { done: number; total: number },
): Promise<OciPushed> {
  const repo = ref.repository;
  const scopes = [`repository:${repo}:pull,push`];
  if (opts.mountFrom && opts.mountFrom !== repo) scopes.push(`repository:${opts.mountFrom}:pull`);
  const c = new RegistryClient(ref, scopes, opts);
  const what = `publishing to ${formatRef(ref)}`;
  opts.onProgress?.({ phase: 'check', done: progress.done, total: progress.total });

  const existing = await getManifest(c, tags.version);
  if (existing && !opts.force) {
    if (existing.bytes.equals(manifestBytes)) {
      // The very same release: nothing to do but the tags (an interrupted publish, run again).
    } else {
      throw new OtaError(
        'tag_exists',
        `${formatRef(ref, tags.version)} already exists: pass --force to replace it`,
      );
    }
  }

  const result: OciPushed = {
    ref: formatRef(ref, tags.version),
    digest: sha256(manifestBytes),
    tags: [],
    sent: [],
    uploaded: 0,
    uploadedBytes: 0,
    present: 0,
    mounted: 0,
    replaced: Boolean(existing && !existing.bytes.equals(manifestBytes)),
  };
  const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  await mapLimit(unique, opts.concurrency ?? 4, async (b) => {
    const head = await c.request('HEAD', `/v2/${repo}/blobs/${b.digest}`);
    await head.body?.cancel();
    if (head.ok) {
      result.present++;
      progress.total -= b.size;
      opts.onProgress?.({ phase: 'upload', asset: b.title, ...progress });
      return;
    }
    if (head.status !== 404) throw await c.fail(head, `${what}: checking ${b.title}`);
    const data = typeof b.source === 'string' ? await readFile(b.source) : b.source;
    if (data.length !== b.size || sha256(data) !== b.digest) {
      throw new OtaError('file_changed', `${b.title} changed while publishing: publish again`);
    }
    for (let attempt = 0; ; attempt++) {
      let sent = 0;
      try {
        const q =
          opts.mountFrom && opts.mountFrom !== repo ? `?mount=${b.digest}&from=${opts.mountFrom}` : '';
        const start = await c.request('POST', `/v2/${repo}/blobs/uploads/${q}`, {
          headers: { 'content-length': '0' },
        });
        await start.body?.cancel();
        if (start.status === 201) {
          result.mounted++;
          progress.total -= b.size;
          opts.onProgress?.({ phase: 'upload', asset: b.title, ...progress });
          return;
        }
        if (start.status !== 202) throw await c.fail(start, `${what}: starting the upload of ${b.title}`);
        const loc = start.headers.get('location');
        if (!loc) throw new OtaError('registry_error', `${what}: no upload location for ${b.title}`);
        const put = new URL(loc, c.url('/'));
        // The release's bytes, and the registry's token, go to the registry itself only.
        c.scope.require(put, `${what}: the upload location of ${b.title}`);
        put.searchParams.set('digest', b.digest);
        const res = await c.send('PUT', put.href, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
          body: () => {
            let at = 0;
            return new ReadableStream<Uint8Array>({
              pull(controller) {
                if (at >= data.length) return controller.close();
                const chunk = data.subarray(at, at + 64 * 1024);
                at += chunk.length;
                sent += chunk.length;
                progress.done += chunk.length;
                opts.onProgress?.({ phase: 'upload', asset: b.title, ...progress });
                controller.enqueue(chunk);
              },
            });
          },
        });
        if (res.status !== 201) {
          const err = await c.fail(res, `${what}: uploading ${b.title}`);
          if (res.status >= 500 || res.status === 429) throw Object.assign(err, { transient: true });
          throw err;
        }
        await res.body?.cancel();
        result.uploaded++;
        result.sent.push(b.title);
        result.uploadedBytes += data.length;
        return;
      } catch (err) {
        progress.done -= sent;
        const transient =
          (err as { transient?: boolean }).transient || (err instanceof OtaError && err.code === 'network');
        if (!transient || attempt >= c.retries) {
          if (err instanceof OtaError && err.code === 'registry_error' && transient) {
            throw new OtaError('upload_failed', err.message, { cause: err });
          }
          throw err;
        }
        await sleep(c.retryDelayMs * 2 ** attempt);
      }
    }
  });

  opts.onProgress?.({ phase: 'tag', done: progress.done, total: progress.total });
  const putManifest = async (tag: string, bytes = manifestBytes) => {
    const res = await c.request('PUT', `/v2/${repo}/manifests/${tag}`, {
      headers: { 'content-type': MANIFEST_MEDIA },
      body: () => bytes,
    });
    if (res.status !== 201) throw await c.fail(res, `${what}: tagging ${tag}`);
    await res.body?.cancel();
    if (bytes === manifestBytes) result.tags.push(tag);
  };
  // Each tag, then its board partner: a board checking in between still reads the previous release.
  const putBoth = async (tag: string) => {
    await putManifest(tag);
    await putManifest(boardTag(tag), boardBytes);
  };
  await putBoth(tags.version);
  if (ref.tag && ref.tag !== tags.version) await putBoth(ref.tag);
  // The channel only moves forward: a hotfix of an older line leaves it on the newer release.
  const channel = await getManifest(c, tags.channel);
  const at = channel?.doc.annotations?.[VERSION];
  let forward: boolean;
  try {
    forward = !at || compareVersions(tags.version, at) >= 0;
  } catch {
    forward = true; // the channel names something that is not ours: take it over
  }
  if (forward) await putBoth(tags.channel);
  return result;
}

export async function publishOci(opts: OciPublishOptions): Promise<OciPublishResult> {
  const refs = expandDevices(opts.ref, opts.devices).map(parseRef);
  if (opts.mountFrom && !REPO_RE.test(opts.mountFrom)) {
    throw new OtaError('bad_ref', `--mount-from ${JSON.stringify(opts.mountFrom)} is not a repository name`);
  }
  if (new Set(refs.map((r) => r.registry)).size > 1)
    throw new OtaError('bad_ref', 'one registry per publish');
  const bundleDir = await mkdtemp(join(tmpdir(), 'ota-oci-'));
  try {
    opts.onProgress?.({ phase: 'prepare', done: 0, total: 0 });
    const release = await prepareRelease({ ...opts, bundleDir });
    const version = release.manifest.version;
    const prerelease = opts.prerelease ?? parseVersion(version).prerelease.length > 0;
    const blobs: Blob[] = [];
    const add = (title: string, mediaType: string, digest: string, size: number, source: string | Buffer) =>
      blobs.push({ title, mediaType, digest: `sha256:${digest}`, size, source });
    const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    add(
      'manifest.json',
      LAYER_MEDIA.manifest,
      hex(release.manifestBytes),
      release.manifestBytes.length,
      release.manifestBytes,
    );
    if (release.signatureBytes) {
      add(
        'manifest.json.sig',
        LAYER_MEDIA.signature,
        hex(release.signatureBytes),
        release.signatureBytes.length,
        release.signatureBytes,
      );
    }
    const where = new Map(release.files.map((x) => [x.path, x.abs]));
    for (const f of release.manifest.files)
      add(f.path, LAYER_MEDIA.file, f.sha256, f.size, where.get(f.path)!);
    if (release.bundle && release.manifest.bundle) {
      const b = release.manifest.bundle;
      add(b.name, LAYER_MEDIA.bundle, b.sha256, b.size, release.bundle.abs);
    }
    if (release.firmware && release.manifest.firmware) {
      const fw = release.manifest.firmware;
      add(fw.name, LAYER_MEDIA.firmware, fw.sha256, fw.size, release.firmware.abs);
    }
    const titles = new Set<string>();
    for (const b of blobs) {
      if (titles.has(b.title)) {
        throw new OtaError('asset_name_clash', `"${b.title}" would be two layers: rename one`);
      }
      titles.add(b.title);
    }
    blobs.push({
      title: '(config)',
      mediaType: EMPTY_MEDIA,
      digest: EMPTY_DIGEST,
      size: 2,
      source: Buffer.from('{}'),
    });
    const layers = blobs.filter((b) => b.title !== '(config)');
    const manifestBytes = artifactManifest(layers, version, release.manifest.created);
    if (!TAG_RE.test(boardTag(version))) {
      throw new OtaError('bad_version', `version ${version} is too long for a registry tag`);
    }
    const boardBytes = boardManifest(blobs[0], release.signatureBytes, version);
    const pushed: OciPushed[] = [];
    for (const ref of refs) {
      const uniqueBytes = [...new Map(blobs.map((b) => [b.digest, b.size])).values()].reduce(
        (n, s) => n + s,
        0,
      );
      const progress = { done: 0, total: uniqueBytes };
      const mountFrom = opts.mountFrom ?? (pushed.length ? refs[0].repository : undefined);
      pushed.push(
        await pushOne(
          ref,
          blobs,
          manifestBytes,
          boardBytes,
          { version, channel: prerelease ? 'beta' : 'stable' },
          { ...opts, mountFrom },
          progress,
        ),
      );
    }
    return {
      version,
      prerelease,
      signed: Boolean(release.signatureBytes),
      layers: layers.map((b) => ({ title: b.title, digest: b.digest, size: b.size })),
      pushed,
    };
  } finally {
    await rm(bundleDir, { recursive: true, force: true });
  }
}

export interface OciTagInfo {
  tag: string;
  /** The tag as a semver version, when it is one. */
  version?: string;
  /** For `stable`/`beta`: the version they point at. */
  points?: string;
  channel?: 'stable' | 'beta';
  /** The release's `created` annotation, known for the channels' releases (read for `points`). */
  created?: string;
}

/**
 * The repository's tags for the Releases tree: versions newest first, with the channels they carry.
 */
export async function listOciTags(opts: {
  ref: string;
  credentials?: Credentials;
  fetch?: typeof fetch;
}): Promise<OciTagInfo[]> {
  const ref = parseRef(opts.ref);
  const c = new RegistryClient(ref, [`repository:${ref.repository}:pull`], opts);
  const what = `listing the tags of ${formatRef(ref)}`;
  const listing = new Listing(what, LISTINGS.tags);
  const tags = await collectPages(
    (async function* () {
      let next: string | undefined = `/v2/${ref.repository}/tags/list?n=1000`;
      while (next) {
        const res = await c.request('GET', next);
        if (!res.ok) throw await c.fail(res, what);
        let doc: { tags?: unknown };
        try {
          doc = JSON.parse((await listing.read(res, what, MAX_DOCUMENT)).toString('utf8')) as {
            tags?: unknown;
          };
        } catch (err) {
          if (err instanceof OtaError) throw err;
          throw new OtaError('registry_error', `${what}: the answer is not JSON`);
        }
        // The .board partners are the boards' view of the same releases. A tag is at most 128
        // characters (the distribution spec), which also bounds what the listing keeps.
        const all = Array.isArray(doc?.tags)
          ? doc.tags.filter((t: unknown): t is string => typeof t === 'string' && TAG_RE.test(t))
          : [];
        yield { url: next, items: all.filter((t) => !t.endsWith(BOARD_SUFFIX)) };
        const link = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
        next = link ? link[1] : undefined;
        // A registry pages its own tags: a page elsewhere is refused, as GitHub's are.
        if (next) c.scope.require(new URL(next, c.url('/')), `${what}: the next page`);
      }
    })(),
    listing,
  );
  const infos: OciTagInfo[] = tags.map((tag) => {
    try {
      return { tag, version: parseVersion(tag).text };
    } catch {
      return { tag };
    }
  });
  for (const ch of ['stable', 'beta'] as const) {
    const info = infos.find((i) => i.tag === ch);
    if (!info) continue;
    const m = await getManifest(c, ch);
    info.points = m?.doc.annotations?.[VERSION];
    const target = infos.find((i) => i.version !== undefined && i.version === info.points);
    if (target) {
      target.channel = ch;
      target.created = m?.doc.annotations?.['org.opencontainers.image.created'];
    }
  }
  return infos.sort((a, b) => {
    if (a.version && b.version) return compareVersions(b.version, a.version);
    if (a.version) return -1;
    if (b.version) return 1;
    return a.tag.localeCompare(b.tag);
  });
}

export interface OciRelease {
  ref: string;
  digest: string;
  version: string;
  /** The release's manifest.json bytes (checked against their layer digest), and the signature's. */
  manifestBytes: Buffer;
  signatureBytes?: Buffer;
  layers: { title: string; digest: string; size: number; mediaType: string }[];
  /** Where the `<tag>.board` manifest boards read disagrees with the artifact (none when it is absent). */
  boardProblems: string[];
}

/**
 * A blob by digest and its declared size, checked against both: the host is read no further than the
 * size ('too_large'), and a document blob (manifest.json, its signature) declares at most MAX_DOCUMENT.
 */
export async function fetchBlob(c: RegistryClient, digest: string, size: number): Promise<Buffer> {
  const what = `reading blob ${digest}`;
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_DOCUMENT) {
    throw new OtaError('doc_too_large', `${what}: its layer declares ${size} bytes, over ${MAX_DOCUMENT}`);
  }
  const res = await c.request('GET', `/v2/${c.registry.repository}/blobs/${digest}`);
  if (!res.ok) throw await c.fail(res, what);
  const b = await readBounded(res, what, size, 'too_large');
  if (sha256(b) !== digest) throw new OtaError('hash_mismatch', `blob ${digest} does not match its digest`);
  return b;
}

/** Resolves a tag (default `stable`) to the release it holds, for `ota verify` and the editor. */
export async function fetchOciRelease(opts: {
  ref: string;
  credentials?: Credentials;
  fetch?: typeof fetch;
}): Promise<OciRelease> {
  const ref = parseRef(opts.ref);
  const tag = ref.tag ?? 'stable';
  const c = new RegistryClient(ref, [`repository:${ref.repository}:pull`], opts);
  const m = await getManifest(c, tag);
  if (!m) throw new OtaError('not_found', `${formatRef(ref, tag)} does not exist`);
  if (m.doc.artifactType !== RELEASE_TYPE) {
    throw new OtaError(
      'bad_manifest',
      `${formatRef(ref, tag)} is not a MicroPython OTA release (artifactType ${m.doc.artifactType})`,
    );
  }
  const layers = (m.doc.layers ?? []).map((l) => ({
    title: l.annotations?.[TITLE] ?? '',
    digest: l.digest ?? '',
    size: l.size ?? 0,
    mediaType: l.mediaType ?? '',
  }));
  const find = (t: string) => layers.find((l) => l.title === t);
  const man = find('manifest.json');
  if (!man) throw new OtaError('bad_manifest', `${formatRef(ref, tag)} has no manifest.json layer`);
  const sig = find('manifest.json.sig');
  const version = m.doc.annotations?.[VERSION] ?? '';
  const signatureBytes = sig ? await fetchBlob(c, sig.digest, sig.size) : undefined;
  const manifestBytes = await fetchBlob(c, man.digest, man.size);
  return {
    ref: formatRef(ref, tag),
    digest: m.digest,
    version,
    manifestBytes,
    signatureBytes,
    layers,
    boardProblems: await checkBoardManifest(c, tag, {
      manifest: { ...man, source: manifestBytes },
      signatureBytes,
      version,
    }),
  };
}

/**
 * Compares `<tag>.board` with what its artifact holds: the manifest.json a board takes, its
 * signature and the version. A missing one is no problem (a board then reads the artifact itself).
 */
async function checkBoardManifest(
  c: RegistryClient,
  tag: string,
  want: {
    manifest: { digest: string; size: number; source: Buffer };
    signatureBytes?: Buffer;
    version: string;
  },
): Promise<string[]> {
  const b = await getManifest(c, boardTag(tag));
  if (!b) return [];
  const name = boardTag(tag);
  const expected = boardManifest(want.manifest, want.signatureBytes, want.version);
  if (b.bytes.equals(expected)) return [];
  const problems: string[] = [];
  if (b.doc.config?.digest !== want.manifest.digest || b.doc.config?.size !== want.manifest.size) {
    problems.push(`${name}: names manifest.json ${b.doc.config?.digest ?? '(none)'}, not the release's`);
  }
  if (b.doc.version !== want.version) {
    problems.push(`${name}: version ${b.doc.version ?? '(none)'}, not ${want.version}`);
  }
  if (!problems.length)
    problems.push(
      `${name}: its inline signature or manifest.json, or its layout, differs from the release's`,
    );
  return problems;
}

/**
 * Where an artifact's layers disagree with its own manifest.json: a release file, the bundle or the
 * firmware without a layer of that title, or with another digest or size. Empty when they agree.
 */
export function checkLayers(rel: Pick<OciRelease, 'layers' | 'boardProblems'>, m: Manifest): string[] {
  const problems: string[] = [...rel.boardProblems];
  const byTitle = new Map(rel.layers.map((l) => [l.title, l]));
  const want = [
    ...m.files.map((f) => ({ title: f.path, sha256: f.sha256, size: f.size })),
    ...(m.bundle ? [{ title: m.bundle.name, sha256: m.bundle.sha256, size: m.bundle.size }] : []),
    ...(m.firmware ? [{ title: m.firmware.name, sha256: m.firmware.sha256, size: m.firmware.size }] : []),
  ];
  for (const w of want) {
    const l = byTitle.get(w.title);
    if (!l) problems.push(`${w.title}: no layer`);
    else if (l.digest !== `sha256:${w.sha256}`) problems.push(`${w.title}: layer digest ${l.digest}`);
    else if (l.size !== w.size) problems.push(`${w.title}: layer size ${l.size} != ${w.size}`);
  }
  return problems;
}

/** Checks the release's manifest.json.sig layer against trusted keys, as a board would. */
export function verifyOciSignature(
  rel: Pick<OciRelease, 'ref' | 'manifestBytes' | 'signatureBytes'>,
  trusted: TrustEntry[],
): void {
  if (!rel.signatureBytes)
    throw new OtaError('no_signature', `${rel.ref} is not signed (no manifest.json.sig layer)`);
  let sig: Parameters<typeof verifySignature>[1];
  try {
    sig = JSON.parse(rel.signatureBytes.toString('utf8')) as Parameters<typeof verifySignature>[1];
  } catch {
    throw new OtaError('bad_signature', `${rel.ref}: manifest.json.sig is not JSON`);
  }
  verifySignature(rel.manifestBytes, sig, trusted);
}

/**
 * The Releases view's channels for an OCI reference: stable lists the released versions and beta the
 * prereleases, newest first, each with the release its channel tag holds (what boards get) on top.
 * Credentials are the caller's (registry-login.ts registryCredentials; none: anonymous). A repository nobody pushed to
 * yet has no releases; a registry that does not answer is `unreachable`, any other failure an `error`
 * with its code.
 */
export async function ociChannels(opts: {
  ref: string;
  credentials?: Credentials;
  fetch?: typeof fetch;
}): Promise<ReleaseStatus> {
  let ref: OciRef;
  try {
    ref = parseRef(opts.ref);
  } catch (err) {
    return { state: 'error', host: opts.ref, code: 'bad_ref', message: (err as Error).message };
  }
  const host = formatRef({ ...ref, tag: undefined });
  let tags: OciTagInfo[];
  try {
    tags = await listOciTags({ ref: host, credentials: opts.credentials, fetch: opts.fetch });
  } catch (err) {
    const code = err instanceof OtaError ? err.code : 'registry_error';
    if (code === 'repo_not_found') return { state: 'ok', host, entries: [] };
    if (code === 'network') {
      return {
        state: 'unreachable',
        host,
        message: `Cannot reach ${ref.registry} (${networkReason(err)}) to list the tags of ${host}`,
      };
    }
    return { state: 'error', host, code, message: err instanceof Error ? err.message : String(err) };
  }
  const entries: ReleaseEntry[] = [];
  for (const channel of ['stable', 'beta'] as const) {
    const wanted = tags.filter(
      (t) =>
        t.version !== undefined && parseVersion(t.version).prerelease.length > 0 === (channel === 'beta'),
    );
    wanted.sort((a, b) => Number(b.channel === channel) - Number(a.channel === channel));
    for (const t of wanted) {
      entries.push({ channel, version: t.version!, date: t.created, ref: formatRef(ref, t.tag) });
    }
  }
  return { state: 'ok', host, entries };
}
