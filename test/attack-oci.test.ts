// Attack suite, OCI: a hostile registry (test/attack-oci-registry.ts) against the real updater on the
// virtual board. Two boards run every row in turn (the driver of test/attack-server.ts): one pulls
// anonymously over http:// with the registry's Bearer token flow, the other holds credentials and
// reaches the registry over verified TLS (a test CA). Each row replaces some answers of the registry
// (the tag's `.board` manifest, the token flow, a blob) and names the one error code the board must
// report; after every row the installed release must be byte-identical, and credentials (Basic, or
// a token) may have gone to the registry's origin only (and, for a Docker Hub-shaped realm, to the
// token service it names over verified TLS). The last row is a normal update that must succeed.
import { after, before, suite, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYER_MEDIA } from '../src/core/publish/oci';
import { driver, flood, framed, headOf } from './attack-server';
import {
  sha256,
  startHostileRegistry,
  store,
  type Hook,
  type Hooked,
  type HostileRegistry,
  type Req,
  type Seen,
  type Stored,
} from './attack-oci-registry';
import type { Answer } from './attack-server';
import { makePki, type Pki } from './support/pki';
import * as fx from './support/release-fixture';
import { missingService } from './support/service';

type Board = 'public' | 'private';
const USER = 'ci';
const PASSWORD = 'pw-hostile-9';
const noOpenssl = missingService(['openssl']);
if (noOpenssl) console.log(`# skipped: ${noOpenssl}`);

interface Row {
  name: string;
  /** Boards the row runs on (default both). */
  only?: Board[];
  /** The row's answers, made when it starts. */
  hook?: (reg: HostileRegistry) => Hook;
  /** Expected error code (null: no error), for both boards or per board. */
  expect: string | null | Partial<Record<Board, string | null>>;
  /** A Docker Hub-shaped realm on `elsewhere`: Basic may go to its /token over verified TLS. */
  realmElsewhere?: boolean;
  /** A problem with what the row's requests were, or undefined. */
  check?: (seen: Seen[], reg: HostileRegistry) => string | undefined;
}

// ---- the release ------------------------------------------------------------------------------

const keys = fx.makeKeys();
const key = fx.boardKey(keys, 'hmac-sha256', 'k1');
let v110: Stored;
let v100: Stored;
const attacked = Buffer.from(String(fx.APP_1_1_0['lib/new.py']));
const attackedDigest = sha256(attacked);

async function stored(version: string, files: fx.AppFiles, extra: fx.ReleaseOptions): Promise<Stored> {
  const rel = await fx.makeRelease(version, files, extra);
  cleanups.push(rel.dir);
  const sig = fx.signBytes(keys, 'hmac-sha256', rel.bytes, 'k1');
  return store(
    version,
    rel.bytes,
    sig,
    rel.manifest.files.map((f) => readFileSync(join(rel.dir, f.path))),
  );
}

/** A `.board` document put together from parts (defaults: the 1.1.0 release's), as raw JSON text. */
function board(p: {
  head?: string;
  config?: Record<string, unknown>;
  /** The config as raw JSON text (duplicate keys). */
  configText?: string;
  layers?: Record<string, unknown>[];
  version?: string;
  tail?: string;
  sig?: Buffer | null;
  manifest?: Buffer | null;
}): Buffer {
  const man = v110.manifest;
  const sig = v110.sig!;
  const doc = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: p.config ?? { mediaType: LAYER_MEDIA.manifest, digest: sha256(man), size: man.length },
    layers: p.layers ?? [{ mediaType: LAYER_MEDIA.signature, digest: sha256(sig), size: sig.length }],
    version: p.version ?? '1.1.0',
  };
  let body = JSON.stringify(doc).slice(1, -1);
  if (p.configText) body = body.replace(JSON.stringify(doc.config), p.configText);
  const parts: Buffer[] = [
    Buffer.from('{' + (p.head ? p.head + ',' : '') + body + (p.tail ? ',' + p.tail : '')),
  ];
  if (p.sig !== null) parts.push(Buffer.from(',"sig":'), p.sig ?? sig);
  if (p.manifest !== null) parts.push(Buffer.from(',"manifest":'), p.manifest ?? man);
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

