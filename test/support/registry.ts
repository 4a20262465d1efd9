// A real OCI registry for the tests: Debian's docker-registry (the CNCF distribution registry),
// started on 127.0.0.1 with its own config in a temp folder (the package's config enables auth on
// :5000, so it is never used). Auth: none, htpasswd (bcrypt entries made by apache2-utils'
// htpasswd), or token (a small token server here signs JWTs with a self-signed certificate the
// registry trusts, as Docker Hub and ghcr.io do with theirs).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPublicKey, createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as httpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustingFetch, type Pair } from './pki';
import { launch, missingService, selfSigned } from './service';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Why the registry tests cannot run here, or undefined. Under CI=true a missing part is a failure. */
export function registryMissing(needs: string[] = []): string | undefined {
  // openssl: the token server's certificate (selfSigned)
  const why = missingService([REGISTRY_BIN, 'openssl', ...needs]);
  if (why) console.log(`# skipped: ${why}`);
  return why;
}

export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** htpasswd and token: the one account. */
  user?: string;
  password?: string;
  /** token: repositories anyone may pull without credentials (public packages). */
  publicRepos?: string[];
  /** token: a second account that may only pull. */
  reader?: { user: string; password: string };
  /**
   * Serve HTTPS with this certificate (signed by `ca`, see pki.ts makePki): a board sends
   * credentials over verified TLS only, so a private registry runs as a real one does.
   */
  tls?: Pair & { ca: Buffer };
  /**
   * token: the realm the registry names, from the token server's origin (default `${origin}/token`),
   * for a front in between (HTTPS, counting: test/support/tls-front.ts).
   */
  tokenRealm?: (origin: string) => string;
  /** token: how tokens look at first (TestRegistry.token changes it later). */
  token?: Partial<TokenShape>;
}

/**
 * What the token server issues. `key`: how the JWT's header names its signing key: 'x5c' (RS256, the
 * whole certificate in the header, about 2 KB of token) or 'kid' (ES256, the libtrust key ID of a key in
 * the registry's rootcertbundle, and only the claims the registry checks: the smallest token Debian's
 * docker-registry takes, about 0.4 KB). `answer`: the token service's JSON: 'test' {token,
 * access_token, expires_in: 300}, 'dockerhub' as auth.docker.io ({token, access_token, expires_in:
 * 300, issued_at}), 'ghcr' as ghcr.io ({token} only: a client assumes 60 s).
 */
export interface TokenShape {
  key: 'x5c' | 'kid';
  answer: 'test' | 'dockerhub' | 'ghcr';
}

