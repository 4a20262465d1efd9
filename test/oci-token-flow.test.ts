// The registry token flow across checks (docs/protocols.md, "Token flow across checks"), on the virtual
// board against Debian's docker-registry with token auth, registry and token service each behind an
// HTTPS front under the test CA (test/support/tls-front.ts), a logging proxy in front of the registry
// (every request, its Authorization and status). A board remembers the realm the registry named (RAM,
// and .ota/ocirealm.json across reboots) and the last token while it lasts (RAM only), so a later
// check skips the anonymous 401, or the token request too. What it remembers is used for the same
// registry (scheme, host, port) and repository only, over verified TLS only; a torn, foreign or moved
// realm costs at most one fallback to the registry's own challenge.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishOci } from '../src/core/publish/oci';
import { VirtualBoard } from '../src/sim/board';
import { makePki, trustingFetch, type Pki } from './support/pki';
import { holds, image, PART_KB } from './support/firmware-fixture';
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
const T = { skip, timeout: 180_000 };
const user = 'ci';
const password = 'pw-token-flow';
const basic = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const REALM = '.ota/ocirealm.json';
/** The firmware image of priv/fw's 1.1.0 (an ESP32 app image, test/support/firmware-fixture.ts). */
const FIRMWARE = image(64 * 1024);
let work: string;
let pki: Pki;
let trust: unknown;
let reg: TestRegistry;
let proxy: RegistryProxy;
/** The registry's HTTPS front (what boards name), and its token service's. */
let front: TlsFront;
let tokenFront: TlsFront;
/**
 * Between the token service's front and the token service: rewrites the answer's expires_in and
 * issued_at as a test asks (undefined: as the service gave them).
 */
let lifetime: ((doc: Record<string, unknown>) => void) | undefined;
const servers: Server[] = [];
/** The token service's own origin (plain HTTP, behind the relay and tokenFront). */
let tokenService = '';
const fronts: TlsFront[] = [];
const cleanups: string[] = [];

