// The updater's OCI source on the virtual board (real device code) against a real registry
// (Debian's docker-registry on 127.0.0.1), with what `ota publish --target oci` pushed: the delta
// and bundle paths, a corrupted blob, a private repository, a redirect to blob storage. The private
// registry serves HTTPS under a test CA the board trusts (tls.ca): a board sends credentials over
// verified TLS only, as a user's registry would be reached.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishOci, type Credentials } from '../src/core/publish/oci';
import { NEW_FW, UPDATE, firmwareFixture, holds, run as runFw } from './support/firmware-fixture';
import { makePki, type Pki } from './support/pki';
import * as fx from './support/release-fixture';
import { registryMissing, startRegistry, startRegistryProxy, type TestRegistry } from './support/registry';

const skip = registryMissing(['/usr/bin/htpasswd', '/usr/bin/openssl']);
const T = { skip, timeout: 120_000 };
const created = '2026-11-25T10:00:00Z';
const creds: Credentials = { username: 'ci', password: 'pw-3', from: 'test' };
let work: string;
let keyFile: string;
let trust: unknown;
let open: TestRegistry;
let priv: TestRegistry;
let pki: Pki;
const tls = () => ({ ...pki.server, ca: pki.ca.cert });
const cleanups: string[] = [];

async function publish(
  reg: TestRegistry,
  repo: string,
  version: string,
  files: fx.AppFiles,
  extra: Partial<Parameters<typeof publishOci>[0]> = {},
): Promise<void> {
  const dir = join(work, 'projects', `${repo.replace(/\//g, '_')}-${version}`);
  fx.writeTree(dir, files);
  await publishOci({
    dir,
    version,
    ref: `${reg.url}/${repo}`,
    fetch: reg.fetch,
    signKeyFile: keyFile,
    build: { created, delete: ['old.py'], keep: ['settings.json'] },
    credentials: reg === priv ? creds : undefined,
    ...extra,
  });
}

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-devoci-'));
  keyFile = (
    await generateKey('ed25519', { path: join(work, 'keys', 'k.json'), project: join(work, 'projects') })
  ).path;
  trust = await deviceTrustEntry(keyFile);
  mkdirSync(join(work, 'pki'));
  pki = makePki(join(work, 'pki'));
  open = await startRegistry();
  priv = await startRegistry({
    auth: 'htpasswd',
    user: creds.username,
    password: creds.password,
    tls: tls(),
  });
  await publish(open, 'me/app', '1.1.0', fx.APP_1_1_0);
  await publish(open, 'me/bundled', '1.1.0', fx.APP_1_1_0, { bundle: true });
  await publish(priv, 'me/private', '1.1.0', fx.APP_1_1_0);
});
after(async () => {
  await open?.close();
  await priv?.close();
  if (work) fx.cleanup(work, ...cleanups);
});

function board(
  ref: string,
  extra: Record<string, unknown> = {},
  app = fx.APP_1_0_0,
  version = '1.0.0',
): string {
  const fsDir = fx.makeBoard({ source: 'oci', ref, keys: [trust], retries: 0, ...extra }, app, version);
  cleanups.push(fsDir);
  return fsDir;
}

/** A board of the private registry (an https:// reference): it trusts the test CA. */
function privBoard(ref: string, extra: Record<string, unknown> = {}): string {
  const fsDir = board(ref, { tls: { ca: 'ota/ca.pem' }, ...extra });
  writeFileSync(join(fsDir, 'ota', 'ca.pem'), pki.ca.cert);
  return fsDir;
}

const versionOf = (fsDir: string) => JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
const expected = { ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] };

