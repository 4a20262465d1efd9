// Attack suite: a hostile release host and hostile documents against the real updater on the virtual
// board, once for every source the board supports (static host, GitHub's web download path, an OCI
// registry). Each case is a row: which answer the hostile front replaces (test/attack-server.ts) and
// the one error code the board must report. One board per source runs every row in turn, driving
// the front itself through /__ctl/ between updates; after each row the front checks that the
// installed release is byte-identical, and the last row is a normal update that must succeed.
import { after, before, suite, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { publishOci } from '../src/core/publish/oci';
import type { Manifest } from '../src/core/manifest-types';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import * as fx from './support/release-fixture';
import { registryMissing, startRegistry, type TestRegistry } from './support/registry';
import {
  drip,
  driver,
  flood,
  framed,
  headOf,
  startFronts,
  type Ctx,
  type Front,
  type Kind,
  type Serve,
} from './attack-server';

/** github: the web download path (a public repository); github-api: the REST API's release and asset URLs. */
type Source = 'static' | 'static-fat' | 'github' | 'github-api' | 'oci';
const noRegistry = registryMissing();

/** Expected error code (null: the update succeeds), for every source or per source. */
type Expect = string | null | Partial<Record<Source, string | null>>;

interface Row {
  name: string;
  /** The answer replaced, and how. */
  on?: Kind;
  serve?: Serve;
  times?: number;
  /** Sources the row runs on (default all). */
  only?: Source[];
  /** Config keys for this row (null removes one). */
  config?: Record<string, unknown>;
  /** Keep .ota/stage from the row before (resume rows); otherwise it is emptied first. */
  keepStage?: boolean;
  /** Leave this many bytes of flash free (a filler file) while the row runs. */
  fill?: number;
  expect: Expect;
  /** Extra check after the run. */
  check?: (front: Front) => void;
}

// ---- hostile answers -------------------------------------------------------------------------

const raw =
  (make: (c: Ctx) => Buffer | string): Serve =>
  (sock, c) =>
    void sock.end(make(c));
const statusEndless: Serve = raw(() => 'HTTP/1.1 200 OK' + 'x'.repeat(100_000));
const headerEndless: Serve = raw((c) =>
  Buffer.concat([headOf(c.answer).subarray(0, -2), Buffer.from('X-Pad: ' + 'y'.repeat(100_000))]),
);
const manyHeaders: Serve = raw((c) =>
  framed(
    c.answer,
    Array.from({ length: 5000 }, (_, i): [string, string] => [`x-h${i}`, 'v']),
  ),
);
const badStatus: Serve = raw((c) => Buffer.concat([Buffer.from('HTTP/1.1 2x0 OK\r\n\r\n'), c.answer.body]));
const length = (cl: (n: number) => string): Serve =>
  raw((c) => framed(c.answer, [], cl(c.answer.body.length)));
const chunked =
  (sizeLine: string, tail: Buffer | string = ''): Serve =>
  (sock, c) =>
    void sock.end(
      Buffer.concat([
        headOf(c.answer, [['transfer-encoding', 'chunked']]),
        Buffer.from(sizeLine + '\r\n'),
        c.answer.body,
        Buffer.from(tail),
      ]),
    );
const endlessChunks: Serve = (sock, c) => {
  sock.write(headOf(c.answer, [['transfer-encoding', 'chunked']]));
  const piece = Buffer.concat([Buffer.from('1000\r\n'), Buffer.alloc(4096, 0x20), Buffer.from('\r\n')]);
  flood(sock, () => piece, 8 * 1024 * 1024);
};
const slowBody: Serve = (sock, c) => {
  sock.write(headOf(c.answer, [['content-length', String(c.answer.body.length)]]));
  drip(sock, c.answer.body, 250);
};
const slowHead: Serve = (sock, c) => drip(sock, framed(c.answer), 250);
const redirect =
  (to: (c: Ctx) => string, status = 302): Serve =>
  (sock, c) =>
    void sock.end(framed({ status, headers: [['location', to(c)]], body: Buffer.alloc(0) }));
const encoded: Serve = raw((c) => {
  // An encoding the board did not ask for: gzip when it asked for none, br when it asked for gzip.
  const asked = /gzip/.test(c.req['accept-encoding'] ?? '');
  return framed({ ...c.answer, body: gzipSync(c.answer.body) }, [
    ['content-encoding', asked ? 'br' : 'gzip'],
  ]);
});
const htmlPage: Serve = raw(() =>
  framed({
    status: 200,
    headers: [['content-type', 'text/html']],
    body: Buffer.from('<html><body><h1>502 Bad Gateway</h1>' + ' '.repeat(300) + '</body></html>'),
  }),
);
/** A 206 of the file from `start`, with its Content-Range, whatever the board asked for. */
const partial = (start: number, body = (b: Buffer) => b): Serve =>
  raw(() => {
    const n = fileBytes.length;
    const b = body(fileBytes.subarray(start));
    return framed({ status: 206, headers: [['content-range', `bytes ${start}-${n - 1}/${n}`]], body: b });
  });
const cutAfter1000: Serve = (sock, c) => {
  sock.write(framed(c.answer).subarray(0, -(c.answer.body.length - 1000)), () => sock.destroy());
};
const replaceBody = (body: Buffer): Serve => raw((c) => framed({ ...c.answer, body }));

// ---- hostile documents -----------------------------------------------------------------------

const fileBytes = Buffer.from(String(fx.APP_1_1_0['lib/new.py']));
let rel: fx.Release;
const keys = fx.makeKeys();
const keyOld = fx.boardKey(keys, 'hmac-sha256', 'k1');
const other = fx.makeKeys();
const keyNew = { ...fx.boardKey(other, 'hmac-sha256', 'k2') };

/** The release manifest changed by `change`, serialised as JSON (or as `text` returns). */
function crafted(change: (m: Manifest) => void, text?: (s: string) => string): Buffer {
  const m = structuredClone(rel.manifest);
  change(m);
  const s = JSON.stringify(m, null, 1);
  return Buffer.from(text ? text(s) : s);
}
const manifestRow = (name: string, expect: Expect, make: () => Buffer): Row => ({
  name: `manifest: ${name}`,
  on: 'manifest',
  serve: (sock, c) => replaceBody(make())(sock, c),
  only: ['static', 'github'],
  expect,
});
const setPath = (p: string) => (m: Manifest) => (m.files[0].path = p);
const sigBy = (k: fx.Keys, id: string, bytes: () => Buffer): Serve =>
  raw(() =>
    framed({
      status: 200,
      headers: [],
      body: Buffer.from(
        JSON.stringify({
          alg: 'hmac-sha256',
          key: id,
          sig: createHmac('sha256', k.hmac).update(bytes()).digest('base64'),
        }),
      ),
    }),
  );
const latest = (doc: string): Serve => replaceBody(Buffer.from(doc));

// ---- the table -------------------------------------------------------------------------------

const ALL: Kind[] = ['doc', 'manifest', 'file'];
const BODY: Kind[] = ['manifest', 'file'];

/** One row per target kind; `expect` may depend on the kind. */
function each(
  kinds: Kind[],
  name: string,
  serve: Serve,
  expect: (k: Kind) => Expect,
  extra: Partial<Row> = {},
): Row[] {
  return kinds.map((on) => ({ name: `${on}: ${name}`, on, serve, expect: expect(on), ...extra }));
}

const rows = (): Row[] => [
  // Framing: status line, header lines, counts.
  ...each(ALL, 'status line without end', statusEndless, () => 'header_too_large'),
  ...each(ALL, 'header line without end', headerEndless, () => 'header_too_large'),
  ...each(ALL, '5000 header lines', manyHeaders, () => 'header_too_large'),
  ...each(['doc'], 'a status that is no number', badStatus, () => 'protocol'),
  // Content-Length lying.
  ...each(
    ALL,
    'negative Content-Length',
    length(() => '-5'),
    () => 'protocol',
  ),
  ...each(
    ['doc'],
    'two Content-Lengths in one',
    length((n) => `${n}, ${n}`),
    () => 'protocol',
  ),
  ...each(
    BODY,
    'Content-Length of 10^20',
    length(() => '100000000000000000000'),
    (k) => (k === 'file' ? 'too_large' : 'doc_too_large'),
  ),
  ...each(
    BODY,
    'Content-Length shorter than the body',
    length((n) => String(n - 100)),
    (k) =>
      k === 'file'
        ? 'hash_mismatch'
        : {
            static: 'bad_manifest',
            github: 'bad_manifest',
            'github-api': 'bad_manifest',
            oci: 'hash_mismatch',
          },
  ),
  ...each(
    BODY,
    'Content-Length longer than the body',
    length((n) => String(n + 100)),
    (k) =>
      k === 'file'
        ? 'too_large'
        : { static: 'network', github: 'network', 'github-api': 'network', oci: 'doc_too_large' },
  ),
  // Chunked framing.
  ...each(BODY, 'a chunk size that is no number', chunked('zz'), () => 'protocol'),
  ...each(
    ['file'],
    'a huge chunk size, then more than the file',
    chunked('fffffffffffffffffff', 'z'.repeat(64 * 1024)),
    () => 'protocol', // over 8 hex digits: refused before it is read (ota.http)
  ),
  ...each(BODY, 'chunks that never end', endlessChunks, (k) =>
    k === 'file'
      ? 'too_large'
      : {
          static: 'doc_too_large',
          github: 'doc_too_large',
          'github-api': 'doc_too_large',
          oci: 'hash_mismatch',
        },
  ),
  // Slowloris: a byte every 250 ms never trips the socket timeout; the deadline ends it.
  // (GitHub's release document is a redirect whose body the board never reads.)
  ...each(['doc'], 'a body dripping a byte at a time', slowBody, () => 'deadline', {
    config: { deadline: 3 },
    only: ['static', 'github-api', 'oci'],
  }),
  ...each(['file'], 'a body dripping a byte at a time', slowBody, () => 'deadline', {
    config: { deadline: 3 },
  }),
  ...each(['doc'], 'headers dripping a byte at a time', slowHead, () => 'deadline', {
    config: { deadline: 3 },
  }),
  // Redirects.
  ...each(
    BODY,
    'a redirect to itself, forever',
    redirect((c) => c.origin + c.path),
    () => 'too_many_redirects',
  ),
  ...each(
    ['file'],
    'a redirect to ftp://',
    redirect(() => 'ftp://127.0.0.1/x'),
    () => 'bad_url',
  ),
  ...each(
    ['file'],
    'a redirect carrying user:password@',
    redirect((c) => c.origin.replace('//', '//user:pw@') + c.path),
    () => 'bad_url',
  ),
  ...each(
    ['file'],
    'a redirect to another host',
    redirect((c) => c.elsewhere + c.path, 307),
    () => 'http_404',
    {
      check: (f) => assert.deepEqual(f.elsewhereAuth, [undefined], 'no credentials to another host'),
    },
  ),
  // What the answer is.
  ...each(BODY, 'a Content-Encoding the board did not ask for', encoded, () => 'bad_encoding'),
  ...each(['doc'], 'a 200 HTML error page', htmlPage, () => 'bad_manifest', {
    only: ['static', 'github-api', 'oci'],
  }),
  ...each(BODY, 'a 200 HTML error page', htmlPage, (k) =>
    k === 'file'
      ? 'hash_mismatch'
      : {
          static: 'bad_manifest',
          github: 'bad_manifest',
          'github-api': 'bad_manifest',
          oci: 'hash_mismatch',
        },
  ),
  ...each(['file'], 'a 206 for a range never asked for', partial(100), () => 'protocol'),
  // Cut mid-file, then resumes answered wrongly.
  { name: 'file: cut after 1000 bytes', on: 'file', serve: cutAfter1000, times: 1, expect: 'network' },
  {
    name: 'file: resume answered from the wrong offset',
    on: 'file',
    serve: partial(0),
    keepStage: true,
    expect: 'protocol',
  },
  {
    name: 'file: cut after 1000 bytes (again)',
    on: 'file',
    serve: cutAfter1000,
    times: 1,
    expect: 'network',
  },
  {
    name: 'file: resume with different bytes',
    on: 'file',
    serve: partial(1000, (b) => Buffer.from(b.toString().toUpperCase())),
    keepStage: true,
    expect: 'hash_mismatch',
  },
  // Hostile manifests (one parser for every source: served in place of the real one).
  manifestRow('3000 files', 'too_many_files', () =>
    crafted((m) => {
      m.files = Array.from({ length: 3000 }, (_, i) => ({ ...m.files[0], path: `lib/f${i}.py`, size: 1000 }));
    }),
  ),
  manifestRow('a path of 300 characters', 'bad_path', () => crafted(setPath('a'.repeat(300) + '.py'))),
  manifestRow('a path of 1000 characters', 'bad_manifest', () => crafted(setPath('a'.repeat(1000)))),
  manifestRow('folders 100 deep', 'bad_path', () => crafted(setPath('d/'.repeat(100) + 'x.py'))),
  manifestRow('a NUL in a path', 'bad_path', () => crafted(setPath('main\u0000.py'))),
  manifestRow('an escape character in a path', 'bad_path', () => crafted(setPath('ma\u001bin.py'))),
  manifestRow('a backslash', 'bad_path', () => crafted(setPath('lib\\util.py'))),
  manifestRow('an absolute path', 'bad_path', () => crafted(setPath('/main.py'))),
  manifestRow('a drive letter', 'bad_path', () => crafted(setPath('C:/main.py'))),
  manifestRow('a // in a path', 'bad_path', () => crafted(setPath('lib//util.py'))),
  manifestRow('a . segment', 'bad_path', () => crafted(setPath('./main.py'))),
  manifestRow('a .. segment', 'bad_path', () => crafted(setPath('lib/../main.py'))),
  manifestRow('unicode twins (NFC and NFD of one name)', 'bad_path', () =>
    crafted((m) => {
      m.files.push({ ...m.files[0], path: 'caf\u00e9.py' }, { ...m.files[0], path: 'cafe\u0301.py' });
    }),
  ),
  manifestRow('a right-to-left override in a name', 'bad_path', () => crafted(setPath('evil\u202eyp.main'))),
  manifestRow('a size larger than the file', 'hash_mismatch', () =>
    crafted((m) => (m.files.find((f) => f.path === 'lib/new.py')!.size += 10)),
  ),
  manifestRow('a negative size', 'bad_manifest', () => crafted((m) => (m.files[0].size = -1))),
  manifestRow('a fractional size', 'bad_manifest', () => crafted((m) => (m.files[0].size = 1.5))),
  manifestRow('a size as a string', 'bad_manifest', () =>
    crafted((m) => Object.assign(m.files[0], { size: String(m.files[0].size) })),
  ),
  manifestRow('a size of 1e400', 'bad_manifest', () =>
    crafted(
      () => {},
      (s) => s.replace(/"size": \d+/, '"size": 1e400'),
    ),
  ),
  manifestRow('a size of 2^70', 'no_space', () =>
    crafted(
      () => {},
      (s) => s.replace(/"size": \d+/, '"size": 1180591620717411303424'),
    ),
  ),
  manifestRow('a duplicate key (version)', 'bad_manifest', () =>
    crafted(
      () => {},
      (s) => s.replace('"version": "1.1.0"', '"version": "9.9.9", "version": "1.1.0"'),
    ),
  ),
  manifestRow('a duplicate key in a file entry (path)', 'bad_manifest', () =>
    crafted(
      () => {},
      (s) => s.replace('"path": "', '"path": "x.py", "path": "'),
    ),
  ),
  manifestRow('a files list given twice', 'bad_manifest', () =>
    crafted(
      () => {},
      (s) => s.replace('"files": [', '"files": [], "files": ['),
    ),
  ),
  manifestRow('JSON nested 5000 deep', 'bad_manifest', () =>
    crafted(
      () => {},
      (s) => s.replace('"schema"', `"x": ${'['.repeat(5000)}${']'.repeat(5000)}, "schema"`),
    ),
  ),
  manifestRow('a version with leading zeros', 'bad_manifest', () =>
    crafted(
      () => {},
      (s) => s.replace('"version": "1.1.0"', '"version": "01.1.0"'),
    ),
  ),
  // Release documents and versions (latest.json: the static host's; the others name the version in
  // a redirect or a registry annotation, read by the same rules).
  {
    name: 'doc: latest.json nested 5000 deep',
    on: 'doc',
    serve: latest('['.repeat(5000) + ']'.repeat(5000)),
    only: ['static'],
    expect: 'bad_manifest',
  },
  {
    name: 'doc: latest.json of 30 KB',
    on: 'doc',
    serve: latest(`{"version": "9.9.9"${' '.repeat(30_000)}}`),
    only: ['static'],
    expect: 'doc_too_large',
  },
  {
    name: 'doc: version 01.1.0 (leading zero)',
    on: 'doc',
    serve: latest('{"version": "01.1.0"}'),
    only: ['static'],
    expect: 'bad_manifest',
  },
  {
    name: 'doc: version 1.1.0- (empty pre-release)',
    on: 'doc',
    serve: latest('{"version": "1.1.0-"}'),
    only: ['static'],
    expect: 'bad_manifest',
  },
  {
    name: 'doc: version 1.0.0-rc.1 (pre-release of the installed one)',
    on: 'doc',
    serve: latest('{"version": "1.0.0-rc.1"}'),
    only: ['static'],
    expect: 'downgrade',
  },
  {
    name: 'doc: version 0.10.0 (below 1.0.0, above 0.9)',
    on: 'doc',
    serve: latest('{"version": "0.10.0"}'),
    only: ['static'],
    expect: 'downgrade',
  },
  // Keys: a release signed by a key the board no longer trusts.
  {
    name: 'sig: signed by a retired key',
    on: 'sig',
    serve: sigBy(keys, 'k1', () => rel.bytes),
    only: ['static'],
    config: { keys: [keyNew] },
    expect: 'bad_signature',
  },
  // Full flash: room for less than the release and its backups.
  { name: 'flash: less free than the release needs', only: ['static'], fill: 6000, expect: 'no_space' },
  // On FAT every file takes a whole 4 KB cluster: 24 KB free is room for the release's bytes (~2 KB
  // and their backups) but not for its clusters, nor for the stage's folders. (No normal update
  // follows on this 512 KB FAT board: the updater's own modules leave too little room for its stage
  // and swap, and it is refused with no_space: test/device-full-flash.test.ts.)
  {
    name: 'flash: room for the bytes, not the clusters',
    only: ['static-fat'],
    fill: 28_000,
    expect: 'no_space',
  },
  // And then a normal update, through the same front. The boards trust the old key and the one it
  // was rotated to; the release is signed with the new one (OCI's is unsigned: no .sig is asked).
  {
    name: 'a normal update afterwards',
    only: ['static', 'github'],
    on: 'sig',
    serve: sigBy(other, 'k2', () => rel.bytes),
    config: { keys: [keyOld, keyNew] },
    expect: null,
  },
  { name: 'a normal update afterwards', only: ['github-api', 'oci'], expect: null },
];

// ---- the board's driver ----------------------------------------------------------------------

interface Outcome {
  intact: boolean;
  ms: number;
}

async function runSource(
  t: TestContext,
  source: Source,
  boardConfig: Record<string, unknown>,
  front: Front,
  flash: Partial<Parameters<typeof fx.runBoard>[0]> = {},
): Promise<void> {
  // ATTACK_ROWS=<regex> runs only the matching rows (and the last), when looking into one.
  const pick = process.env.ATTACK_ROWS ? new RegExp(process.env.ATTACK_ROWS) : undefined;
  // The FAT board runs only the rows that name it.
  // An OCI board takes manifest.json inside the tag's .board document (the "doc" rows), so no
  // request of its is a manifest of its own: the manifest rows have nothing to act on there.
  const all = rows()
    .filter((r) => (r.only ? r.only.includes(source) : source !== 'static-fat'))
    .filter((r) => !(source === 'oci' && r.on === 'manifest'));
  const table = all.filter((r, k) => !pick || pick.test(r.name) || k === all.length - 1);
  const outcomes: Outcome[] = [];
  const fsDir = fx.makeBoard(boardConfig, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  const want = fx.hashFiles(fx.APP_1_0_0);
  let i = -1;
  let started = 0;
  front.control = (what) => {
    if (what === 'done') {
      const tree = fx.hashTree(fsDir, [...fx.NOT_APP, 'filler.bin']);
      outcomes[i] = { intact: JSON.stringify(tree) === JSON.stringify(want), ms: Date.now() - started };
      front.active = undefined;
      return '';
    }
    i++;
    const r = table[i];
    if (!r) return '';
    const config: Record<string, unknown> = { ...boardConfig, ...r.config };
    for (const k of Object.keys(config)) if (config[k] === null) delete config[k];
    front.active = r.on && r.serve ? { on: r.on, serve: r.serve, times: r.times } : undefined;
    started = Date.now();
    return JSON.stringify({ i, config, keep: !!r.keepStage, fill: r.fill ?? 0 });
  };
  const res = await fx.runBoard({
    ...flash,
    fsDir,
    code: driver(Number(new URL(front.origins[0]).port)),
    timeoutMs: 240_000,
  });
  assert.equal(res.error, undefined, res.output.slice(-3000));
  const parts = res.output.split(/^CASE:(\d+)\r?$/m);
  const got = new Map<number, string>();
  for (let k = 1; k < parts.length; k += 2) got.set(Number(parts[k]), parts[k + 1]);
  const problems: string[] = [];
  table.forEach((r, k) => {
    const out = got.get(k);
    if (out === undefined) return void problems.push(`${r.name}: never ran`);
    const want = r.expect === null || typeof r.expect === 'string' ? r.expect : r.expect[source];
    const codes = fx.errorCodes(out);
    const o = outcomes[k];
    if (JSON.stringify(codes) !== JSON.stringify(want === null || want === undefined ? [] : [want]))
      problems.push(
        `${r.name}: expected ${want ?? 'success'}, got [${codes.join(', ')}] ${out
          .split('\n')
          .filter((l) => l.includes('"error"'))
          .join(' ')
          .slice(0, 300)}`,
      );
    if (want !== null && o && !o.intact) problems.push(`${r.name}: the installed release changed`);
    // A generous bound: the rows that drip run into their 3 s deadline; nothing may hang past it.
    if (o && o.ms > 20_000) problems.push(`${r.name}: took ${o.ms} ms`);
  });
  t.diagnostic(`${table.length} rows on ${source}`);
  assert.deepEqual(problems, [], `${source}:\n${problems.join('\n')}`);
  for (const r of table) if (r.check) r.check(front);
  if (table[table.length - 1].expect !== null) return; // the FAT board: its one row (see below)
  assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
  assert.deepEqual(
    fx.hashTree(fsDir, [...fx.NOT_APP, 'filler.bin']),
    fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] }),
  );
}