export interface TestRegistry {
  /** host:port, as in a reference. */
  host: string;
  /** http://host:port, or https:// with `tls` (a reference then names the scheme: `${url}/repo`). */
  url: string;
  /** fetch for host code talking to it (trusts the test CA under `tls`). */
  fetch: typeof fetch;
  /** The data folder (tests corrupt blobs in it). */
  dataDir: string;
  /** Where a blob of this digest is stored. */
  blobPath(digest: string): string;
  /** Token requests seen (token auth). */
  tokenRequests: { scope: string[]; authorized: boolean }[];
  /** token: what the token server issues from now on (settable). */
  token: TokenShape;
  /**
   * token: the token server's own origin (plain HTTP), for a front that serves the realm on the
   * registry's origin (startRegistryProxy's `tokenService`), as ghcr.io does.
   */
  tokenService: string;
  close(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

function certificate(dir: string): { key: string; certDer: string; certFile: string } {
  const { key, cert } = selfSigned(dir, 'token', '/CN=ota-test-token');
  const der = readFileSync(cert, 'utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  return { key: readFileSync(key, 'utf8'), certDer: der, certFile: cert };
}

/**
 * An EC P-256 certificate for 'kid' tokens, and its libtrust key ID: what distribution's token access
 * controller files each rootcertbundle key under (libtrust KeyID: base32 of the first 240 bits of the
 * SHA-256 of the DER SubjectPublicKeyInfo, 12 groups of 4 characters joined by ':'), and looks a
 * token's `kid` up in (registry/auth/token/token.go, VerifySigningKey).
 */
function ecCertificate(dir: string): { key: string; kid: string; pem: string } {
  const [key, cert] = [join(dir, 'token-ec.key'), join(dir, 'token-ec.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=ota-test-token-ec',
    ]),
    { stdio: 'pipe' },
  );
  const pem = readFileSync(cert, 'utf8');
  const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  const sum = createHash('sha256').update(spki).digest().subarray(0, 30);
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of sum) bits += b.toString(2).padStart(8, '0');
  const b32 = bits.replace(/.{5}/g, (x) => A[parseInt(x, 2)]);
  return { key: readFileSync(key, 'utf8'), kid: b32.match(/.{4}/g)!.join(':'), pem };
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const user = opts.user ?? 'ota';
  const password = opts.password ?? 'secret-pw';
  const dir = mkdtempSync(join(tmpdir(), 'ota-registry-'));
  const dataDir = join(dir, 'data');
  const scheme = opts.tls ? 'https' : 'http';
  const f = opts.tls ? trustingFetch(opts.tls.ca) : fetch;
  let tlsYaml = '';
  if (opts.tls) {
    writeFileSync(join(dir, 'server.pem'), opts.tls.cert);
    writeFileSync(join(dir, 'server.key'), opts.tls.key);
    tlsYaml = `  tls:\n    certificate: ${join(dir, 'server.pem')}\n    key: ${join(dir, 'server.key')}\n`;
  }
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  const shape: TokenShape = { key: 'x5c', answer: 'test', ...opts.token };
  let tokenServer: Server | undefined;
  let tokenService = '';
  let authYaml = '';
  if (auth === 'htpasswd') {
    const h = spawnSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' });
    if (h.status !== 0) throw new Error(`htpasswd: ${h.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), h.stdout.trim() + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: ota-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    const cert = certificate(dir);
    const ec = ecCertificate(dir);
    // Both keys trusted: the registry verifies an x5c token's certificate against the bundle and
    // finds a kid token's key in it by its ID.
    writeFileSync(cert.certFile, readFileSync(cert.certFile, 'utf8') + ec.pem);
    const service = 'ota-test-registry';
    tokenServer = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x');
      const scopes = q.searchParams.getAll('scope');
      const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''));
      const given = basic ? Buffer.from(basic[1], 'base64').toString() : '';
      const reader = opts.reader !== undefined && given === `${opts.reader.user}:${opts.reader.password}`;
      const authorized = basic !== null && given === `${user}:${password}`;
      tokenRequests.push({ scope: scopes, authorized });
      if (basic && !authorized && !reader) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
      }
      // Granted: everything to the account; pull of public repositories to anyone.
      const access = scopes.flatMap((s) => {
        const [type, name, actions] = s.split(':');
        if (type !== 'repository' || !name || !actions) return [];
        const granted = actions
          .split(',')
          .filter((a) => authorized || (a === 'pull' && (reader || (opts.publicRepos ?? []).includes(name))));
        return granted.length ? [{ type, name, actions: granted }] : [];
      });
      const now = Math.floor(Date.now() / 1000);
      const iss = 'ota-test-issuer';
      let token: string;
      if (shape.key === 'kid') {
        // What the registry checks (iss, aud, exp, the signature, access), nothing more.
        const header = { typ: 'JWT', alg: 'ES256', kid: ec.kid };
        const body = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify({ iss, aud: service, exp: now + 300, access }))}`;
        const sig = createSign('SHA256').update(body).sign({ key: ec.key, dsaEncoding: 'ieee-p1363' });
        token = `${body}.${b64url(sig)}`;
      } else {
        const header = { alg: 'RS256', typ: 'JWT', x5c: [cert.certDer] };
        const claims = {
          iss,
          sub: authorized ? user : reader ? opts.reader!.user : '',
          aud: service,
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: randomBytes(8).toString('hex'),
          access,
        };
        const body = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
        token = `${body}.${b64url(createSign('RSA-SHA256').update(body).sign(cert.key))}`;
      }
      const answer =
        shape.answer === 'ghcr'
          ? { token }
          : shape.answer === 'dockerhub'
            ? { token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }
            : { token, access_token: token, expires_in: 300 };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((r) => tokenServer!.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(tokenServer.address() as { port: number }).port}`;
    tokenService = origin;
    const realm = opts.tokenRealm ? opts.tokenRealm(origin) : `${origin}/token`;
    authYaml =
      `auth:\n  token:\n    realm: ${realm}\n    service: ${service}\n` +
      `    issuer: ota-test-issuer\n    rootcertbundle: ${cert.certFile}\n`;
  }
  // Port 0: the registry binds a port of its own and says which (info level), so no other
  // process can take it between a pick and the bind.
  const config =
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${dataDir}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: 127.0.0.1:0\n  secret: ${randomBytes(12).toString('hex')}\n` +
    tlsYaml +
    authYaml;
  writeFileSync(join(dir, 'config.yml'), config);
  const listening = /listening on 127\.0\.0\.1:(\d+)/;
  let port = 0;
  const service = await launch(
    REGISTRY_BIN,
    ['serve', join(dir, 'config.yml')],
    (log) => f(`${scheme}://127.0.0.1:${(port ||= Number(listening.exec(log)![1]))}/v2/`),
    10_000,
    listening,
  );
  const url = `${scheme}://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    url,
    fetch: f,
    dataDir,
    blobPath: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },
    tokenRequests,
    token: shape,
    tokenService,
    close: async () => {
      await service.stop();
      if (tokenServer) {
        tokenServer.closeAllConnections();
        await new Promise((r) => tokenServer!.close(r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ProxiedRequest {
  /**
   * "registry": answered by the registry; "storage": the blob store a redirect points to; "token": the
   * token service, on the registry's origin (`tokenService`).
   */
  origin: 'registry' | 'storage' | 'token';
  method: string;
  path: string;
  authorization?: string;
  range?: string;
  /** The request's header names, as sent (lower case, in order). */
  headers: string[];
  status: number;
  /** Body bytes sent to the client. */
  bytes: number;
}

/**
 * What the proxy does with a registry request instead of forwarding it as it came: 401 answers it
 * with the registry's own challenge (the request asked of the registry again without its
 * Authorization: how a registry answers a token it no longer takes), 403 with a DENIED error and no
 * challenge (how ghcr.io or Harbor refuse a repository), 'cut' forwards it and sends only the first
 * half of a 200's body (at most 1000 bytes) before the connection drops.
 */
export type ProxyAnswer = 401 | 403 | 'cut' | undefined;

export interface RegistryProxy {
  url: string;
  host: string;
  requests: ProxiedRequest[];
  /** Asked for each registry request (after it is logged), before it is forwarded; settable any time. */
  hook?: (q: ProxiedRequest) => ProxyAnswer;
  /** From now on every Bearer token seen so far is refused as the registry refuses an expired one (401). */
  expireTokens(): void;
  close(): Promise<void>;
}

/**
 * A logging front for a test registry (bytes over the air per request). With `redirectBlobs`, blob
 * GETs are answered 307 to a separate "storage" origin, as ghcr.io and Docker Hub send boards to
 * their CDN; storage serves the blob with `storageAuth` (its own credentials to the registry).
 */
export async function startRegistryProxy(
  upstream: string,
  opts: {
    redirectBlobs?: boolean;
    storageAuth?: string;
    cutOnce?: string;
    /** The origin redirects name for storage, from its own (a counting front in between). */
    storageOrigin?: (origin: string) => string;
    expireOnce?: string;
    /** Front and storage over HTTPS with this certificate; the upstream trusted through `ca`. */
    tls?: Pair & { ca: Buffer };
    /**
     * The token service's origin (TestRegistry.tokenService): `/token` on this front goes there, so the
     * realm is on the registry's own origin as ghcr.io's is (https://ghcr.io/token), and a client asks
     * it over the connection it reads the registry on. The registry then names the front's /token as
     * its realm (startRegistry's `tokenRealm`).
     */
    tokenService?: string;
  } = {},
): Promise<RegistryProxy> {
  const requests: ProxiedRequest[] = [];
  const proxy: RegistryProxy = {
    url: '',
    host: '',
    requests,
    expireTokens: () => tokens.forEach((t) => expired.add(t)),
    close: async () => {},
  };
  const f = opts.tls ? trustingFetch(opts.tls.ca) : fetch;
  const scheme = opts.tls ? 'https' : 'http';
  // Heads as the registry (Go's net/http) sends them on a kept connection: no `Connection` or
  // `Keep-Alive`, which Node would add (47 B per answer, counted by bench/oci.bench.ts against the
  // registry). `Connection: close` when the client asked for it, as Go; the connection itself is kept
  // or closed as before.
  const serve = (h: (req: IncomingMessage, res: ServerResponse) => void) => {
    const goLike = (req: IncomingMessage, res: ServerResponse) => {
      if (!/\bclose\b/i.test(req.headers.connection ?? '')) res.removeHeader('connection');
      h(req, res);
    };
    return opts.tls ? httpsServer({ cert: opts.tls.cert, key: opts.tls.key }, goLike) : createServer(goLike);
  };
  // expireOnce: the first GET of the blob with this digest is answered 401 with the registry's
  // challenge, as when a token runs out during a long update.
  let expire = opts.expireOnce;
  // cutOnce: the first GET of the blob with this digest sends 1000 bytes, then the connection drops.
  let cut = opts.cutOnce;
  // Bearer tokens seen at the front, and those expireTokens() made stale.
  const tokens = new Set<string>();
  const expired = new Set<string>();
  const forward = async (
    rec: ProxiedRequest,
    res: ServerResponse,
    url: string,
    headers: Record<string, string>,
    method: string,
    cutHere = false,
  ) => {
    const up = await f(url, { method, headers, redirect: 'manual' });
    const body = Buffer.from(await up.arrayBuffer());
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
    });
    rec.status = up.status;
    const once = cut && method === 'GET' && url.endsWith(`/blobs/${cut}`);
    if ((once || cutHere) && up.status === 200) {
      if (once) cut = undefined;
      rec.bytes = Math.min(1000, body.length >> 1);
      res.writeHead(200, { 'content-length': String(body.length) });
      return void res.write(body.subarray(0, rec.bytes), () => res.destroy());
    }
    rec.bytes = method === 'HEAD' ? 0 : body.length;
    res.writeHead(up.status, {
      ...out,
      'content-length': String(method === 'HEAD' ? (up.headers.get('content-length') ?? 0) : body.length),
    });
    res.end(method === 'HEAD' ? undefined : body);
  };
  const pick = (h: import('node:http').IncomingHttpHeaders, names: string[]) => {
    const out: Record<string, string> = {};
    for (const n of names) if (typeof h[n] === 'string') out[n] = h[n] as string;
    return out;
  };
  /** Logs one request as it comes in; status and bytes are filled in when it is answered. */
  const record = (origin: ProxiedRequest['origin'], req: IncomingMessage): ProxiedRequest => {
    const rec: ProxiedRequest = {
      origin,
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization,
      range: req.headers.range,
      headers: req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()),
      status: 0,
      bytes: 0,
    };
    requests.push(rec);
    return rec;
  };
  const storage = serve((req, res) => {
    const rec = record('storage', req);
    const m = /^\/store\/(.+)\/(sha256:[0-9a-f]{64})\?sig=[0-9a-f]+$/.exec(req.url ?? '');
    if (!m) {
      rec.status = 404;
      res.writeHead(404, { 'content-length': '0' });
      return res.end();
    }
    const h = pick(req.headers, ['range']);
    if (opts.storageAuth) h.authorization = opts.storageAuth;
    forward(rec, res, `${upstream}/v2/${m[1]}/blobs/${m[2]}`, h, 'GET').catch(() => res.destroy());
  });
  await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
  const storageOwn = `${scheme}://127.0.0.1:${(storage.address() as { port: number }).port}`;
  const storageUrl = opts.storageOrigin ? opts.storageOrigin(storageOwn) : storageOwn;
  const front = serve((req, res) => {
    if (opts.tokenService && /^\/token(\?|$)/.test(req.url ?? '')) {
      const rec = record('token', req);
      const h = pick(req.headers, ['authorization']);
      return void forward(rec, res, `${opts.tokenService}${req.url}`, h, 'GET').catch(() => res.destroy());
    }
    const rec = record('registry', req);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '');
    if (expire && blob && blob[2] === expire && req.method === 'GET') {
      expire = undefined;
      rec.status = 401;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="ota-test"', 'content-length': '0' });
      return res.end();
    }
    if (opts.redirectBlobs && blob && req.method === 'GET') {
      rec.status = 307;
      res.writeHead(307, {
        location: `${storageUrl}/store/${blob[1]}/${blob[2]}?sig=${randomBytes(8).toString('hex')}`,
        'content-length': '0',
      });
      return res.end();
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let answer = proxy.hook?.(rec);
    if (bearer && answer === undefined && expired.has(bearer)) answer = 401;
    if (bearer) tokens.add(bearer);
    if (answer === 403) {
      rec.status = 403;
      const body = '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}';
      res.writeHead(403, { 'content-type': 'application/json', 'content-length': String(body.length) });
      return res.end(body);
    }
    const h = pick(req.headers, ['authorization', 'accept', 'range', 'if-none-match']);
    if (answer === 401) delete h.authorization; // the registry's own 401 and challenge
    forward(rec, res, `${upstream}${req.url}`, h, req.method ?? 'GET', answer === 'cut')
      .then(() => {
        if (answer === 401 && rec.status !== 401)
          throw new Error(`the registry answered ${rec.status} anonymously`);
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as { port: number }).port;
  proxy.url = `${scheme}://127.0.0.1:${port}`;
  proxy.host = `127.0.0.1:${port}`;
  proxy.close = async () => {
    for (const s of [front, storage]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  };
  return proxy;
}