test('delta: a 1.0.0 board installs 1.1.0 from the registry, only changed blobs, then a 304', T, async () => {
  const proxy = await startRegistryProxy(open.url);
  try {
    const fsDir = board(`${proxy.host}/me/app`);
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(expected));
    const manifests = proxy.requests.filter((q) => q.path.includes('/manifests/'));
    assert.deepEqual(
      manifests.map((q) => q.path),
      ['/v2/me/app/manifests/stable.board'],
      'the board reads the small .board manifest, not the artifact',
    );
    const blobs = proxy.requests.filter((q) => q.path.includes('/blobs/'));
    // main.py, lib/new.py, ota_hooks/post.py: lib/util.py is unchanged, manifest.json and its
    // signature came inside the .board manifest.
    assert.equal(blobs.length, 3, blobs.map((q) => q.path).join(' '));
    assert.ok(!existsSync(join(fsDir, '.ota', 'oci.json')), 'the held manifest.json is not left behind');
    const from = proxy.requests.length;
    const r2 = await fx.runBoard({ fsDir, code: 'import ota\nota.confirm()\nprint(ota.update())\n' });
    assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
    assert.deepEqual(
      proxy.requests.slice(from).map((q) => q.status),
      [304],
      'the next check is one manifest request answered 304',
    );
    // Without its ETag (a stale one is dropped) the board reads the .board again, and stops at the
    // inline manifest.json of the version it runs: nothing saved, nothing else asked.
    const state = join(fsDir, '.ota', 'state.json');
    const st = JSON.parse(readFileSync(state, 'utf8')) as Record<string, unknown>;
    delete st.etag;
    writeFileSync(state, JSON.stringify(st));
    const again = proxy.requests.length;
    const r3 = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.update())\n' });
    assert.deepEqual(fx.errorCodes(r3.output), [], r3.output);
    assert.deepEqual(
      proxy.requests.slice(again).map((q) => `${q.path} ${q.status}`),
      ['/v2/me/app/manifests/stable.board 200'],
    );
    assert.ok(!existsSync(join(fsDir, '.ota', 'oci.json')), 'the running version is not saved again');
    assert.equal(versionOf(fsDir), '1.1.0');
  } finally {
    await proxy.close();
  }
});

test('a blob cut mid-download fails with connection; the next check resumes it with Range', T, async () => {
  const digest = `sha256:${createHash('sha256').update(fx.APP_1_1_0['lib/new.py']).digest('hex')}`;
  const proxy = await startRegistryProxy(open.url, { cutOnce: digest });
  try {
    const fsDir = board(`${proxy.host}/me/app`, { timeout: 2 });
    const r1 = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r1.output), ['network'], r1.output);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    const r2 = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
    const resumed = proxy.requests.filter((q) => q.path.endsWith(digest));
    assert.deepEqual(
      resumed.map((q) => `${q.status} ${q.range ?? ''}`),
      ['200 ', '206 bytes=1000-'],
    );
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(expected));
  } finally {
    await proxy.close();
  }
});

test('bundle: a board with nothing installed takes the bundle blob', T, async () => {
  const proxy = await startRegistryProxy(open.url);
  try {
    const fsDir = board(`${proxy.host}/me/bundled`, {}, {}, '');
    // The standard board (fx.BOARD_HEAP_KB): the registry's check code is gone by the download, so
    // the bundle's 33 KB window finds one free block, as it does for a static-host board.
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    const warnings = fx.eventsOf(r.output).filter((e) => e.ev === 'warning');
    assert.deepEqual(warnings, [], 'no no_memory warning: the bundle, not file by file');
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_1_0));
    const blobs = proxy.requests.filter((q) => q.path.includes('/blobs/'));
    assert.equal(blobs.length, 1, `the bundle alone: ${blobs.map((q) => q.path).join(' ')}`);
  } finally {
    await proxy.close();
  }
});

