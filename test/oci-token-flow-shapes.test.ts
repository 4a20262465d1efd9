// The registry token flow against the shapes real registries give it (docs/protocols.md, "Token flow
// across checks"), on Debian's docker-registry: a token naming its key by `kid` (ES256, the libtrust
// key ID of a key the registry trusts: the smallest token it takes) instead of carrying the certificate
// (`x5c`), and a ghcr.io-shaped service: the realm on the registry's own origin
// (https://ghcr.io/token), an answer of {"token"} only (no expires_in: 60 s). The board asks such a
// realm over the connection it reads the registry on: one TLS connection for a check.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishOci } from '../src/core/publish/oci';
import { VirtualBoard } from '../src/sim/board';
import { makePki, trustingFetch, type Pki } from './support/pki';
import * as fx from './support/release-fixture';
import {
  registryMissing,
  startRegistry,
  startRegistryProxy,
  type ProxiedRequest,
  type RegistryProxy,
  type TestRegistry,
} from './support/registry';
import { since, tlsFront, type TlsFront } from './support/tls-front';

const skip = registryMissing(['/usr/bin/openssl']);
const T = { skip, timeout: 120_000 };
const user = 'ci';
const password = 'pw-shapes';
let work: string;
let pki: Pki;
let trust: unknown;
let reg: TestRegistry;
let proxy: RegistryProxy;
/** The registry's HTTPS front, which also serves its realm (/token). */
let front: TlsFront;
const cleanups: string[] = [];

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-oci-shapes-'));
  mkdirSync(join(work, 'pki'));
  pki = makePki(join(work, 'pki'));
  const key = await generateKey('ed25519', { path: join(work, 'keys', 'k.json'), project: join(work, 'p') });
  trust = await deviceTrustEntry(key.path);
  front = await tlsFront(undefined, pki.server);
  reg = await startRegistry({
    auth: 'token',
    user,
    password,
    publicRepos: ['pub/app'],
    token: { key: 'kid', answer: 'ghcr' },
    tokenRealm: () => `${front.url}/token`,
  });
  proxy = await startRegistryProxy(reg.url, { tokenService: reg.tokenService });
  front.upstream = proxy.url;
  const dir = join(work, 'projects', 'app');
  fx.writeTree(dir, fx.APP_1_1_0);
  for (const repo of ['priv/app', 'pub/app'])
    await publishOci({
      dir,
      version: '1.1.0',
      ref: `${reg.host}/${repo}`,
      fetch: trustingFetch(pki.ca.cert),
      signKeyFile: key.path,
      bundle: false,
      build: { created: '2026-11-25T10:00:00Z' },
      credentials: { username: user, password, from: 'test' },
    });
});
after(async () => {
  await front?.close();
  await proxy?.close();
  await reg?.close();
  if (work) fx.cleanup(work, ...cleanups);
});