// ---- hooks ------------------------------------------------------------------------------------

/** The registry's own answer, or undefined when it is not a success (the 401 before a token). */
const ok = (reg: HostileRegistry, q: Req): Answer | undefined => {
  const a = reg.normal(q);
  return a.status === 200 || a.status === 206 ? a : undefined;
};
const isBoard = (q: Req) => q.place === 'registry' && q.path.endsWith('.board');
const isToken = (q: Req) => q.place === 'registry' && q.path.startsWith('/token');
const isFile = (q: Req) => q.place === 'registry' && q.path.endsWith('/blobs/' + attackedDigest);

/** Replaces the authorised answer of the requests `which` picks. */
const onAnswer =
  (which: (q: Req) => boolean) =>
  (make: (a: Answer, reg: HostileRegistry, q: Req) => Hooked) =>
  (reg: HostileRegistry): Hook =>
  (q) => {
    if (!which(q)) return undefined;
    const a = ok(reg, q);
    return a && make(a, reg, q);
  };
/** Replaces the authorised answer of the tag's `.board`. */
const onBoard = onAnswer(isBoard);
/** The `.board` with other bytes (headers kept). */
const boardBody = (body: () => Buffer, extra: [string, string][] = []) =>
  onBoard((a) => framed({ ...a, body: body() }, extra));
/** Replaces the authorised answer of the blob under attack (lib/new.py). */
const onFile = onAnswer(isFile);
/** Replaces the token service's answer. */
const onToken =
  (make: (reg: HostileRegistry, q: Req) => Hooked | undefined) =>
  (reg: HostileRegistry): Hook =>
  (q) =>
    isToken(q) ? make(reg, q) : undefined;
/** The registry's 401 with this challenge, whatever the request carries. */
const challenge = (c: (reg: HostileRegistry) => string) => (reg: HostileRegistry) => {
  const h: Hook = (q) =>
    q.place === 'registry' && q.path.startsWith('/v2/')
      ? framed({ status: 401, headers: [['www-authenticate', c(reg)]], body: Buffer.from('{}') })
      : undefined;
  return h;
};
const redirect = (to: string, status = 307): Buffer =>
  framed({ status, headers: [['location', to]], body: Buffer.alloc(0) });
const tokenAnswer = (body: string | Buffer): Buffer =>
  framed({ status: 200, headers: [['content-type', 'application/json']], body: Buffer.from(body) });
/** The registry's 403 to a repository the token does not open (no challenge, as ghcr.io and Harbor). */
const denied = (): Buffer =>
  framed({
    status: 403,
    headers: [['content-type', 'application/json']],
    body: Buffer.from(
      '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
    ),
  });
/**
 * Requests a row expects, [over plain HTTP, over verified TLS]: token requests, registry requests
 * carrying a token, and requests of the blob under attack; a problem or undefined.
 */
const counted = (
  seen: Seen[],
  reg: HostileRegistry,
  want: { tokens?: [number, number]; withToken?: [number, number]; file?: [number, number] },
): string | undefined => {
  const k = reg.registry.startsWith('https://') ? 1 : 0;
  const got = {
    tokens: seen.filter((s) => isToken(s)).length,
    withToken: seen.filter(
      (s) => s.place === 'registry' && s.path.startsWith('/v2/') && s.auth?.startsWith('Bearer '),
    ).length,
    file: seen.filter((s) => isFile(s)).length,
  };
  const off = (Object.keys(want) as (keyof typeof want)[]).filter((n) => want[n]![k] !== got[n]);
  return off.length ? off.map((n) => `${n}: ${got[n]}, expected ${want[n]![k]}`).join('; ') : undefined;
};
const asked = (seen: Seen[], re: RegExp, what: string) =>
  seen.some((s) => re.test(s.path)) ? undefined : `${what} was never asked for`;