test('a corrupted blob is refused (hash_mismatch) and the old release stays', T, async () => {
  const files = { ...fx.APP_1_1_0, 'main.py': 'print("only in the corrupt test")\n' };
  await publish(open, 'me/corrupt', '1.1.0', files);
  const m = await fetch(`${open.url}/v2/me/corrupt/manifests/1.1.0`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  }).then((r) => r.json() as Promise<{ layers: { digest: string; annotations: Record<string, string> }[] }>);
  const main = m.layers.find((l) => l.annotations['org.opencontainers.image.title'] === 'main.py')!;
  const path = open.blobPath(main.digest);
  const bytes = readFileSync(path);
  bytes[0] ^= 0x20; // same size, other bytes: the registry serves it as if nothing happened
  writeFileSync(path, bytes);
  const fsDir = board(`${open.host}/me/corrupt`);
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['hash_mismatch'], r.output);
  assert.equal(versionOf(fsDir), '1.0.0');
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
});

const MEDIA = 'application/vnd.oci.image.manifest.v1+json';
type BoardDoc = {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
  annotations: Record<string, string>;
};
const getManifest = (repo: string, tag: string) =>
  fetch(`${open.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: MEDIA } }).then(async (r) => {
    assert.equal(r.status, 200, `${repo}:${tag}`);
    return Buffer.from(await r.arrayBuffer());
  });
async function putManifest(repo: string, tag: string, body: Buffer | string): Promise<void> {
  const r = await fetch(`${open.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': MEDIA },
    body,
  });
  assert.equal(r.status, 201, await r.text());
}
/**
 * A `.board` taken apart: its envelope (without the inline documents) and the two documents' exact
 * bytes, and `assemble` to put a variant together (`at`: where a raw property goes, "end" or "start").
 */
async function boardParts(repo: string, tag: string) {
  const bytes = await getManifest(repo, tag);
  const {
    sig: _s,
    manifest: _m,
    ...envelope
  } = JSON.parse(bytes.toString()) as BoardDoc & Record<string, unknown>;
  const doc = envelope as BoardDoc;
  const man = readFileSync(open.blobPath(doc.config.digest));
  const sig = readFileSync(open.blobPath(doc.layers[0].digest));
  const assemble = (d: BoardDoc, raw: [string, Buffer, 'start' | 'end'][]) => {
    const body = JSON.stringify(d);
    const part = (k: string, b: Buffer) => Buffer.concat([Buffer.from(`"${k}":`), b]);
    const start = raw
      .filter((r) => r[2] === 'start')
      .map((r) => Buffer.concat([part(r[0], r[1]), Buffer.from(',')]));
    const end = raw
      .filter((r) => r[2] === 'end')
      .map((r) => Buffer.concat([Buffer.from(','), part(r[0], r[1])]));
    return Buffer.concat([
      Buffer.from('{'),
      ...start,
      Buffer.from(body.slice(1, -1)),
      ...end,
      Buffer.from('}'),
    ]);
  };
  assert.ok(
    bytes.equals(
      assemble(doc, [
        ['sig', sig, 'end'],
        ['manifest', man, 'end'],
      ]),
    ),
    'the .board is envelope + sig + manifest',
  );
  return { bytes, doc, man, sig, assemble };
}

test(
  'a manifest.json that does not match the digest its .board names: hash_mismatch, old release stays',
  T,
  async () => {
    await publish(open, 'me/badman', '1.1.0', fx.APP_1_1_0);
    const { doc, man, sig, assemble } = await boardParts('me/badman', 'stable.board');
    // Still JSON (the registry takes only JSON manifests): one hex digit of a file's SHA-256 changed.
    const flipped = Buffer.from(man);
    const at = flipped.indexOf('"sha256": "') + 11;
    flipped[at] = flipped[at] === 0x30 ? 0x31 : 0x30;
    const variants: Record<string, Buffer> = {
      // inline bytes that are not the config's
      flipped: assemble(doc, [
        ['sig', sig, 'end'],
        ['manifest', flipped, 'end'],
      ]),
      // a config size past the inline bytes: the read runs into the document's end
      longer: assemble({ ...doc, config: { ...doc.config, size: man.length + 10 } }, [
        ['sig', sig, 'end'],
        ['manifest', man, 'end'],
      ]),
      // no inline copy (another publisher): the config blob, corrupted in the registry's store
      blob: assemble(doc, [['sig', sig, 'end']]),
    };
    const path = open.blobPath(doc.config.digest);
    writeFileSync(path, flipped);
    for (const [tag, body] of Object.entries(variants)) {
      await putManifest('me/badman', tag, await getManifest('me/badman', '1.1.0'));
      await putManifest('me/badman', `${tag}.board`, body);
      const fsDir = board(`${open.host}/me/badman:${tag}`);
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), ['hash_mismatch'], `${tag}: ${r.output}`);
      assert.match(r.output, /manifest\.json does not match its digest/);
      assert.equal(versionOf(fsDir), '1.0.0');
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
      assert.ok(!existsSync(join(fsDir, '.ota', 'oci.json')), `${tag}: nothing held`);
    }
  },
);