test("Debian's docker-registry takes a kid token and refuses one naming another key", T, async () => {
  const scope = 'scope=repository:pub/app:pull&service=ota-test-registry';
  const tags = (auth: string) =>
    reg.fetch(`${reg.url}/v2/pub/app/tags/list`, { headers: { authorization: auth } });
  const got = (await (await fetch(`${reg.tokenService}/token?${scope}`)).json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(got), ['token'], 'the ghcr.io answer: the token only');
  const token = got.token as string;
  const [head, claims] = token
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  assert.equal(head.alg, 'ES256');
  assert.match(head.kid, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  assert.equal(head.x5c, undefined);
  assert.deepEqual(Object.keys(claims), ['iss', 'aud', 'exp', 'access']);
  assert.ok(token.length < 500, `${token.length} B`);
  assert.equal((await tags(`Bearer ${token}`)).status, 200);
  // The same token naming a key ID the registry does not hold: refused, so the kid is what it checks.
  const other = { ...head, kid: head.kid.replace(/^./, (c: string) => (c === 'A' ? 'B' : 'A')) };
  const forged = [Buffer.from(JSON.stringify(other)).toString('base64url'), ...token.split('.').slice(1)];
  assert.equal((await tags(`Bearer ${forged.join('.')}`)).status, 401);
  // And x5c tokens still go (the registry trusts both keys).
  reg.token.key = 'x5c';
  try {
    const x5c = ((await (await fetch(`${reg.tokenService}/token?${scope}`)).json()) as { token: string })
      .token;
    assert.ok(x5c.length > 1500, `${x5c.length} B`);
    assert.equal((await tags(`Bearer ${x5c}`)).status, 200);
  } finally {
    reg.token.key = 'kid';
  }
});

/** A board on 1.1.0 (idle checks) or 1.0.0 (`old`: an update), reading `ref` over HTTPS. */
function newBoard(ref: string, extra: Record<string, unknown>, old = false): string {
  const config = { source: 'oci', ref, keys: [trust], retries: 0, timeout: 5, ...extra };
  const fsDir = fx.makeTlsBoard(config, pki.ca.cert, old);
  cleanups.push(fsDir);
  return fsDir;
}

const said = (q: ProxiedRequest) =>
  `${q.status} ${q.origin === 'token' ? 'token' : q.path.replace(/^.*\/(manifests|blobs)\//, '$1/')} ` +
  (q.authorization?.split(' ')[0] ?? 'none');

/** One boot running each snippet as a check: its errors, requests at the front and TLS connections. */
async function boot(fsDir: string, snippets: string[]) {
  const board = VirtualBoard.create({ fsDir, heapKb: fx.BOARD_HEAP_KB }, true);
  let out = '';
  board.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const checks: { errors: string[]; requests: string[]; connections: number; output: string }[] = [];
  try {
    await board.powerUp(true);
    for (const code of snippets) {
      const [r0, c0, o0] = [proxy.requests.length, front.counts(), out.length];
      const r = await board.execRaw(code);
      assert.notEqual(r.kind, 'exception', r.text + out.slice(o0));
      const output = out.slice(o0);
      checks.push({
        errors: fx.errorCodes(output),
        requests: proxy.requests.slice(r0).map(said),
        connections: since(c0, front.counts()).connections,
        output,
      });
    }
  } finally {
    await board.stop();
  }
  return checks;
}

const CHECK = 'import ota\nota.update(False)\n';

test(
  'a ghcr.io-shaped registry: the token asked on the kept connection, one connection a check',
  T,
  async () => {
    for (const [name, extra, auth] of [
      ['public package', {}, 'none'],
      ['private package', { user, password }, 'Basic'],
    ] as const) {
      const repo = name === 'public package' ? 'pub/app' : 'priv/app';
      const [first, later] = await boot(newBoard(`${front.url}/${repo}`, extra), [CHECK, CHECK]);
      assert.deepEqual(first.errors, [], `${name}: ${first.output}`);
      assert.deepEqual(
        first.requests,
        ['401 manifests/stable.board none', `200 token ${auth}`, '200 manifests/stable.board Bearer'],
        name,
      );
      assert.equal(first.connections, 1, `${name}: the 401, the token and the .board on one connection`);
      // The token request is the realm, the challenge's scope and service, and nothing escaped that a
      // query may carry as it is (":" and "/").
      const asked = proxy.requests.filter((q) => q.origin === 'token').at(-1)!;
      assert.equal(asked.path, `/token?scope=repository:${repo}:pull&service=ota-test-registry`, name);
      // No expires_in: the token opens checks for 60 s (less a margin), so the next asks the registry only.
      assert.deepEqual(later.errors, [], `${name}: ${later.output}`);
      assert.deepEqual(later.requests, ['304 manifests/stable.board Bearer'], name);
      assert.equal(later.connections, 1, name);
    }
    // An update: the same token flow on the one connection the check reads the registry on.
    const [up] = await boot(newBoard(`${front.url}/pub/app`, {}, true), [CHECK]);
    assert.deepEqual(up.errors, [], up.output);
    assert.deepEqual(up.requests.slice(0, 3), [
      '401 manifests/stable.board none',
      '200 token none',
      '200 manifests/stable.board Bearer',
    ]);
    assert.ok(
      up.requests.slice(3).every((r) => /^200 blobs\/sha256:[0-9a-f]{64} Bearer$/.test(r)),
      up.requests.join('\n'),
    );
    // No header a request does not need: the manifest's one media type and the token, nothing else (no
    // User-Agent, no Accept on blobs); the anonymous token request carries only its Host.
    const sent = proxy.requests
      .slice(-up.requests.length)
      .map((q) => `${q.origin} ${[...q.headers].sort().join(',')}`);
    assert.deepEqual(sent.slice(0, 3), [
      'registry accept,host',
      'token host',
      'registry accept,authorization,host',
    ]);
    assert.ok(
      sent.slice(3).every((h) => h === 'registry authorization,host'),
      sent.join('\n'),
    );
  },
);
