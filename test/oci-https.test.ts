// The OCI source over HTTPS end to end on the virtual board, from the configuration a new user's board
// gets: a private registry with token auth (Debian's docker-registry, its token service, each behind
// an HTTPS front under the test CA, test/support/tls-front.ts), the release pushed by the publisher,
// the board trusting the test CA through "tls": {"ca": …} as README "Trust" tells a user to set it.
// The same registry behind an impostor certificate is refused before any request (tls_verify), and
// nothing on the board changes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boardConfig } from '../src/core/board-config';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishOci } from '../src/core/publish/oci';
import { checkBoardFiles } from '../src/core/serial/install';
import { rootsFor, ROOTS_PATH } from '../src/core/tls-roots';
import { makePki, trustingFetch, type Pki } from './support/pki';
import * as fx from './support/release-fixture';
import { registryMissing, startRegistry, type TestRegistry } from './support/registry';
import { tlsFront, type TlsFront } from './support/tls-front';

const skip = registryMissing(['/usr/bin/openssl']);
const T = { skip, timeout: 120_000 };
const user = 'ci';
const password = 'pw-https-5';
let work: string;
let pki: Pki;
let trust: unknown;
let reg: TestRegistry;
let tokenFront: TlsFront;
const fronts: TlsFront[] = [];
const cleanups: string[] = [];

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-oci-https-'));
  mkdirSync(join(work, 'pki'));
  pki = makePki(join(work, 'pki'));
  const key = await generateKey('ed25519', {
    path: join(work, 'keys', 'k.json'),
    project: join(work, 'projects'),
  });
  trust = await deviceTrustEntry(key.path);
  // The token service is reached over HTTPS too, as ghcr.io's and Docker Hub's are: the board sends
  // its password to it only over verified TLS.
  tokenFront = await tlsFront(undefined, pki.server);
  fronts.push(tokenFront);
  reg = await startRegistry({
    auth: 'token',
    user,
    password,
    tokenRealm: (origin) => {
      tokenFront.upstream = origin;
      return `${tokenFront.url}/token`;
    },
  });
  const dir = join(work, 'projects', 'app');
  fx.writeTree(dir, fx.APP_1_1_0);
  await publishOci({
    dir,
    version: '1.1.0',
    ref: `${reg.host}/me/private`,
    fetch: trustingFetch(pki.ca.cert),
    signKeyFile: key.path,
    build: { created: '2026-11-25T10:00:00Z', delete: ['old.py'], keep: ['settings.json'] },
    credentials: { username: user, password, from: 'test' },
  });
});
after(async () => {
  for (const f of fronts) await f.close();
  await reg?.close();
  if (work) fx.cleanup(work, ...cleanups);
});

/**
 * A 1.0.0 board configured as Configure Device and Install Updater would: the stored settings, the
 * registry password from secret storage, the CA file outside the updater's folders, the CA roots the
 * installer writes.
 */
function newBoard(ref: string): string {
  const config = boardConfig(
    { source: 'oci', ref, user, keys: [trust], tls: { ca: 'certs/ca.pem' }, retries: 0, timeout: 5 },
    undefined,
    undefined,
    password,
  );
  checkBoardFiles(config);
  const fsDir = fx.makeBoard(config as unknown as Record<string, unknown>, fx.APP_1_0_0, '1.0.0');
  cleanups.push(fsDir);
  writeFileSync(join(fsDir, ROOTS_PATH), rootsFor(config as unknown as Record<string, unknown>));
  mkdirSync(join(fsDir, 'certs'));
  writeFileSync(join(fsDir, 'certs', 'ca.pem'), pki.ca.cert);
  return fsDir;
}

const versionOf = (fsDir: string) => JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;

test(
  'a private token registry over HTTPS: the board trusting the test CA installs the release',
  T,
  async () => {
    const front = await tlsFront(reg.url, pki.server);
    fronts.push(front);
    const fsDir = newBoard(`${front.url}/me/private`);
    const asked = reg.tokenRequests.length;
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.deepEqual(
      fx.hashTree(fsDir, [...fx.NOT_APP, 'certs']),
      fx.hashFiles({ ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] }),
    );
    const tokens = reg.tokenRequests.slice(asked);
    assert.ok(
      tokens.some((q) => q.authorized && q.scope.includes('repository:me/private:pull')),
      `the board's credentials got a pull token: ${JSON.stringify(tokens)}`,
    );
    // Every request went through a verified handshake: to the registry and to its token service.
    const [reg443, tok443] = [front.counts(), tokenFront.counts()];
    assert.ok(reg443.connections >= 2 && reg443.forwarded === reg443.connections, JSON.stringify(reg443));
    assert.ok(tok443.connections >= 1 && tok443.forwarded === tok443.connections, JSON.stringify(tok443));
  },
);

test(
  'the same registry behind an impostor certificate: tls_verify before any request, nothing changes',
  T,
  async () => {
    const front = await tlsFront(reg.url, pki.impostor);
    fronts.push(front);
    const fsDir = newBoard(`${front.url}/me/private`);
    const before = fx.hashTree(fsDir, ['.ota']);
    const asked = reg.tokenRequests.length;
    const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
    assert.deepEqual(fx.errorCodes(r.output), ['tls_verify'], r.output);
    const err = fx.eventsOf(r.output).find((e) => e.ev === 'error');
    assert.match(String(err?.msg), /not correctly signed by the trusted CA/);
    assert.deepEqual(fx.hashTree(fsDir, ['.ota']), before, 'the board is byte-identical outside .ota');
    assert.equal(versionOf(fsDir), '1.0.0');
    const c = front.counts();
    assert.ok(c.connections >= 1, 'the board did try');
    assert.equal(c.forwarded, 0, 'no request reached the registry');
    assert.equal(reg.tokenRequests.length, asked, 'no token was asked for');
  },
);