test(
  'a tag without a .board partner (pushed by another tool) is read as the artifact itself',
  T,
  async () => {
    await publish(open, 'me/legacy', '1.1.0', fx.APP_1_1_0);
    await putManifest('me/legacy', 'byhand', await getManifest('me/legacy', '1.1.0'));
    const proxy = await startRegistryProxy(open.url);
    try {
      const fsDir = board(`${proxy.host}/me/legacy:byhand`);
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(versionOf(fsDir), '1.1.0');
      assert.deepEqual(
        proxy.requests.filter((q) => q.path.includes('/manifests/')).map((q) => `${q.path} ${q.status}`),
        ['/v2/me/legacy/manifests/byhand.board 404', '/v2/me/legacy/manifests/byhand 200'],
      );
    } finally {
      await proxy.close();
    }
  },
);

test(
  'inline documents count only after their descriptor and when they match it; else the board takes the blob',
  T,
  async () => {
    const { doc, man, sig, assemble } = await boardParts('me/app', '1.1.0.board');
    // One character of the signature changed, always to another one (a fixed 'A' would leave a
    // signature that starts with 'A' intact, about one run in 64).
    const forged = Buffer.from(
      sig.toString().replace(/"sig":"(.)/, (_, c: string) => `"sig":"${c === 'A' ? 'B' : 'A'}`),
    );
    assert.notDeepEqual(forged, sig);
    assert.equal(forged.length, sig.length);
    const mDigest = doc.config.digest;
    const sDigest = doc.layers[0].digest;
    const variants: Record<string, [Buffer, string[]]> = {
      forged: [
        assemble(doc, [
          ['sig', forged, 'end'],
          ['manifest', man, 'end'],
        ]),
        [sDigest],
      ],
      nosig: [assemble(doc, [['manifest', man, 'end']]), [sDigest]],
      sigfirst: [
        assemble(doc, [
          ['sig', sig, 'start'],
          ['manifest', man, 'end'],
        ]),
        [sDigest],
      ],
      manifestfirst: [
        assemble(doc, [
          ['manifest', man, 'start'],
          ['sig', sig, 'end'],
        ]),
        [mDigest],
      ],
      none: [assemble(doc, []), [mDigest, sDigest]],
    };
    const full = await getManifest('me/app', '1.1.0');
    const proxy = await startRegistryProxy(open.url);
    try {
      for (const [tag, [body, fetched]] of Object.entries(variants)) {
        await putManifest('me/app', tag, full);
        await putManifest('me/app', `${tag}.board`, body);
        const from = proxy.requests.length;
        const fsDir = board(`${proxy.host}/me/app:${tag}`);
        const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
        assert.deepEqual(fx.errorCodes(r.output), [], `${tag}: ${r.output}`);
        assert.equal(versionOf(fsDir), '1.1.0');
        const docs = proxy.requests
          .slice(from)
          .map((q) => q.path.replace(/^.*\/blobs\//, ''))
          .filter((d) => d === mDigest || d === sDigest);
        assert.deepEqual(docs, fetched, `${tag}: the blobs taken`);
      }
    } finally {
      await proxy.close();
    }
  },
);

test(
  'unsigned: the .board layer is the empty blob; a board without keys installs, one with keys refuses',
  T,
  async () => {
    await publish(open, 'me/unsigned', '1.1.0', fx.APP_1_1_0, { signKeyFile: undefined });
    const doc = JSON.parse((await getManifest('me/unsigned', 'stable.board')).toString()) as BoardDoc;
    assert.equal(
      doc.layers[0].digest,
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
    const fsDir = fx.makeBoard(
      { source: 'oci', ref: `${open.host}/me/unsigned`, retries: 0 },
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    const strict = board(`${open.host}/me/unsigned`);
    const r2 = await fx.runBoard({ fsDir: strict, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r2.output), ['no_signature'], r2.output);
    assert.equal(versionOf(strict), '1.0.0');
  },
);

test('private repository without credentials: a clear auth error, nothing changes', T, async () => {
  const fsDir = privBoard(`${priv.url}/me/private`);
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['auth_failed'], r.output);
  assert.match(r.output, /set user and password/);
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  const wrong = privBoard(`${priv.url}/me/private`, { user: 'ci', password: 'nope' });
  const r2 = await fx.runBoard({ fsDir: wrong, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r2.output), ['auth_failed'], r2.output);
});

test('private repository, blobs redirected to storage: credentials to the registry only', T, async () => {
  const basic = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
  const proxy = await startRegistryProxy(priv.url, { redirectBlobs: true, storageAuth: basic, tls: tls() });
  try {
    const fsDir = privBoard(`${proxy.url}/me/private`, { user: creds.username, password: creds.password });
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    const storage = proxy.requests.filter((q) => q.origin === 'storage');
    assert.equal(storage.length, 3, proxy.requests.map((q) => `${q.origin} ${q.path}`).join('\n'));
    for (const q of storage) assert.equal(q.authorization, undefined, `no Authorization to ${q.path}`);
    const registry = proxy.requests.filter((q) => q.origin === 'registry');
    assert.equal(registry[0].authorization, undefined, 'first try anonymous');
    assert.ok(registry.slice(1).every((q) => q.authorization === basic));
  } finally {
    await proxy.close();
  }
});

test('credentials refused mid-update (a token ran out) are presented again, once', T, async () => {
  const digest = `sha256:${createHash('sha256').update(fx.APP_1_1_0['lib/new.py']).digest('hex')}`;
  const proxy = await startRegistryProxy(priv.url, { expireOnce: digest, tls: tls() });
  try {
    const fsDir = privBoard(`${proxy.url}/me/private`, { user: creds.username, password: creds.password });
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.deepEqual(
      proxy.requests.filter((q) => q.path.endsWith(digest)).map((q) => q.status),
      [401, 200],
    );
  } finally {
    await proxy.close();
  }
});

test('token registry: anonymous Bearer pull of a public repository', T, async () => {
  const tok = await startRegistry({ auth: 'token', user: 'ci', password: 'pw-4', publicRepos: ['pub/app'] });
  try {
    const dir = join(work, 'projects', 'tok');
    fx.writeTree(dir, fx.APP_1_1_0);
    await publishOci({
      dir,
      version: '1.1.0',
      ref: `${tok.host}/pub/app`,
      signKeyFile: keyFile,
      build: { created },
      credentials: { username: 'ci', password: 'pw-4', from: 'test' },
    });
    const fsDir = board(`${tok.host}/pub/app`);
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.ok(tok.tokenRequests.some((q) => !q.authorized && q.scope.includes('repository:pub/app:pull')));
    // The anonymous token holds no secret; the board's password does: over plain HTTP it is
    // refused before any request carries it.
    const asked = tok.tokenRequests.length;
    const withCreds = board(`${tok.host}/pub/app`, { user: 'ci', password: 'pw-4' });
    const r2 = await fx.runBoard({ fsDir: withCreds, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r2.output), ['token_unverified'], r2.output);
    assert.equal(tok.tokenRequests.length, asked, 'no token request was sent with the password');
    assert.equal(versionOf(withCreds), '1.0.0');
  } finally {
    await tok.close();
  }
});

test(
  "another app's signed release (one key, two projects): wrong_app from the .board manifest alone",
  T,
  async () => {
    const proxy = await startRegistryProxy(open.url);
    try {
      const fsDir = board(`${proxy.host}/me/app`);
      writeFileSync(
        join(fsDir, 'version.json'),
        JSON.stringify({ version: '1.0.0', name: 'weather-station' }),
      );
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), ['wrong_app'], r.output);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
      const blobs = proxy.requests.filter((q) => q.path.includes('/blobs/'));
      assert.equal(blobs.length, 0, `no blob: ${blobs.map((q) => q.path).join(' ')}`);
    } finally {
      await proxy.close();
    }
  },
);

test('anti-downgrade: a tag holding an older version is refused', T, async () => {
  await publish(open, 'me/old', '0.9.0', fx.APP_1_1_0);
  const fsDir = board(`${open.host}/me/old`);
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), ['downgrade'], r.output);
});

test(
  'firmware: the image layer streams into the next OTA partition, verified by its SHA-256',
  T,
  async () => {
    const fix = await firmwareFixture();
    try {
      const dir = join(work, 'projects', 'fw');
      fx.writeTree(dir, fx.APP_1_1_0);
      const img = join(work, 'app-1.1.0.bin');
      writeFileSync(img, NEW_FW);
      await publishOci({
        dir,
        version: '1.1.0',
        ref: `${open.host}/me/fw`,
        signKeyFile: keyFile,
        build: { created, firmware: img, delete: ['old.py'], keep: ['settings.json'] },
      });
      const fsDir = fix.board();
      writeFileSync(
        join(fsDir, 'ota_config.json'),
        JSON.stringify({ source: 'oci', ref: `${open.host}/me/fw`, keys: [trust], retries: 0 }),
      );
      const r = await runFw(fsDir, UPDATE);
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(r.running, 'ota_1');
      assert.ok(holds(fsDir, 'ota_1', NEW_FW), 'ota_1 holds the image pulled from the registry');
    } finally {
      await fix.close();
    }
  },
);

test(
  'the board stops reading the registry manifest once it has the version and both documents',
  T,
  async () => {
    const fsDir = board(`${open.host}/me/app`);
    const head =
      '{"schemaVersion":2,"artifactType":"application/vnd.micropython-ota.release.v1+json",' +
      '"annotations":{"org.opencontainers.image.version":"1.0.0"},"layers":[' +
      `{"digest":"sha256:${'a'.repeat(64)}","size":1,"annotations":{"org.opencontainers.image.title":"manifest.json"}},` +
      `{"digest":"sha256:${'b'.repeat(64)}","size":2,"annotations":{"org.opencontainers.image.title":"manifest.json.sig"}},`;
    // What follows is never parsed: broken JSON here would otherwise fail the scan.
    const code = [
      'import io',
      'from ota import ocidoc',
      `b = ocidoc._scan(io.BytesIO(${JSON.stringify(head + '{BROKEN')}.encode()))`,
      'print("SCAN", b["version"], b["manifest.json"], b["manifest.json.sig"])',
      `print("SCAN", sorted(ocidoc._scan(io.BytesIO(${JSON.stringify(head.slice(0, -1) + ']}')}.encode()))))`,
    ].join('\n');
    const r = await fx.runBoard({ fsDir, boot: false, code });
    assert.match(r.output, /SCAN 1\.0\.0 \('sha256:a{64}', 1\) \('sha256:b{64}', 2\)/, r.output);
    assert.match(r.output, /SCAN \['manifest.json', 'manifest.json.sig', 'type', 'version'\]/, r.output);
  },
);
