// Registry and broker credentials reach only their own origin, whatever a hostile registry answers
// (src/core/credential-origins.ts; GitHub's token: host-attack-credentials.test.ts). The registry here
// is a hostile one on 127.0.0.1 speaking just enough of the distribution API, with Basic or Bearer
// auth; "another origin" is a second server that logs what reached it. A name that is not this
// machine (registry.example, auth.example) reaches those same servers through a fetch that resolves
// it, standing for DNS, so the cleartext rule meets a real request. Docker/podman auth files and the
// environment's tokens are matched to the registry host exactly.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { connectFleet } from '../src/core/fleet/connection';
import { listOciTags, publishOci, resolveCredentials, type Credentials } from '../src/core/publish/oci';
import { registryCredentials } from '../src/core/publish/registry-login';
import { elsewhere, type Elsewhere } from './support/elsewhere';

const USER = 'ci';
const SECRET = 'registry-secret-of-the-user';
const BASIC = 'Basic ' + Buffer.from(`${USER}:${SECRET}`).toString('base64');
const creds: Credentials = { username: USER, password: SECRET, from: 'the test' };

const code = (c: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OtaError, `not an OtaError: ${String(err)}`);
  assert.equal(err.code, c, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

interface Hostile {
  url: string;
  host: string;
  got: { method: string; path: string; authorization?: string }[];
  /** How it asks for credentials: Basic, or Bearer with this realm. */
  challenge: string;
  /** Answers a request that carries credentials (undefined: 404). */
  answer?: (req: IncomingMessage, res: ServerResponse) => boolean;
  close(): Promise<void>;
}

/** A registry that wants credentials on every request, and answers what the test says once it has them. */
async function hostileRegistry(): Promise<Hostile> {
  const h = { got: [], challenge: 'Basic realm="r"' } as unknown as Hostile;
  const server: Server = createServer((req, res) => {
    h.got.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': h.challenge, 'content-length': '0' });
      return void res.end();
    }
    if (h.answer?.(req, res)) return;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  h.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  h.url = `http://${h.host}`;
  h.close = () => new Promise((r) => server.close(() => r()));
  return h;
}

/** A fetch that finds `name` at a server on this machine: DNS, for names that are not loopback. */
function resolving(names: Record<string, string>): typeof fetch {
  return (input, init) => {
    const u = new URL(input instanceof Request ? input.url : String(input));
    const to = names[u.hostname];
    if (to) {
      const t = new URL(to);
      u.protocol = t.protocol;
      u.host = t.host;
    }
    return fetch(u, init);
  };
}

let work: string;
let project: string;
let reg: Hostile;
let other: Elsewhere;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-host-creds-oci-'));
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'main.py'), 'print("app")\n');
  reg = await hostileRegistry();
  other = await elsewhere();
});

after(async () => {
  await reg.close();
  await other.close();
  rmSync(work, { recursive: true, force: true });
});

afterEach(() => {
  reg.got.length = 0;
  reg.challenge = 'Basic realm="r"';
  reg.answer = undefined;
  other.got.length = 0;
  other.answer = (_req, res) => {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  };
});

const tagList = (res: ServerResponse, link?: string) => {
  res.writeHead(200, { 'content-type': 'application/json', ...(link ? { link } : {}) });
  res.end('{"name":"me/app","tags":["1.0.0"]}');
};

test('an upload location on another origin: refused before the bytes or the credentials go, nothing tagged', async () => {
  reg.answer = (req, res) => {
    if (req.method === 'POST' && /\/blobs\/uploads\/$/.test(req.url ?? '')) {
      res.writeHead(202, { location: `${other.url}/v2/me/app/blobs/uploads/u1`, 'content-length': '0' });
      res.end();
      return true;
    }
    return false;
  };
  await assert.rejects(
    publishOci({
      dir: project,
      version: '1.0.0',
      ref: `${reg.host}/me/app`,
      credentials: creds,
      retryDelayMs: 1,
    }),
    code('foreign_origin', new RegExp(`upload location of .* leads to ${other.url}`)),
  );
  assert.deepEqual(other.got, [], 'nothing reached the other origin');
  assert.ok(
    reg.got.some((g) => g.authorization === BASIC),
    'the registry itself got the credentials',
  );
  assert.ok(!reg.got.some((g) => g.method === 'PUT'), 'no blob, no manifest, no tag was written');
});

test("a registry's redirect or next page elsewhere gets no credentials", async () => {
  reg.answer = (req, res) => {
    if (!/tags\/list/.test(req.url ?? '')) return false;
    res.writeHead(307, { location: `${other.url}/v2/me/app/tags/list`, 'content-length': '0' });
    res.end();
    return true;
  };
  other.answer = (_req, res) => tagList(res);
  // OTA_REGISTRY_TOKEN, as the CLI takes it for the registry its --ref names.
  const env = { OTA_REGISTRY_USER: USER, OTA_REGISTRY_TOKEN: SECRET };
  const fromEnv = await registryCredentials(`${reg.host}/me/app`, { access: 'pull', env, home: work });
  assert.equal(fromEnv?.from, 'OTA_REGISTRY_TOKEN');
  const tags = await listOciTags({ ref: `${reg.host}/me/app`, credentials: fromEnv });
  assert.deepEqual(
    tags.map((t) => t.tag),
    ['1.0.0'],
  );
  assert.deepEqual(other.got, [{ method: 'GET', path: '/v2/me/app/tags/list', authorization: undefined }]);
  assert.deepEqual(
    reg.got.map((g) => g.authorization),
    [undefined, BASIC],
    'the token went to the registry it is for, once asked',
  );

  other.got.length = 0;
  reg.answer = (req, res) => {
    if (!/tags\/list/.test(req.url ?? '')) return false;
    tagList(res, `<${other.url}/v2/me/app/tags/list?last=1.0.0>; rel="next"`);
    return true;
  };
  await assert.rejects(
    listOciTags({ ref: `${reg.host}/me/app`, credentials: creds }),
    code('foreign_origin', /the next page leads to/),
  );
  assert.deepEqual(other.got, []);
});

