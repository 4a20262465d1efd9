// A static release from a real web server: what `publish --target folder` writes, served by Debian's
// nginx as a user sets it up (test/support/nginx.ts), read by the real updater on the virtual board.
// The board meets nginx's own answers: its heads, its ETag and 304 to If-None-Match, its 206 and
// Content-Range to a Range request (a download resumed after a dropped connection).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey, type TrustEntry } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { nginxMissing, startNginx, type Nginx } from './support/nginx';
import * as fx from './support/release-fixture';

const T = { timeout: 120_000 };
const skip = nginxMissing();
if (skip) console.log(`# skipped: ${skip}`);
const cleanups: string[] = [];
let nginx: Nginx;
let keys: TrustEntry[];

before(async () => {
  if (skip) return;
  const project = fx.tempDir('proj');
  const site = fx.tempDir('site');
  cleanups.push(project, site);
  fx.writeTree(project, fx.APP_1_1_0);
  const key = await generateKey('ed25519', { path: join(fx.tempDir('keys'), 'k.json'), project });
  cleanups.push(join(key.path, '..'));
  keys = [await deviceTrustEntry(key.path)];
  // Twice: with a bundle (a first install takes it), and without (an update goes file by file, the
  // path that resumes a file with Range).
  for (const bundle of [true, false]) {
    await publishFolder({
      dir: project,
      version: '1.1.0',
      outDir: join(site, bundle ? 'bundled' : 'files'),
      signKeyFile: key.path,
      bundle,
      build: { created: '2026-11-01T00:00:00Z', keep: ['settings.json'] },
    });
  }
  nginx = await startNginx(site);
});
after(async () => {
  await nginx?.close();
  fx.cleanup(...cleanups);
});

/**
 * A TCP relay in front of nginx that, once, cuts the answer to a request for `path` after its head
 * and 1000 body bytes. The board may send several requests on one connection (docs/protocols.md,
 * "Connection reuse"), one at a time: what nginx sends after the request for `path` is its answer.
 */
async function cutOnce(upstream: string, path: string): Promise<{ url: string; server: Server }> {
  const u = new URL(upstream);
  let armed = true;
  const server = createServer((c) => {
    const up = connect(Number(u.port), u.hostname);
    let cut = false;
    let head = Buffer.alloc(0);
    // A request line may come in pieces (the board writes method, path and version apart).
    let sent = '';
    const read = (d: Buffer) => {
      sent = (sent + d.toString('latin1')).slice(-4096);
      if (armed && sent.includes(`GET ${path} HTTP/1.1\r\n`)) [armed, cut] = [false, true];
    };
    c.on('data', read);
    up.on('data', (d: Buffer) => {
      if (!cut) return void c.write(d);
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end >= 0 && head.length >= end + 4 + 1000) {
        c.write(head.subarray(0, end + 4 + 1000), () => {
          c.destroy();
          up.destroy();
        });
      }
    });
    c.pipe(up);
    up.on('end', () => c.end());
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const version = (fsDir: string) =>
  (JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')) as { version: string }).version;

test(
  'nginx: a file cut mid-download is resumed with Range (206), the update completes, the next check is a 304',
  { ...T, skip },
  async () => {
    const relay = await cutOnce(nginx.url, '/files/1.1.0/lib/new.py');
    const fsDir = fx.makeBoard(
      { source: 'static', url: `${relay.url}/files`, keys, retries: 0, timeout: 2 },
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    try {
      const from = nginx.requests().length;
      const r1 = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r1.output), ['network'], r1.output);
      assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
      const r2 = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r2.output), [], r2.output);
      assert.equal(version(fsDir), '1.1.0');
      assert.deepEqual(
        fx.hashTree(fsDir, fx.NOT_APP),
        fx.hashFiles({
          ...fx.APP_1_1_0,
          'settings.json': fx.APP_1_0_0['settings.json'],
          'old.py': fx.APP_1_0_0['old.py'],
        }),
      );
      const log = nginx.requests().slice(from);
      assert.deepEqual(
        log.filter((q) => q.path.endsWith('/lib/new.py')).map((q) => `${q.status} ${q.range}`),
        ['200 ', '206 bytes=1000-'],
      );
      // Confirmed, then checked again: nginx's ETag, sent back, gets its 304 and nothing else.
      const idle = nginx.requests().length;
      const r3 = await fx.runBoard({ fsDir, code: 'import ota\nota.confirm()\nprint(ota.update())\n' });
      assert.deepEqual(fx.errorCodes(r3.output), [], r3.output);
      const after = nginx.requests().slice(idle);
      assert.deepEqual(
        after.map((q) => `${q.status} ${q.path}`),
        ['304 /files/latest.json'],
      );
      assert.match(after[0].ifNoneMatch, /^"[0-9a-f]+-[0-9a-f]+"$/, 'an nginx ETag');
    } finally {
      await new Promise((r) => relay.server.close(r));
    }
  },
);

test('nginx: a board with nothing installed takes the bundle', { ...T, skip }, async () => {
  const url = `${nginx.url}/bundled`;
  const fsDir = fx.makeBoard({ source: 'static', url, keys, retries: 0 }, {}, undefined);
  cleanups.push(fsDir);
  const from = nginx.requests().length;
  const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
  assert.deepEqual(fx.errorCodes(r.output), [], r.output);
  const warned = fx.eventsOf(r.output).filter((e) => e.ev === 'warning');
  assert.deepEqual(warned, [], r.output);
  assert.equal(version(fsDir), '1.1.0');
  assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_1_0));
  const got = nginx.requests().slice(from);
  assert.ok(
    got.some((q) => q.path.endsWith('.tar.gz') && q.status === 200),
    got.map((q) => `${q.status} ${q.path}`).join(' '),
  );
  assert.ok(
    got.every((q) => q.status === 200),
    got.map((q) => `${q.status} ${q.path}`).join(' '),
  );
});