/** A plain HTTP server on 127.0.0.1 logging what it gets; answers with `answer`. */
async function listen(
  answer: (
    req: IncomingMessage,
    body: (status: number, h: Record<string, string>, b?: string | Buffer) => void,
  ) => void,
): Promise<{ url: string; seen: { path: string; auth?: string }[] }> {
  const seen: { path: string; auth?: string }[] = [];
  const s = createServer((req, res) => {
    seen.push({ path: req.url ?? '', auth: req.headers.authorization });
    answer(req, (status, h, b = '') => {
      res.writeHead(status, { ...h, 'content-length': String(Buffer.byteLength(b)) });
      res.end(b);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as { port: number }).port}`, seen };
}

async function https(upstream: string): Promise<TlsFront> {
  const f = await tlsFront(upstream, pki.server);
  fronts.push(f);
  return f;
}

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-oci-token-'));
  mkdirSync(join(work, 'pki'));
  pki = makePki(join(work, 'pki'));
  const key = await generateKey('ed25519', { path: join(work, 'keys', 'k.json'), project: join(work, 'p') });
  trust = await deviceTrustEntry(key.path);
  tokenFront = await https('');
  reg = await startRegistry({
    auth: 'token',
    user,
    password,
    publicRepos: ['pub/app', 'pub/bundled'],
    tokenRealm: (origin) => {
      tokenService = origin; // reached through the rewriting relay below, behind tokenFront
      return `${tokenFront.url}/token`;
    },
  });
  const relay = await listen((req, answer) => {
    const q = new URL(req.url ?? '/', 'http://x');
    void (async () => {
      const up = await fetch(`${tokenService}${q.pathname}${q.search}`, {
        headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
      });
      let text = await up.text();
      if (up.status === 200 && lifetime) {
        const doc = JSON.parse(text) as Record<string, unknown>;
        lifetime(doc);
        text = JSON.stringify(doc);
      }
      answer(up.status, { 'content-type': 'application/json' }, text);
    })();
  });
  tokenFront.upstream = relay.url;
  const dir = join(work, 'projects', 'app');
  fx.writeTree(dir, fx.APP_1_1_0);
  writeFileSync(join(work, 'app.bin'), FIRMWARE);
  for (const repo of ['priv/app', 'pub/app', 'pub/bundled', 'priv/bundled', 'priv/fw'])
    await publishOci({
      dir,
      version: '1.1.0',
      ref: `${reg.host}/${repo}`,
      fetch: trustingFetch(pki.ca.cert),
      signKeyFile: key.path,
      bundle: repo.endsWith('/bundled'),
      build: {
        created: '2026-11-25T10:00:00Z',
        firmware: repo === 'priv/fw' ? join(work, 'app.bin') : undefined,
      },
      credentials: { username: user, password, from: 'test' },
    });
  proxy = await startRegistryProxy(reg.url);
  front = await https(proxy.url);
});
after(async () => {
  for (const f of fronts) await f.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await proxy?.close();
  await reg?.close();
  if (work) fx.cleanup(work, ...cleanups);
});

/** A board on 1.1.0, or 1.0.0 (`old`), reading `ref` over HTTPS, trusting the test CA. */
function newBoard(ref: string, extra: Record<string, unknown> = { user, password }, old = false): string {
  const config = { source: 'oci', ref, keys: [trust], retries: 0, timeout: 5, ...extra };
  const fsDir = fx.makeTlsBoard(config, pki.ca.cert, old);
  cleanups.push(fsDir);
  return fsDir;
}

interface Check {
  errors: string[];
  /** The registry's requests: "<status> <path tail> <auth kind>". */
  registry: string[];
  tokens: { authorized: boolean }[];
  /** TLS connections to the registry and to its token service. */
  connections: [number, number];
  output: string;
}

const said = (q: ProxiedRequest) =>
  `${q.status} ${q.path.replace(/^.*\/(manifests|blobs)\//, '$1/')} ${q.authorization?.split(' ')[0] ?? 'none'}`;

/**
 * One boot of the board: runs each snippet in turn in the same interpreter (checks in one boot) and
 * returns what each check did. `before(i)` runs before snippet i (the proxy's hook for it).
 */
async function boot(
  fsDir: string,
  snippets: string[],
  before?: (i: number) => void,
  opts: { heapKb?: number; partitions?: { sizeKb: number } } = {},
): Promise<Check[]> {
  const board = VirtualBoard.create({ fsDir, heapKb: fx.BOARD_HEAP_KB, ...opts }, true);
  let out = '';
  board.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const checks: Check[] = [];
  try {
    await board.powerUp(true);
    for (const [i, code] of snippets.entries()) {
      before?.(i);
      const [r0, t0, f0, k0, o0] = [
        proxy.requests.length,
        reg.tokenRequests.length,
        front.counts(),
        tokenFront.counts(),
        out.length,
      ];
      const r = await board.execRaw(code);
      assert.notEqual(r.kind, 'exception', r.text + out.slice(o0));
      const output = out.slice(o0);
      checks.push({
        errors: fx.errorCodes(output),
        registry: proxy.requests.slice(r0).map(said),
        tokens: reg.tokenRequests.slice(t0),
        connections: [since(f0, front.counts()).connections, since(k0, tokenFront.counts()).connections],
        output,
      });
    }
  } finally {
    proxy.hook = undefined;
    await board.stop();
  }
  return checks;
}

const CHECK = 'import ota\nota.update(False)\n';
const realmOf = (fsDir: string) => JSON.parse(readFileSync(join(fsDir, REALM), 'utf8'));

test(
  'a second check in one boot asks the registry only; after a reboot the stored realm skips the 401',
  T,
  async () => {
    const fsDir = newBoard(`${front.url}/priv/app`);
    const [first, second] = await boot(fsDir, [CHECK, CHECK]);
    assert.deepEqual(first.errors, [], first.output);
    assert.deepEqual(first.registry, [
      '401 manifests/stable.board none',
      '200 manifests/stable.board Bearer',
    ]);
    assert.deepEqual(
      first.tokens.map((q) => q.authorized),
      [true],
    );
    assert.deepEqual(first.connections, [2, 1]);
    assert.deepEqual(realmOf(fsDir), {
      key: `${front.url}/priv/app`,
      p: {
        realm: `${tokenFront.url}/token`,
        service: 'ota-test-registry',
        scope: 'repository:priv/app:pull',
      },
    });
    // The same boot: the token is still valid (expires_in 300), so one request, a 304.
    assert.deepEqual(second.errors, [], second.output);
    assert.deepEqual(second.registry, ['304 manifests/stable.board Bearer']);
    assert.deepEqual(second.tokens, []);
    assert.deepEqual(second.connections, [1, 0]);
    // A reboot: no token in RAM, the realm from flash: the token service first, no 401.
    const [third] = await boot(fsDir, [CHECK]);
    assert.deepEqual(third.errors, [], third.output);
    assert.deepEqual(third.registry, ['304 manifests/stable.board Bearer']);
    assert.deepEqual(
      third.tokens.map((q) => q.authorized),
      [true],
    );
    assert.deepEqual(third.connections, [1, 1]);
  },
);

test('a public package (anonymous token): the same, and the token never reaches flash', T, async () => {
  const fsDir = newBoard(`${front.url}/pub/app`, {});
  const checks = await boot(fsDir, [CHECK, CHECK]);
  assert.deepEqual(
    checks.map((c) => [c.errors, c.registry, c.tokens.map((q) => q.authorized)]),
    [
      [[], ['401 manifests/stable.board none', '200 manifests/stable.board Bearer'], [false]],
      [[], ['304 manifests/stable.board Bearer'], []],
    ],
  );
  const flash = fx.listTree(join(fsDir, '.ota')).map((p) => readFileSync(join(fsDir, '.ota', p), 'latin1'));
  assert.ok(!flash.some((b) => b.includes('eyJ')), 'no JWT in .ota');
});

test('how long a token opens later checks: expires_in (60 s when absent), issued_at', T, async () => {
  const now = Math.floor(Date.now() / 1000);
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const cases: [string, (d: Record<string, unknown>) => void, boolean][] = [
    ['no expires_in: 60 s', (d) => delete d.expires_in, true],
    ['expires_in 5: less than the margin', (d) => (d.expires_in = 5), false],
    ['issued 290 s ago, expires_in 300', (d) => (d.issued_at = iso(now - 290)), false],
    [
      'issued now, expires_in 300, fractions and +00:00',
      (d) => (d.issued_at = iso(now).replace('Z', '+00:00')),
      true,
    ],
    [
      'issued_at in another offset: not counted',
      (d) => (d.issued_at = iso(now).replace('Z', '+02:00')),
      false,
    ],
    ['expires_in not a number', (d) => (d.expires_in = '300'), false],
    ['expires_in 0: this check only', (d) => (d.expires_in = 0), false],
    ['expires_in negative', (d) => (d.expires_in = -300), false],
    ['expires_in 2^53, a big integer: taken (capped at an hour)', (d) => (d.expires_in = 2 ** 53), true],
    ['issued_at in the future: expires_in from now', (d) => (d.issued_at = iso(now + 86_400)), true],
  ];
  try {
    for (const [name, rewrite, reused] of cases) {
      lifetime = rewrite;
      const fsDir = newBoard(`${front.url}/priv/app`);
      const [, second] = await boot(fsDir, [CHECK, CHECK]);
      assert.deepEqual(second.errors, [], `${name}: ${second.output}`);
      assert.equal(second.tokens.length, reused ? 0 : 1, name);
      // Either way, no 401: the realm is remembered.
      assert.deepEqual(second.registry, ['304 manifests/stable.board Bearer'], name);
    }
  } finally {
    lifetime = undefined;
  }
});

test('a torn, oversized or foreign realm file is ignored, dropped and relearned', T, async () => {
  const catcher = await listen((_req, answer) => answer(200, {}, '{"token":"caught"}'));
  const catcherTls = await https(catcher.url);
  const good = { key: `${front.url}/priv/app`, p: { realm: `${tokenFront.url}/token` } };
  const bad: [string, string][] = [
    ['torn', JSON.stringify(good).slice(0, 40)],
    ['oversized', JSON.stringify({ ...good, pad: 'x'.repeat(1200) })],
    ['another registry', JSON.stringify({ ...good, key: `https://127.0.0.1:9/priv/app` })],
    ['another repository', JSON.stringify({ ...good, key: `${front.url}/pub/app` })],
    [
      'the same host over http',
      JSON.stringify({ ...good, key: `${front.url.replace('https', 'http')}/priv/app` }),
    ],
    ['a realm over http', JSON.stringify({ ...good, p: { realm: `${catcher.url}/token` } })],
    ['a quote in the scope', JSON.stringify({ ...good, p: { realm: `${catcherTls.url}/t`, scope: 'a" b' } })],
  ];
  for (const [name, text] of bad) {
    const fsDir = newBoard(`${front.url}/priv/app`);
    const realm = join(fsDir, REALM);
    mkdirSync(join(fsDir, '.ota'), { recursive: true });
    writeFileSync(
      realm,
      name === 'another registry' ? text.replace(good.p.realm, `${catcherTls.url}/t`) : text,
    );
    writeFileSync(`${realm}.1`, text);
    const [c] = await boot(fsDir, [CHECK]);
    assert.deepEqual(c.errors, [], `${name}: ${c.output}`);
    assert.deepEqual(
      c.registry,
      ['401 manifests/stable.board none', '200 manifests/stable.board Bearer'],
      `${name}: probed`,
    );
    assert.deepEqual(realmOf(fsDir).key, `${front.url}/priv/app`, `${name}: relearned`);
    assert.equal(realmOf(fsDir).p.realm, `${tokenFront.url}/token`, name);
  }
  assert.deepEqual(catcher.seen, [], 'nothing went to a realm the file named wrongly');
});

test('a realm the registry moved, or whose token it refuses, is relearned with one fallback', T, async () => {
  // A token service that hands out tokens the registry does not trust.
  const stale = await listen((_req, answer) => answer(200, {}, '{"token":"stale-token","expires_in":300}'));
  const staleTls = await https(stale.url);
  const closed = await https(''); // connects, then nothing behind it
  for (const [name, realm, tokens] of [
    ['token refused', `${staleTls.url}/token`, 1],
    ['realm gone', `${closed.url}/token`, 1],
  ] as const) {
    const fsDir = newBoard(`${front.url}/priv/app`);
    mkdirSync(join(fsDir, '.ota'), { recursive: true });
    writeFileSync(join(fsDir, REALM), JSON.stringify({ key: `${front.url}/priv/app`, p: { realm } }));
    const [c, again] = await boot(fsDir, [CHECK, CHECK]);
    assert.deepEqual(c.errors, [], `${name}: ${c.output}`);
    const probe =
      name === 'token refused' ? '401 manifests/stable.board Bearer' : '401 manifests/stable.board none';
    assert.deepEqual(c.registry, [probe, '200 manifests/stable.board Bearer'], name);
    assert.equal(c.tokens.length, tokens, name);
    assert.equal(realmOf(fsDir).p.realm, `${tokenFront.url}/token`, `${name}: relearned`);
    assert.deepEqual(again.registry, ['304 manifests/stable.board Bearer'], `${name}: then straight on`);
  }
  assert.equal(stale.seen.length, 1, 'the stale realm was asked once');
  assert.equal(stale.seen[0].auth, basic, 'with the credentials: the registry named it before');
});

test('a plain-HTTP registry never gets credentials, nor a realm stored or named for it', T, async () => {
  const ref = `${proxy.url}/priv/app`;
  const fsDir = newBoard(ref);
  mkdirSync(join(fsDir, '.ota'), { recursive: true });
  writeFileSync(join(fsDir, REALM), JSON.stringify({ key: ref, p: { realm: `${tokenFront.url}/token` } }));
  const tokens = reg.tokenRequests.length;
  const [c] = await boot(fsDir, [CHECK]);
  // Its challenge names an HTTPS realm, which would verify: but the name came over plain HTTP.
  assert.deepEqual(c.errors, ['token_unverified'], c.output);
  assert.deepEqual(c.registry, ['401 manifests/stable.board none']);
  assert.equal(reg.tokenRequests.length, tokens, 'no token request');
  assert.ok(!existsSync(join(fsDir, REALM)), 'the file is dropped');
  assert.equal(fx.listTree(join(fsDir, '.ota')).filter((p) => p.startsWith('ocirealm')).length, 0);
});

test("a hostile registry gets neither another registry's token nor a request to its realm", T, async () => {
  // Answers every request 401 with a challenge of its own, and logs what it is sent.
  const hostile = await listen((_req, answer) =>
    answer(401, { 'www-authenticate': 'Basic realm="hostile"' }, '{"errors":[]}'),
  );
  const hostileTls = await https(hostile.url);
  const fsDir = newBoard(`${front.url}/priv/app`);
  const cfg = JSON.parse(readFileSync(join(fsDir, 'ota_config.json'), 'utf8'));
  // One boot: a check against the real registry (a token in RAM, its realm on flash), then the
  // board's reference moves to the hostile registry (the same credentials) for a check, then back.
  const moveTo = (ref: string) =>
    `import json\nwith open("ota_config.json", "w") as f:\n    f.write(${JSON.stringify(
      JSON.stringify({ ...cfg, ref }),
    )})\n` + CHECK;
  const checks = await boot(fsDir, [
    CHECK,
    moveTo(`${hostileTls.url}/priv/app`),
    moveTo(`${front.url}/priv/app`),
  ]);
  const tokens = checks[1].tokens;
  assert.deepEqual(checks[0].errors, [], checks[0].output);
  assert.deepEqual(checks[1].errors, ['auth_failed'], checks[1].output);
  assert.deepEqual(tokens, [], "the real registry's token service was not asked");
  assert.deepEqual(
    hostile.seen.map((q) => q.auth?.split(' ')[0] ?? 'none'),
    ['none', 'Basic'],
    'first anonymous, then what it asked for (its own Basic challenge): never a Bearer token',
  );
  // Its check dropped the other registry's realm; the next check against the real one probes again.
  assert.deepEqual(checks[2].errors, [], checks[2].output);
  assert.deepEqual(checks[2].registry, [
    '401 manifests/stable.board none',
    '304 manifests/stable.board Bearer',
  ]);
});

test('a registry naming a new realm at every request costs one realm write per check', T, async () => {
  // Over verified TLS: each registry request is refused once with a challenge naming a realm never
  // named before; the token from it opens that request, which is then answered from the real registry.
  const pull = await fetch(`${tokenService}/token?scope=repository:pub/app:pull&service=ota-test-registry`);
  const real = `Bearer ${((await pull.json()) as { token: string }).token}`;
  let n = 0;
  let opened = false;
  let hostileTls: TlsFront | undefined = undefined;
  const hostile = await listen((req, answer) => {
    const path = req.url ?? '';
    const realm = /^\/r(\d+)\?/.exec(path);
    if (realm) return answer(200, { 'content-type': 'application/json' }, `{"token":"t${realm[1]}"}`);
    if (req.headers.authorization !== `Bearer t${n}` || opened) {
      n++;
      opened = false;
      const challenge = `Bearer realm="${hostileTls!.url}/r${n}",service="x",scope="repository:pub/app:pull"`;
      return answer(401, { 'www-authenticate': challenge }, '{"errors":[]}');
    }
    opened = true;
    void (async () => {
      const headers: Record<string, string> = { authorization: real };
      for (const h of ['accept', 'range', 'if-none-match'])
        if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      const up = await fetch(`${reg.url}${path}`, { headers });
      const h: Record<string, string> = {};
      for (const k of ['content-type', 'etag', 'docker-content-digest'])
        if (up.headers.get(k)) h[k] = up.headers.get(k)!;
      answer(up.status, h, Buffer.from(await up.arrayBuffer()));
    })();
  });
  hostileTls = await https(hostile.url);
  const fsDir = newBoard(`${hostileTls.url}/pub/app`, {}, true);
  // Counts the board's writes of the realm file through its own write path (ota.fsx).
  const counting =
    'import ota.fsx as F\nW = F.write_json\nN = [0]\n' +
    'def _w(p, o):\n    if p.endswith("ocirealm.json"):\n        N[0] += 1\n    return W(p, o)\n' +
    'F.write_json = _w\n';
  const checks = await boot(fsDir, [counting + CHECK + 'print("realm writes", N[0])\n']);
  assert.deepEqual(checks[0].errors, [], checks[0].output);
  assert.ok(n >= 4, `the registry named ${n} realms in the check`);
  assert.match(checks[0].output, /realm writes 1\b/);
  assert.equal(realmOf(fsDir).p.realm, `${hostileTls.url}/r1`, 'the first realm of the check is stored');
});

test('a token kept from an earlier check leaves the 160 KB board room for the bundle', T, async () => {
  // A board with nothing installed: a check (the token stays in RAM), then the install from the
  // bundle, whose 32 KB window needs one free block (docs/protocols.md, the heap at the download step).
  const fsDir = newBoard(`${front.url}/pub/bundled`, {});
  fx.cleanup(...['main.py', 'lib', 'settings.json', 'ota_hooks', 'version.json'].map((p) => join(fsDir, p)));
  const [check, update] = await boot(fsDir, ['import ota\nota.check()\n', CHECK]);
  assert.deepEqual(check.errors, [], check.output);
  assert.deepEqual(update.errors, [], update.output);
  assert.deepEqual(
    fx.eventsOf(update.output).filter((e) => e.ev === 'warning'),
    [],
    'no no_memory: the bundle, not file by file',
  );
  assert.equal(update.registry[0], '200 manifests/stable.board Bearer', 'the token from the check');
  const blobs = update.registry.filter((q) => q.includes(' blobs/'));
  assert.equal(blobs.length, 1, `one blob, the bundle: ${blobs.join(', ')}`);
  assert.match(blobs[0], /^200 .* Bearer$/);
  assert.deepEqual(update.tokens, []);
  assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']), fx.hashFiles(fx.APP_1_1_0));
});

test('a private package (password) installs from the bundle on the 160 KB board', T, async () => {
  // A board with nothing installed, its first check of a boot: the anonymous 401, a token got with the
  // credentials over verified TLS, then the bundle, whose 32 KB window needs one free block beside what
  // the token flow keeps (the token, its realm, the credentials' comparison: ota.oci.kept).
  const fsDir = newBoard(`${front.url}/priv/bundled`);
  fx.cleanup(...['main.py', 'lib', 'settings.json', 'ota_hooks', 'version.json'].map((p) => join(fsDir, p)));
  const [update] = await boot(fsDir, [CHECK]);
  assert.deepEqual(update.errors, [], update.output);
  assert.deepEqual(
    fx.eventsOf(update.output).filter((e) => e.ev === 'warning'),
    [],
    'no no_memory: the bundle, not file by file',
  );
  assert.deepEqual(update.registry.slice(0, 2), [
    '401 manifests/stable.board none',
    '200 manifests/stable.board Bearer',
  ]);
  const blobs = update.registry.slice(2);
  assert.equal(blobs.length, 1, `one blob, the bundle, no file one by one: ${blobs.join(', ')}`);
  assert.match(blobs[0], /^200 blobs\/.* Bearer$/);
  assert.deepEqual(
    update.tokens.map((q) => q.authorized),
    [true],
  );
  assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']), fx.hashFiles(fx.APP_1_1_0));
});

// A token that stops working at any request of a check (docs/protocols.md, "Token flow across checks"):
// refused with 403 (no challenge) or 401 (the registry's own challenge, as to an expired token), it is
// dropped and the flow done once more for that request; refused again, auth_failed.

const ONLY_CHECK = 'import ota\nota.check()\n';
const bearerOf = (q: ProxiedRequest) =>
  q.authorization?.startsWith('Bearer ') ? q.authorization : undefined;
const registryOf = (from: number) => proxy.requests.slice(from).filter((q) => q.origin === 'registry');
/** 1.0.0 updated to 1.1.0 (published without deletions: old.py stays). */
const UPDATED = { ...fx.APP_1_0_0, ...fx.APP_1_1_0 };
const sha = (b: string | Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('a kept token the registry answers 403 is dropped: one new token, the update goes on', T, async () => {
  // The second check starts with the first check's token; the registry refuses it (403, no challenge).
  const fsDir = newBoard(`${front.url}/priv/app`, { user, password }, true);
  let kept: string | undefined;
  const [, update] = await boot(fsDir, [ONLY_CHECK, CHECK], (i) => {
    proxy.hook = (q) => {
      const b = bearerOf(q);
      if (i === 0) kept ??= b;
      return i === 1 && b === kept ? 403 : undefined;
    };
  });
  assert.deepEqual(update.errors, [], update.output);
  assert.deepEqual(update.registry.slice(0, 2), [
    '403 manifests/stable.board Bearer',
    '200 manifests/stable.board Bearer',
  ]);
  const blobs = update.registry.slice(2);
  assert.ok(blobs.length >= 3 && blobs.every((l) => /^200 blobs\/.* Bearer$/.test(l)), blobs.join('\n'));
  assert.deepEqual(
    update.tokens.map((q) => q.authorized),
    [true],
    'one new token, from the realm the board knew (no anonymous 401)',
  );
  assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']), fx.hashFiles(UPDATED));

  // Mid-download: the token got for this check's .board is refused at the first blob.
  const again = newBoard(`${front.url}/priv/app`, { user, password }, true);
  let blob = '';
  const [c] = await boot(again, [CHECK], () => {
    proxy.hook = (q) => {
      if (blob || !q.path.includes('/blobs/')) return undefined;
      blob = q.path;
      return 403;
    };
  });
  assert.deepEqual(c.errors, [], c.output);
  const at = c.registry.findIndex((l) => l.startsWith('403 '));
  assert.match(c.registry[at], /^403 blobs\/.* Bearer$/);
  assert.equal(c.registry[at + 1], c.registry[at].replace('403', '200'), 'the same blob, asked again');
  assert.deepEqual(
    c.tokens.map((q) => q.authorized),
    [true, true],
  );
  assert.deepEqual(fx.hashTree(again, [...fx.NOT_APP, 'certs']), fx.hashFiles(UPDATED));
});

test(
  'a repository the registry denies: auth_failed after exactly one new token, nothing changes',
  T,
  async () => {
    const fsDir = newBoard(`${front.url}/priv/app`, { user, password }, true);
    const from = proxy.requests.length;
    const checks = await boot(fsDir, [ONLY_CHECK, CHECK, CHECK], (i) => {
      proxy.hook = (q) => (i > 0 && bearerOf(q) ? 403 : undefined);
    });
    assert.deepEqual(checks[0].errors, [], checks[0].output);
    for (const c of checks.slice(1)) {
      assert.deepEqual(c.errors, ['auth_failed'], c.output);
      assert.match(c.output, /the registry refused access to priv\/app \(HTTP 403\)/);
      assert.deepEqual(c.registry, [
        '403 manifests/stable.board Bearer',
        '403 manifests/stable.board Bearer',
      ]);
    }
    // The kept token, then one new one. The next check does not start with the refused token: a new
    // one from the realm, refused, and one more: still two requests.
    assert.equal(checks[1].tokens.length, 1);
    assert.equal(checks[2].tokens.length, 2);
    const sent = registryOf(from).map(bearerOf);
    assert.equal(new Set(sent.slice(2)).size, 4, 'no refused token sent again');
    assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']), fx.hashFiles(fx.APP_1_0_0));
  },
);

test('a token that runs out between the .board and a blob: a new one, the cut blob resumes', T, async () => {
  const fsDir = newBoard(`${front.url}/priv/app`, { user, password }, true);
  const file = String(fx.APP_1_1_0['lib/new.py']);
  const blob = `/blobs/${sha(file)}`;
  let from = 0;
  const start = proxy.requests.length;
  let between = '';
  const checks = await boot(fsDir, [CHECK, CHECK], (i) => {
    let done = false;
    from = proxy.requests.length;
    if (i === 1) between = JSON.stringify(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']));
    proxy.hook = (q) => {
      if (done || !q.path.endsWith(i === 0 ? blob : '')) return undefined;
      if (i === 0 || q.path.includes('/blobs/')) done = true;
      if (i === 0) return 'cut'; // the first check loses the connection half-way through lib/new.py
      if (done) proxy.expireTokens(); // then the token runs out before the second check's first blob
      return undefined;
    };
  });
  assert.deepEqual(checks[0].errors, ['network'], checks[0].output);
  assert.equal(between, JSON.stringify(fx.hashFiles(fx.APP_1_0_0)), 'the old release, byte-identical');
  const cut = proxy.requests.slice(start).find((q) => q.path.endsWith(blob))!.bytes;
  assert.ok(cut > 0 && cut < file.length);
  const second = checks[1];
  assert.deepEqual(second.errors, [], second.output);
  const asked = registryOf(from);
  assert.deepEqual(
    asked.slice(0, 3).map((q) => [said(q), q.range]),
    [
      ['200 manifests/stable.board Bearer', undefined],
      [`401 blobs/${sha(file)} Bearer`, `bytes=${cut}-`],
      [`206 blobs/${sha(file)} Bearer`, `bytes=${cut}-`],
    ],
  );
  assert.equal(asked[2].bytes, file.length - cut, 'resumed, not restarted');
  assert.notEqual(asked[2].authorization, asked[1].authorization);
  assert.deepEqual(
    second.tokens.map((q) => q.authorized),
    [true],
  );
  assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']), fx.hashFiles(UPDATED));
});

test('a token that runs out before the bundle request: a new one, the bundle still comes', T, async () => {
  // The bundle request is made while the bundle's 33 KB window is held (updater._window). The login
  // there lets the window go (its code and the token's answer need that room) and takes it again
  // after, so the standard 160 KB board keeps the bundle, anonymous or with the password.
  const cases = [
    [224, 'pub/bundled', {}],
    [fx.BOARD_HEAP_KB, 'pub/bundled', {}],
    [fx.BOARD_HEAP_KB, 'priv/bundled', { user, password }],
  ] as const;
  for (const [heapKb, repo, creds] of cases) {
    const fsDir = newBoard(`${front.url}/${repo}`, creds);
    fx.cleanup(
      ...['main.py', 'lib', 'settings.json', 'ota_hooks', 'version.json'].map((p) => join(fsDir, p)),
    );
    const [, update] = await boot(
      fsDir,
      [ONLY_CHECK, CHECK],
      (i) => {
        let expired = false;
        proxy.hook = (q) => {
          if (i === 1 && !expired && q.path.includes('/blobs/')) {
            expired = true;
            proxy.expireTokens();
          }
          return undefined;
        };
      },
      { heapKb },
    );
    const name = `${repo}, ${heapKb} KB`;
    assert.deepEqual(update.errors, [], `${name}: ${update.output}`);
    assert.equal(update.registry[0], '200 manifests/stable.board Bearer', name);
    assert.match(update.registry[1], /^401 blobs\/.* Bearer$/, name);
    assert.deepEqual(
      fx.eventsOf(update.output).filter((e) => e.ev === 'warning'),
      [],
      `${name}: the bundle, not file by file ${update.output}`,
    );
    // The same blob (the bundle) once more with the new token, and no other.
    assert.deepEqual(update.registry.slice(2), [update.registry[1].replace('401', '200')], name);
    assert.deepEqual(
      update.tokens.map((q) => q.authorized),
      [repo.startsWith('priv/')],
      name,
    );
    assert.deepEqual(fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']), fx.hashFiles(fx.APP_1_1_0), name);
  }
});

test('a token that runs out before the firmware image: a new one, the image is written', T, async () => {
  const fsDir = newBoard(`${front.url}/priv/fw`, { user, password }, true);
  cleanups.push(`${fsDir}.partitions`);
  const blob = `/blobs/${sha(FIRMWARE)}`;
  const [, update] = await boot(
    fsDir,
    [ONLY_CHECK, CHECK],
    (i) => {
      let expired = false;
      proxy.hook = (q) => {
        if (i === 1 && !expired && q.path.endsWith(blob)) {
          expired = true;
          proxy.expireTokens();
        }
        return undefined;
      };
    },
    { partitions: { sizeKb: PART_KB } },
  );
  assert.deepEqual(update.errors, [], update.output);
  const image = update.registry.filter((l) => l.includes(sha(FIRMWARE)));
  assert.deepEqual(image, [`401 blobs/${sha(FIRMWARE)} Bearer`, `200 blobs/${sha(FIRMWARE)} Bearer`]);
  assert.deepEqual(
    update.tokens.map((q) => q.authorized),
    [true],
  );
  assert.ok(holds(fsDir, 'ota_1', FIRMWARE), 'ota_1 holds the new image');
});