// ---- the sources -----------------------------------------------------------------------------

const cleanups: string[] = [];
let gh: GitHubMock;
let reg: TestRegistry | undefined;
const fronts: Front[] = [];
const base = { retries: 0, timeout: 2 };
const known = (doc: RegExp) => ({ file: fileBytes, doc });

before(async () => {
  rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  cleanups.push(rel.dir);
  // One public repository, read by two boards: through the web download path and through the API.
  gh = await startGitHubMock({ private: false, rateLimit: 100_000 });
  gh.addRepo('me', 'app');
  gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: [] });
  gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: fx.githubAssets(rel) });
});
after(async () => {
  for (const f of fronts) await f.close();
  await gh?.close();
  await reg?.close();
  fx.cleanup(...cleanups);
});

suite('a hostile release host, every source', { concurrency: 5, timeout: 300_000 }, () => {
  test('static host', async (t) => {
    const host = fx.tempDir('host');
    cleanups.push(host);
    fx.publishStatic(host, rel);
    const srv = await fx.serveFolder(host);
    const front = await startFronts([srv.url], known(/\/latest\.json$/));
    fronts.push(front);
    try {
      await runSource(t, 'static', { source: 'static', url: front.origins[0], ...base }, front);
    } finally {
      await srv.close();
    }
  });

  test('static host, FAT flash with 4 KB clusters', async (t) => {
    const host = fx.tempDir('host');
    cleanups.push(host);
    fx.publishStatic(host, rel);
    const srv = await fx.serveFolder(host);
    const front = await startFronts([srv.url], known(/\/latest\.json$/));
    fronts.push(front);
    const cfg = { source: 'static', url: front.origins[0], ...base };
    try {
      await runSource(t, 'static-fat', cfg, front, { fs: 'fat', sectorSize: 4096, flashKb: 512 });
    } finally {
      await srv.close();
    }
  });

  test('GitHub (web download path)', async (t) => {
    const front = await startFronts([gh.apiUrl, gh.webUrl, gh.downloadsUrl], known(/\/releases\/latest$/));
    fronts.push(front);
    const [api, web] = front.origins;
    await runSource(t, 'github', { source: 'github', repo: 'me/app', api, web, ...base }, front);
  });

  test('GitHub (REST API)', async (t) => {
    // No web host beside a non-GitHub API root: releases/latest and the asset API, as a token would.
    const front = await startFronts([gh.apiUrl, gh.downloadsUrl], known(/\/releases\/latest$/));
    fronts.push(front);
    await runSource(
      t,
      'github-api',
      { source: 'github', repo: 'me/app', api: front.origins[0], ...base },
      front,
    );
  });

  test('OCI registry (anonymous pull token)', { skip: noRegistry }, async (t) => {
    reg = await startRegistry({ auth: 'token', publicRepos: ['me/app'] });
    const dir = fx.tempDir('oci');
    cleanups.push(dir);
    fx.writeTree(dir, fx.APP_1_1_0);
    await publishOci({
      dir,
      version: '1.1.0',
      ref: `${reg.url}/me/app`,
      fetch: reg.fetch,
      build: { created: '2026-11-01T00:00:00Z', name: 'app', delete: ['old.py'], keep: ['settings.json'] },
      credentials: { username: 'ota', password: 'secret-pw', from: 'test' },
    });
    const front = await startFronts([reg.url], known(/\/manifests\//));
    fronts.push(front);
    const ref = `${new URL(front.origins[0]).host}/me/app`;
    await runSource(t, 'oci', { source: 'oci', ref, ...base }, front);
  });
});
