// Static-host publishing: the folder layout of docs/protocols.md, `ota serve`'s HTTP, changelog notes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { OtaError } from '../src/core/errors';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { parseManifest } from '../src/core/manifest';
import { publishFolder, type FolderOptions } from '../src/core/publish/folder';
import { changelogSection } from '../src/core/publish/notes';
import { serveFolder, type FolderServer } from '../src/core/publish/serve';
import { verifySignature } from '../src/core/sign';

let work: string;
let project: string;
let keyFile: string;
const created = '2026-11-25T10:00:00Z';
const code = (c: string) => (e: unknown) => e instanceof OtaError && e.code === c;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-pubdir-'));
  project = join(work, 'app');
  mkdirSync(join(project, 'lib'), { recursive: true });
  writeFileSync(join(project, 'main.py'), 'print("hello")\n'.repeat(200));
  writeFileSync(join(project, 'lib', 'util.py'), 'X = 1\n');
  keyFile = (await generateKey('hmac-sha256', { path: join(work, 'keys', 'k.json'), project })).path;
});
after(() => rmSync(work, { recursive: true, force: true }));

const opts = (outDir: string, extra: Partial<FolderOptions> = {}): FolderOptions => ({
  dir: project,
  version: '1.0.0',
  outDir,
  build: { created },
  ...extra,
});

test('folder layout: latest.json, <version>/manifest.json + .sig, files, bundle, uOTA latest', async () => {
  const out = join(work, 'site1');
  const r = await publishFolder(opts(out, { signKeyFile: keyFile, uota: true }));
  assert.equal(r.latest, true);
  assert.equal(r.signed, true);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')), {
    version: '1.0.0',
    manifest: '1.0.0/manifest.json',
  });
  assert.deepEqual(readdirSync(out).sort(), ['1.0.0', 'latest', 'latest.json']);
  assert.deepEqual(readdirSync(join(out, '1.0.0')).sort(), [
    'app-1.0.0.tar.gz',
    'lib',
    'main.py',
    'manifest.json',
    'manifest.json.sig',
  ]);
  const bytes = readFileSync(join(out, '1.0.0', 'manifest.json'));
  const sig = JSON.parse(readFileSync(join(out, '1.0.0', 'manifest.json.sig'), 'utf8'));
  verifySignature(bytes, sig, [await deviceTrustEntry(keyFile)]);
  const m = parseManifest(bytes);
  assert.deepEqual(
    m.files.map((f) => f.path),
    ['lib/util.py', 'main.py'],
  );
  const bundle = readFileSync(join(out, '1.0.0', 'app-1.0.0.tar.gz'));
  assert.equal(m.bundle?.sha256, createHash('sha256').update(bundle).digest('hex'));
  // uOTA: version;file;kB of free space needed;sha256 of the file.
  const [v, file, kb, sha] = readFileSync(join(out, 'latest'), 'utf8').trim().split(';');
  assert.equal(v, '1.0.0');
  assert.equal(file, '1.0.0/app-1.0.0.tar.gz');
  assert.equal(kb, String(Math.ceil((3000 + 6) / 1024)));
  assert.equal(sha, m.bundle?.sha256);
});

