// End to end: what the publishers write, the updater on the virtual board installs, signature and all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishFolder } from '../src/core/publish/folder';
import { publishGitHub } from '../src/core/publish/github';
import { serveFolder } from '../src/core/publish/serve';
import { startGitHubMock } from './support/github-mock';
import * as fx from './support/release-fixture';
import { makePki, trustingFetch } from './support/pki';

const T = { timeout: 90_000 };
let work: string;
let project: string;
const cleanups: string[] = [];
const created = '2026-11-25T10:00:00Z';

before(() => {
  work = mkdtempSync(join(tmpdir(), 'ota-pubboard-'));
  project = join(work, 'app');
  fx.writeTree(project, fx.APP_1_1_0);
});
after(() => fx.cleanup(work, ...cleanups));

function boardFor(config: Record<string, unknown>): string {
  const fsDir = fx.makeBoard({ retries: 0, ...config }, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  return fsDir;
}

test(
  'folder target served by ota serve: a signed 1.1.0 installs on a 1.0.0 board, bytes counted',
  T,
  async () => {
    const key = await generateKey('rsa-sha256', { path: join(work, 'rsa.json'), project });
    const out = join(work, 'site');
    await publishFolder({
      dir: project,
      version: '1.1.0',
      outDir: out,
      signKeyFile: key.path,
      build: { created },
    });
    const server = await serveFolder(out);
    try {
      const fsDir = boardFor({ source: 'static', url: server.url, keys: [await deviceTrustEntry(key.path)] });
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.equal(r.error, undefined, r.output);
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
      // Every file of 1.1.0 is there; nothing else of 1.0.0 is (no delete list: old.py stays the app's).
      for (const [path, content] of Object.entries(fx.APP_1_1_0)) {
        assert.equal(readFileSync(join(fsDir, path), 'utf8'), content, path);
      }
      const paths = server.requests.map((q) => q.path);
      assert.ok(
        paths.includes('/latest.json') && paths.includes('/1.1.0/manifest.json.sig'),
        paths.join(' '),
      );
      assert.ok(!paths.includes('/1.1.0/lib/util.py'), 'an unchanged file is not downloaded');
      assert.ok(server.bytesSent > 0);
      assert.equal(
        server.bytesSent,
        server.requests.reduce((n, q) => n + q.bytes, 0),
      );

      // A board trusting another key refuses the release and keeps 1.0.0.
      const other = await generateKey('rsa-sha256', { path: join(work, 'other.json'), project });
      const refusing = boardFor({
        source: 'static',
        url: server.url,
        keys: [await deviceTrustEntry(other.path)],
      });
      const r2 = await fx.runBoard({ fsDir: refusing, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r2.output), ['bad_signature']);
      assert.deepEqual(fx.hashTree(refusing, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
    } finally {
      await server.close();
    }
  },
);

test(
  'GitHub target, private repo: the board installs the published release; its token never leaves the API host',
  T,
  async () => {
    const token = 'ghp_fleet';
    // HTTPS under a test CA: the board sends its token over verified TLS only.
    const pki = makePki(mkdtempSync(join(work, 'pki-')));
    const gh = await startGitHubMock({ token, private: true, tls: pki.server });
    try {
      gh.addRepo('me', 'app');
      const key = await generateKey('hmac-sha256', { path: join(work, 'hmac.json'), project });
      await publishGitHub({
        dir: project,
        version: '1.1.0',
        build: { created },
        repo: 'me/app',
        token,
        baseUrl: gh.apiUrl,
        signKeyFile: key.path,
        fetch: trustingFetch(pki.ca.cert),
      });
      const fsDir = boardFor({
        source: 'github',
        repo: 'me/app',
        api: gh.apiUrl,
        token,
        channel: 'stable',
        keys: [await deviceTrustEntry(key.path)],
        tls: { ca: 'ota/ca.pem' },
      });
      writeFileSync(join(fsDir, 'ota', 'ca.pem'), pki.ca.cert);
      const from = gh.state.requests.length;
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.equal(r.error, undefined, r.output);
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
      assert.equal(readFileSync(join(fsDir, 'main.py'), 'utf8'), fx.APP_1_1_0['main.py']);
      const board = gh.state.requests.slice(from);
      const downloads = board.filter((q) => q.origin === 'downloads');
      assert.ok(downloads.length >= 3, 'manifest, signature and changed files through the 302');
      assert.ok(downloads.every((q) => q.headers.authorization === undefined && q.status === 200));
      assert.ok(board.filter((q) => q.origin === 'api').every((q) => q.headers.authorization !== undefined));
    } finally {
      await gh.close();
    }
  },
);