// ---- the rows ---------------------------------------------------------------------------------

function rows(): Row[] {
  const man = v110.manifest;
  const sig = v110.sig!;
  const manDigest = sha256(man);
  const flipped = Buffer.from(man);
  const at = flipped.indexOf('"sha256": "') + 11;
  flipped[at] = flipped[at] === 0x30 ? 0x31 : 0x30;
  const config = (o: Record<string, unknown>) => ({ mediaType: LAYER_MEDIA.manifest, ...o });
  // A blob the registry is asked for must not be there: the row fails there, so nothing installs.
  const without = (d: string) => (reg: HostileRegistry) => {
    const h: Hook = (q) =>
      q.place === 'registry' && q.path.endsWith('/blobs/' + d) && ok(reg, q)
        ? framed({ status: 404, headers: [], body: Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN"}]}') })
        : undefined;
    return h;
  };
  const both =
    (a: (reg: HostileRegistry) => Hook, b: (reg: HostileRegistry) => Hook) => (reg: HostileRegistry) => {
      const x = a(reg);
      const y = b(reg);
      const h: Hook = (q) => x(q) ?? y(q);
      return h;
    };
  return [
    {
      // First: a board that never took an ETag sends no If-None-Match.
      name: 'a 304 to a request without If-None-Match',
      hook: onBoard(() => framed({ status: 304, headers: [], body: Buffer.alloc(0) })),
      expect: 'protocol',
      check: (seen) =>
        seen.some((s) => isBoard(s) && s.req['if-none-match']) ? 'the board sent If-None-Match' : undefined,
    },
    // -- the .board manifest lies --
    {
      name: '.board: config size past the inline manifest.json',
      hook: boardBody(() => board({ config: config({ digest: manDigest, size: man.length + 10 }) })),
      expect: 'hash_mismatch',
    },
    {
      name: '.board: config size short of the inline manifest.json',
      hook: boardBody(() => board({ config: config({ digest: manDigest, size: man.length - 10 }) })),
      expect: 'hash_mismatch',
    },
    {
      name: '.board: config size of a terabyte',
      hook: boardBody(() => board({ config: config({ digest: manDigest, size: 1e12 }) })),
      expect: 'doc_too_large',
    },
    {
      name: '.board: negative config size',
      hook: boardBody(() => board({ config: config({ digest: manDigest, size: -5 }) })),
      expect: 'bad_manifest',
    },
    {
      name: '.board: inline manifest.json is not what the config digest names',
      hook: boardBody(() => board({ manifest: flipped })),
      expect: 'hash_mismatch',
    },
    {
      name: '.board: a config digest that is not a sha256 digest (a path in it)',
      hook: boardBody(() =>
        board({ config: config({ digest: 'sha256:../../other/blobs/x', size: man.length }), manifest: null }),
      ),
      expect: 'bad_manifest',
      check: (seen) =>
        seen.some((s) => s.path.includes('other')) ? 'the forged digest was asked for' : undefined,
    },
    {
      name: '.board: a forged signature, with a blob under its digest',
      hook: (reg) => {
        const forged = Buffer.from(
          sig.toString().replace(/"sig":"(.)/, (_, c: string) => `"sig":"${c === 'A' ? 'B' : 'A'}`),
        );
        reg.tag.blobs.set(sha256(forged), forged);
        return onBoard((a) =>
          framed({
            ...a,
            body: board({
              layers: [{ mediaType: LAYER_MEDIA.signature, digest: sha256(forged), size: forged.length }],
              sig: forged,
            }),
          }),
        )(reg);
      },
      expect: 'bad_signature',
    },
    {
      name: '.board: manifest before its descriptor is ignored (the blob is asked for)',
      hook: both(
        boardBody(() => board({ head: `"manifest":${flipped.toString()}`, manifest: null })),
        without(manDigest),
      ),
      expect: 'http_404',
      check: (seen) => asked(seen, new RegExp(`/blobs/${manDigest}$`), 'the manifest.json blob'),
    },
    {
      name: '.board: sig before its descriptor is ignored (the blob is asked for)',
      hook: both(
        boardBody(() => board({ head: `"sig":${sig.toString()}`, sig: null })),
        without(sha256(sig)),
      ),
      expect: 'http_404',
      check: (seen) => asked(seen, new RegExp(`/blobs/${sha256(sig)}$`), 'the signature blob'),
    },
    {
      name: '.board: version given twice',
      hook: boardBody(() => board({ tail: '"version":"9.9.9"' })),
      expect: 'bad_manifest',
    },
    {
      name: '.board: config given twice',
      hook: boardBody(() =>
        board({ head: `"config":${JSON.stringify(config({ digest: sha256('x'), size: 1 }))}` }),
      ),
      expect: 'bad_manifest',
    },
    {
      name: '.board: a digest given twice in the config',
      hook: boardBody(() =>
        board({
          configText: `{"mediaType":"${LAYER_MEDIA.manifest}","digest":"${sha256('x')}","digest":"${manDigest}","size":${man.length}}`,
        }),
      ),
      expect: 'bad_manifest',
    },
    {
      name: '.board: layers given twice',
      hook: boardBody(() =>
        board({
          tail: `"layers":[{"mediaType":"${LAYER_MEDIA.signature}","digest":"${sha256('y')}","size":1}]`,
        }),
      ),
      expect: 'bad_manifest',
    },
    {
      name: '.board: 5000-deep nesting',
      hook: boardBody(() => board({ head: '"x":' + '['.repeat(5000) + ']'.repeat(5000) })),
      expect: 'bad_manifest',
    },
    {
      name: '.board: a 100 KB version string',
      hook: boardBody(() => board({ version: '1.1.0-' + 'a'.repeat(100_000) })),
      expect: 'bad_manifest',
    },
    {
      name: '.board: a 100 KB digest string',
      hook: boardBody(() =>
        board({ config: config({ digest: 'sha256:' + 'a'.repeat(100_000), size: man.length }) }),
      ),
      expect: 'bad_manifest',
    },
    {
      name: '.board: an endless string',
      hook: onBoard((a) => (sock) => {
        sock.write(headOf(a, [['content-length', String(64 * 1024 * 1024)]]));
        sock.write('{"x":"');
        flood(sock, () => Buffer.alloc(4096, 0x61), 8 * 1024 * 1024);
      }),
      expect: 'doc_too_large',
    },
    {
      name: '.board: Content-Length shorter than the body',
      hook: onBoard((a) => framed(a, [], '60')),
      expect: 'bad_manifest',
    },
    {
      name: '.board: Content-Length longer than the body (the body cut)',
      hook: onBoard((a) => (sock) => {
        sock.write(headOf(a, [['content-length', String(a.body.length + 100)]]));
        sock.end(a.body.subarray(0, a.body.length - 100));
      }),
      expect: 'network',
    },
    {
      name: '.board: not JSON (an HTML page)',
      hook: boardBody(
        () => Buffer.from('<html><body>502 Bad Gateway</body></html>'),
        [['content-type', 'text/html']],
      ),
      expect: 'bad_manifest',
    },
    {
      name: '.board: the right bytes under the wrong Content-Type',
      hook: onBoard((a) =>
        framed({ ...a, headers: a.headers.filter(([k]) => k !== 'content-type') }, [
          ['content-type', 'text/html'],
        ]),
      ),
      expect: 'bad_manifest',
    },
    {
      name: 'the tag points at the running 1.0.0 (the board takes its ETag)',
      hook: (reg) => {
        reg.tag = v100;
        return () => undefined;
      },
      expect: null,
    },
    {
      name: 'a 200 where a 304 belongs: read, nothing taken',
      hook: (reg) => {
        reg.tag = v100;
        const h: Hook = (q) => {
          if (!isBoard(q)) return undefined;
          const a = reg.normal(q);
          return a.status === 304 ? framed({ ...a, status: 200, body: v100.board }) : undefined;
        };
        return h;
      },
      expect: null,
      check: (seen) =>
        seen.some((s) => isBoard(s) && s.req['if-none-match'])
          ? undefined
          : 'the board sent no If-None-Match',
    },
    // -- the token flow --
    {
      name: 'token: a realm on another host (a token the registry does not take)',
      hook: both(
        challenge(
          (reg) => `Bearer realm="${reg.elsewhere}/token",service="x",scope="repository:me/app:pull"`,
        ),
        () => (q) => (q.place === 'elsewhere' ? tokenAnswer('{"token":"not-the-registry-s"}') : undefined),
      ),
      realmElsewhere: true,
      expect: 'auth_failed',
      check: (seen, reg) => asked(seen, /^\/token/, `the realm on ${reg.elsewhere}`),
    },
    {
      name: 'token: a realm on plain http',
      hook: both(
        challenge((reg) => `Bearer realm="${reg.plain}/token",service="x"`),
        (_reg) => (q) => (q.place === 'plain' ? tokenAnswer('{"token":"plain-token"}') : undefined),
      ),
      // The anonymous board asks it (nothing secret goes), then the registry refuses its token.
      expect: 'auth_failed',
    },
    {
      name: 'token: a realm with user:password@',
      hook: challenge((reg) => `Bearer realm="${reg.elsewhere.replace('://', '://u:p@')}/token"`),
      expect: 'bad_url',
    },
    {
      name: 'token: a 100 KB answer',
      hook: onToken(() => tokenAnswer(`{"token":"${'t'.repeat(100_000)}"}`)),
      expect: 'doc_too_large',
    },
    {
      name: 'token: a 12 KB answer',
      hook: onToken(() => tokenAnswer(`{"token":"${'t'.repeat(12_000)}"}`)),
      expect: 'doc_too_large',
    },
    {
      name: 'token: a 5 KB token (it would ride on every request)',
      hook: onToken(() => tokenAnswer(`{"token":"${'t'.repeat(5_000)}"}`)),
      expect: 'auth_failed',
    },
    {
      name: 'token: not JSON',
      hook: onToken(() => tokenAnswer('<html>sign in</html>')),
      expect: 'auth_failed',
    },
    {
      name: 'token: 5000-deep JSON',
      hook: onToken(() => tokenAnswer('['.repeat(5000))),
      expect: 'auth_failed',
    },
    {
      name: 'token: a token carrying CR LF (a header injected)',
      hook: onToken((reg) => tokenAnswer(JSON.stringify({ token: `${reg.token}\r\nX-Injected: 1` }))),
      expect: 'auth_failed',
      check: (seen) => (seen.some((s) => s.req['x-injected']) ? 'a header was injected' : undefined),
    },
    {
      name: 'token: the registry answers 401 to its own token, again and again',
      hook: (reg) => (q) =>
        q.place === 'registry' && q.path.startsWith('/v2/')
          ? framed({
              status: 401,
              headers: [['www-authenticate', `Bearer realm="${reg.registry}/token",service="hostile"`]],
              body: Buffer.from('{}'),
            })
          : undefined,
      expect: 'auth_failed',
    },
    {
      name: 'token: the token service answers 401 forever',
      hook: onToken(() =>
        framed({ status: 401, headers: [['www-authenticate', 'Basic realm="x"']], body: Buffer.from('{}') }),
      ),
      expect: 'auth_failed',
    },
    {
      name: 'token: the token answer redirects elsewhere',
      hook: onToken((reg, q) => redirect(reg.elsewhere + q.path)),
      expect: 'auth_failed',
    },
    {
      name: 'token: the token answer redirects to plain http',
      hook: onToken((reg, q) => redirect(reg.plain + q.path)),
      expect: 'auth_failed',
    },
    // -- a token refused at any request: one new token for that request, then auth_failed --
    {
      name: 'token: 403 to every request with a token (a denied repository)',
      hook: (_reg) => (q) =>
        q.place === 'registry' && q.path.startsWith('/v2/') && q.req.authorization ? denied() : undefined,
      expect: 'auth_failed',
      // A first check: the token got for the .board's challenge, refused, ends it (a kept token
      // refused gets one new one: test/oci-token-flow.test.ts).
      check: (seen, reg) => counted(seen, reg, { tokens: [1, 1], withToken: [1, 1] }),
    },
    {
      name: 'token: the .board taken, then a blob refuses the token with 401, again and again',
      hook: (reg) => (q) =>
        isFile(q)
          ? framed({
              status: 401,
              headers: [['www-authenticate', `Bearer realm="${reg.registry}/token",service="hostile"`]],
              body: Buffer.from('{}'),
            })
          : undefined,
      expect: 'auth_failed',
      check: (seen, reg) => counted(seen, reg, { tokens: [2, 2], file: [2, 2] }),
    },
    {
      name: 'token: the .board taken, then a blob answers 403 to the token (no challenge)',
      hook: (_reg) => (q) => (isFile(q) && q.req.authorization ? denied() : undefined),
      expect: 'auth_failed',
      // Over verified TLS a new token from the realm the check learned; over plain HTTP the blob is
      // asked anonymously for the challenge, then with a new token.
      check: (seen, reg) => counted(seen, reg, { tokens: [2, 2], file: [3, 2] }),
    },
    {
      name: 'token: mid-check, a blob 401 names a realm on another host',
      realmElsewhere: true,
      hook: (reg) => (q) => {
        if (q.place === 'elsewhere' && q.path.startsWith('/token'))
          return tokenAnswer('{"token":"elsewhere-token"}');
        return isFile(q)
          ? framed({
              status: 401,
              headers: [['www-authenticate', `Bearer realm="${reg.elsewhere}/token",service="other"`]],
              body: Buffer.from('{}'),
            })
          : undefined;
      },
      expect: 'auth_failed',
      // The registry named it, so the board asks it (once: Basic only over verified TLS, by the
      // leaks check); the registry's own token never goes there.
      check: (seen, reg) =>
        seen.filter((s) => s.place === 'elsewhere').length === 1
          ? counted(seen, reg, { file: [2, 2] })
          : `the other realm was asked ${seen.filter((s) => s.place === 'elsewhere').length} times`,
    },
    // -- blobs --
    {
      name: 'blob: bytes that do not hash to the digest',
      hook: onFile((a) => {
        const b = Buffer.from(a.body);
        b[0] ^= 0x20;
        return framed({ ...a, body: b });
      }),
      expect: 'hash_mismatch',
    },
    {
      name: 'blob: a 206 to a request without Range',
      hook: onFile((a) => {
        const n = a.body.length;
        return framed({
          status: 206,
          headers: [['content-range', `bytes 100-${n - 1}/${n}`]],
          body: a.body.subarray(100),
        });
      }),
      expect: 'protocol',
    },
    {
      name: 'blob: a redirect loop',
      hook: onFile((_a, reg, q) => redirect(reg.registry + q.path)),
      expect: 'too_many_redirects',
    },
    {
      name: 'blob: a redirect from https to http',
      only: ['private'],
      hook: onFile((_a, reg, q) => redirect(reg.plain + q.path)),
      expect: 'redirect_downgrade',
    },
    {
      name: 'blob: a redirect carrying user:password@',
      hook: onFile((_a, reg, q) =>
        redirect(reg.elsewhere.replace('://', `://${USER}:${PASSWORD}@`) + q.path),
      ),
      expect: 'bad_url',
    },
    {
      name: 'blob: redirected to storage that serves other bytes',
      hook: both(
        onFile((_a, reg, q) => redirect(reg.elsewhere + q.path)),
        (_reg) => (q) => {
          if (q.place !== 'elsewhere') return undefined;
          const b = Buffer.from(attacked);
          b[0] ^= 0x20;
          return framed({ status: 200, headers: [], body: b });
        },
      ),
      expect: 'hash_mismatch',
      check: (seen) =>
        asked(
          seen.filter((s) => s.place === 'elsewhere'),
          /blobs/,
          'storage',
        ),
    },
    {
      name: 'blob: storage answers 401 with its own token realm',
      hook: both(
        onFile((_a, reg, q) => redirect(reg.elsewhere + q.path)),
        (reg) => (q) => {
          if (q.place !== 'elsewhere') return undefined;
          if (q.path.startsWith('/token')) return tokenAnswer(`{"token":"${reg.token}"}`);
          return framed({
            status: 401,
            headers: [['www-authenticate', `Bearer realm="${reg.elsewhere}/token",service="storage"`]],
            body: Buffer.from('{}'),
          });
        },
      ),
      expect: 'auth_failed',
      check: (seen) =>
        seen.some((s) => s.place === 'elsewhere' && s.path.startsWith('/token'))
          ? 'the storage realm was asked'
          : undefined,
    },
    {
      name: 'blob: storage answers 403',
      hook: both(
        onFile((_a, reg, q) => redirect(reg.elsewhere + q.path)),
        () => (q) =>
          q.place === 'elsewhere'
            ? framed({ status: 403, headers: [], body: Buffer.from('denied') })
            : undefined,
      ),
      expect: 'auth_failed',
    },
    {
      name: 'blob: chunked with a chunk size of 2^64',
      hook: onFile((a) =>
        Buffer.concat([
          headOf(a, [['transfer-encoding', 'chunked']]),
          Buffer.from('10000000000000000\r\n'),
          a.body,
        ]),
      ),
      expect: 'protocol',
    },
    {
      name: 'blob: chunked with a 2000-digit chunk size',
      hook: onFile((a) =>
        Buffer.concat([
          headOf(a, [['transfer-encoding', 'chunked']]),
          Buffer.from('1'.repeat(2000) + '\r\n'),
          a.body,
        ]),
      ),
      expect: 'protocol',
    },
    {
      name: 'blob: Content-Length longer than the file',
      hook: onFile((a) => framed(a, [], String(a.body.length + 1))),
      expect: 'too_large',
    },
    { name: 'a normal update afterwards', expect: null },
  ];
}

// ---- running a board --------------------------------------------------------------------------

const cleanups: string[] = [];
let pki: Pki | undefined;
const regs: HostileRegistry[] = [];

before(async () => {
  const extra = { delete: ['old.py'], keep: ['settings.json'] };
  v110 = await stored('1.1.0', fx.APP_1_1_0, extra);
  v100 = await stored('1.0.0', fx.APP_1_0_0, {});
  if (!noOpenssl) {
    const dir = fx.tempDir('attack-oci-pki');
    cleanups.push(dir);
    pki = makePki(dir);
  }
});
after(async () => {
  for (const r of regs) await r.close();
  fx.cleanup(...cleanups);
});

/** Where credentials went that must not have: a line per request. */
function leaks(seen: Seen[], reg: HostileRegistry, realmElsewhere: boolean): string[] {
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  return seen.flatMap((s) => {
    const where = `${s.place} ${s.path.slice(0, 60)}`;
    if (s.path.includes(PASSWORD) || s.path.includes(basic)) return [`the password in the URL: ${where}`];
    if (!s.auth) return [];
    if (s.place === 'registry') return [];
    const realm = realmElsewhere && s.place === 'elsewhere' && s.path.startsWith('/token');
    if (realm && reg.registry.startsWith('https://') && s.auth === basic) return [];
    return [`${s.auth.slice(0, 20)} sent to ${where}`];
  });
}

async function runBoard(t: TestContext, kind: Board): Promise<void> {
  const reg = await startHostileRegistry({
    tag: v110,
    tls: kind === 'private' ? pki!.server : undefined,
    basic: kind === 'private' ? `${USER}:${PASSWORD}` : undefined,
  });
  regs.push(reg);
  const pick = process.env.ATTACK_ROWS ? new RegExp(process.env.ATTACK_ROWS) : undefined;
  const all = rows().filter((r) => !r.only || r.only.includes(kind));
  const table = all.filter((r, k) => !pick || pick.test(r.name) || k === all.length - 1);
  const cfg: Record<string, unknown> =
    kind === 'private'
      ? { ref: `${reg.registry}/me/app`, user: USER, password: PASSWORD, tls: { ca: 'ota/ca.pem' } }
      : { ref: `${new URL(reg.registry).host}/me/app` };
  const config = { source: 'oci', keys: [key], retries: 0, timeout: 2, ...cfg };
  const fsDir = fx.makeBoard(config, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  if (kind === 'private') writeFileSync(join(fsDir, 'ota', 'ca.pem'), pki!.ca.cert);
  const want = JSON.stringify(fx.hashFiles(fx.APP_1_0_0));
  const problems: string[] = [];
  let i = -1;
  let from = 0;
  reg.onControl = (what) => {
    if (what === 'done') {
      const r = table[i];
      const seen = reg.seen.slice(from);
      if (r.expect !== null || i < table.length - 1) {
        if (JSON.stringify(fx.hashTree(fsDir, fx.NOT_APP)) !== want)
          problems.push(`${r.name}: the installed release changed`);
      }
      for (const l of leaks(seen, reg, !!r.realmElsewhere)) problems.push(`${r.name}: ${l}`);
      const p = r.check?.(seen, reg);
      if (p) problems.push(`${r.name}: ${p}`);
      reg.hook = undefined;
      reg.tag = v110;
      return '';
    }
    i++;
    const r = table[i];
    if (!r) return '';
    from = reg.seen.length;
    reg.tag = v110;
    reg.hook = r.hook?.(reg);
    return JSON.stringify({ i, config, keep: false, fill: 0 });
  };
  const res = await fx.runBoard({
    fsDir,
    code: driver(Number(new URL(reg.control).port)),
    timeoutMs: 240_000,
  });
  assert.equal(res.error, undefined, res.output.slice(-3000));
  const parts = res.output.split(/^CASE:(\d+)\r?$/m);
  const got = new Map<number, string>();
  for (let k = 1; k < parts.length; k += 2) got.set(Number(parts[k]), parts[k + 1]);
  table.forEach((r, k) => {
    const out = got.get(k);
    if (out === undefined) return void problems.push(`${r.name}: never ran`);
    const exp = r.expect === null || typeof r.expect === 'string' ? r.expect : r.expect[kind];
    const codes = fx.errorCodes(out);
    if (JSON.stringify(codes) !== JSON.stringify(exp === null || exp === undefined ? [] : [exp]))
      problems.push(
        `${r.name}: expected ${exp ?? 'success'}, got [${codes.join(', ')}] ${out
          .split('\n')
          .filter((l) => l.includes('"error"') || l.includes('UNCAUGHT') || l.includes('Traceback'))
          .join(' ')
          .slice(0, 300)}`,
      );
  });
  t.diagnostic(`${table.length} rows on the ${kind} board`);
  assert.deepEqual(problems, [], `${kind}:\n${problems.join('\n')}`);
  assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
  assert.deepEqual(
    fx.hashTree(fsDir, fx.NOT_APP),
    fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] }),
  );
}

suite('a hostile OCI registry', { concurrency: 2, timeout: 300_000 }, () => {
  test('anonymous board, plain HTTP registry with a Bearer token flow', (t) => runBoard(t, 'public'));
  test('board with credentials, registry over verified TLS', { skip: noOpenssl }, (t) =>
    runBoard(t, 'private'),
  );
});