test('an existing version is refused without --force; latest.json only moves forward', async () => {
  const out = join(work, 'site2');
  await publishFolder(opts(out, { version: '1.1.0' }));
  await assert.rejects(publishFolder(opts(out, { version: '1.1.0' })), code('version_exists'));
  const older = await publishFolder(opts(out, { version: '1.0.5' }));
  assert.equal(older.latest, false);
  assert.equal(JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')).version, '1.1.0');
  writeFileSync(join(project, 'lib', 'util.py'), 'X = 2\n');
  try {
    const again = await publishFolder(opts(out, { version: '1.1.0', force: true }));
    assert.equal(again.latest, true);
    assert.equal(readFileSync(join(out, '1.1.0', 'lib', 'util.py'), 'utf8'), 'X = 2\n');
  } finally {
    writeFileSync(join(project, 'lib', 'util.py'), 'X = 1\n');
  }
  assert.deepEqual(readdirSync(out).sort(), ['1.0.5', '1.1.0', 'latest.json'], 'no staging left behind');
});

test('an output folder inside the project is not released; a failure leaves no partial version', async () => {
  const out = join(project, 'site');
  try {
    await publishFolder(opts(out));
    const m = parseManifest(readFileSync(join(out, '1.0.0', 'manifest.json')));
    assert.ok(m.files.every((f) => !f.path.startsWith('site/')));
    await assert.rejects(
      publishFolder(opts(out, { version: '2.0.0', signKeyFile: join(work, 'keys', 'missing.json') })),
      code('key_unreadable'),
    );
    assert.equal(existsSync(join(out, '2.0.0')), false);
    assert.deepEqual(readdirSync(out).sort(), ['1.0.0', 'latest.json']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a signing key inside the project is never published: left out and named, like every secret', async () => {
  const inside = join(project, 'secret.json');
  writeFileSync(inside, readFileSync(keyFile), { mode: 0o600 });
  try {
    const r = await publishFolder(opts(join(work, 'site3'), { signKeyFile: inside }));
    assert.match(r.excluded.find((e) => e.path === 'secret.json')?.why ?? 'not left out', /signing key/);
    assert.equal(existsSync(join(r.versionDir, 'secret.json')), false);
  } finally {
    rmSync(inside);
  }
});

function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('serve: Range, ETag/If-None-Match, gzip, HEAD, 404 for hidden or outside paths, bytes counted', async () => {
  const out = join(work, 'site4');
  await publishFolder(opts(out));
  const seen: string[] = [];
  let server: FolderServer | undefined;
  try {
    server = await serveFolder(out, { onRequest: (r) => seen.push(`${r.status} ${r.path} ${r.bytes}`) });
    const main = readFileSync(join(out, '1.0.0', 'main.py'));
    const full = await get(`${server.url}/1.0.0/main.py`);
    assert.equal(full.status, 200);
    assert.deepEqual(full.body, main);
    assert.equal(full.headers['content-length'], String(main.length));
    const etag = String(full.headers.etag);

    const cached = await get(`${server.url}/1.0.0/main.py`, { 'if-none-match': etag });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);

    const part = await get(`${server.url}/1.0.0/main.py`, { range: 'bytes=100-' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-${main.length - 1}/${main.length}`);
    assert.deepEqual(part.body, main.subarray(100));
    const tail = await get(`${server.url}/1.0.0/main.py`, { range: 'bytes=-10' });
    assert.deepEqual(tail.body, main.subarray(main.length - 10));
    const beyond = await get(`${server.url}/1.0.0/main.py`, { range: `bytes=${main.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${main.length}`);

    const gz = await get(`${server.url}/1.0.0/main.py`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.notEqual(gz.headers.etag, etag, 'each encoding has its own ETag');
    assert.deepEqual(gunzipSync(gz.body), main);
    assert.ok(gz.body.length < main.length / 5);

    const head = await get(`${server.url}/latest.json`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-type'], 'application/json');

    for (const bad of ['/../app/main.py', '/%2e%2e/app/main.py', '/1.0.0', '/.staging-1/x', '/nothing']) {
      assert.equal((await get(`${server.url}${bad}`)).status, 404, bad);
    }
    assert.equal((await get(`${server.url}/latest.json`, {}, 'POST')).status, 405);

    const counted = main.length + (main.length - 100) + 10 + gz.body.length;
    assert.ok(server.bytesSent >= counted, `${server.bytesSent} >= ${counted}`);
    assert.equal(
      server.bytesSent,
      server.requests.reduce((n, r) => n + r.bytes, 0),
    );
    assert.ok(seen.includes(`206 /1.0.0/main.py ${main.length - 100}`));
    await assert.rejects(serveFolder(out, { port: server.port }), code('port_in_use'));
  } finally {
    await server?.close();
  }
  await assert.rejects(serveFolder(join(work, 'nope')), code('not_found'));
  await assert.rejects(serveFolder(join(out, 'latest.json')), code('not_a_directory'));
});

test('release notes: the changelog section of the version, in the usual heading styles', () => {
  const log = [
    '# Changelog',
    '',
    '## [Unreleased]',
    '- wip',
    '',
    '## [1.4.0] - 2026-11-25',
    '### Added',
    '- OTA',
    '',
    '## v1.3.0',
    '- older',
    '## 1.3.0-beta.1 (beta)',
    '- beta',
  ].join('\n');
  assert.equal(changelogSection(log, '1.4.0'), '### Added\n- OTA');
  assert.equal(changelogSection(log, '1.3.0'), '- older');
  assert.equal(changelogSection(log, '1.3.0-beta.1'), '- beta');
  assert.equal(changelogSection(log, '1.4'), undefined);
  assert.equal(changelogSection(log, '2.0.0'), undefined);
});