test('Basic credentials never cross the network in clear text: a plain-HTTP registry elsewhere gets none', async () => {
  const f = resolving({ 'registry.example': reg.url });
  await assert.rejects(
    listOciTags({ ref: 'http://registry.example/me/app', credentials: creds, fetch: f }),
    code('token_unverified', /http:\/\/registry\.example is neither/),
  );
  assert.deepEqual(
    reg.got.map((g) => g.authorization),
    [undefined],
    'the anonymous request only',
  );
});

test('a token realm: credentials go to one on https or on this machine, named by a registry on either', async () => {
  const f = resolving({ 'registry.example': reg.url, 'auth.example': other.url });
  // A registry here naming a plain-HTTP realm elsewhere.
  reg.challenge = 'Bearer realm="http://auth.example/token",service="r"';
  await assert.rejects(
    listOciTags({ ref: `${reg.host}/me/app`, credentials: creds, fetch: f }),
    code('token_unverified', /http:\/\/auth\.example is neither/),
  );
  // A plain-HTTP registry elsewhere naming an https realm: its word is not verified (the board's rule).
  reg.challenge = 'Bearer realm="https://auth.example/token",service="r"';
  await assert.rejects(
    listOciTags({ ref: 'http://registry.example/me/app', credentials: creds, fetch: f }),
    code('token_unverified'),
  );
  assert.equal(other.got.length, 0, 'the token service got nothing');
  assert.ok(reg.got.every((g) => g.authorization === undefined));

  // A realm on another origin of this machine (as Docker Hub's auth.docker.io is another host): the
  // credentials go there, the token to the registry, neither anywhere else.
  reg.challenge = `Bearer realm="${other.url}/token",service="r"`;
  other.answer = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"token":"tok-1"}');
  };
  reg.answer = (req, res) => {
    if (req.headers.authorization !== 'Bearer tok-1') return false;
    tagList(res);
    return true;
  };
  reg.got.length = 0;
  const tags = await listOciTags({ ref: `${reg.host}/me/app`, credentials: creds });
  assert.deepEqual(
    tags.map((t) => t.tag),
    ['1.0.0'],
  );
  assert.deepEqual(
    other.got.map((g) => [g.path.split('?')[0], g.authorization]),
    [['/token', BASIC]],
  );
  assert.deepEqual(
    reg.got.map((g) => g.authorization),
    [undefined, 'Bearer tok-1'],
  );
});

test('docker/podman logins and the environment: matched to the registry host exactly', async () => {
  const home = join(work, 'home');
  mkdirSync(join(home, '.docker'), { recursive: true });
  const auth = (u: string) => ({ auth: Buffer.from(`${u}:pw-${u}`).toString('base64') });
  writeFileSync(
    join(home, '.docker', 'config.json'),
    JSON.stringify({
      auths: {
        'ghcr.io.evil.example': auth('suffix'),
        'https://evil.example/ghcr.io': auth('path'),
        'evilghcr.io': auth('prefix'),
        'https://index.docker.io/v1/': auth('hub'),
        'localhost:5000': auth('local'),
      },
    }),
  );
  const user = async (ref: string, env: NodeJS.ProcessEnv = {}) =>
    (await registryCredentials(ref, { access: 'pull', env, home }))?.username;
  assert.equal(await user('ghcr.io/me/app'), undefined);
  assert.equal(await user('docker.io/me/app'), 'hub');
  assert.equal(await user('index.docker.io/me/app'), 'hub');
  assert.equal(await user('registry-1.docker.io.evil.example/me/app'), undefined);
  assert.equal(await user('localhost:5000/me/app'), 'local');
  assert.equal(await user('localhost:5001/me/app'), undefined);
  assert.equal(await user('localhost/me/app'), undefined);
  assert.equal(await resolveCredentials('ghcr.io', { env: {}, home }), undefined);

  // GITHUB_TOKEN is ghcr.io's over https, and no other registry's.
  const gh = { GITHUB_TOKEN: 'ghp_x', GITHUB_ACTOR: 'octo' };
  assert.equal(await user('ghcr.io/me/app', gh), 'octo');
  for (const ref of ['http://ghcr.io/me/app', 'ghcr.io.evil.example/me/app', 'registry.example/me/app']) {
    const c = await registryCredentials(ref, { access: 'pull', env: gh, home });
    assert.notEqual(c?.password, 'ghp_x', ref);
  }
  // And it never reaches a registry that asks: that one gets no Authorization at all.
  const none = await registryCredentials(`${reg.host}/me/app`, { access: 'pull', env: gh, home });
  await assert.rejects(
    listOciTags({ ref: `${reg.host}/me/app`, credentials: none }),
    code('credentials_missing'),
  );
  assert.ok(reg.got.every((g) => g.authorization === undefined));
});

test('the broker password: over mqtts://, or to this machine, only', async () => {
  await assert.rejects(
    connectFleet({
      url: 'mqtt://broker.example:1883',
      fleet: 'f',
      user: 'u',
      password: 'pw',
      timeoutMs: 2000,
    }),
    code('token_unverified', /broker password .* mqtt:\/\/broker\.example:1883 is neither/),
  );
});
