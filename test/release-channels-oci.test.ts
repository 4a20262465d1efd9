// The Releases view for an OCI registry (core: releaseChannels → ociChannels, and the view's shape in
// release-view.ts), against Debian's docker-registry on 127.0.0.1: the tags as channels, the one
// each channel tag holds on top, the .board partners hidden, and the plain reason when there is
// nothing to list (no reference, no registry, no credentials).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishOci, type Credentials } from '../src/core/publish/oci';
import { registryCredentials } from '../src/core/publish/registry-login';
import { releaseChannels, type ReleaseStatus } from '../src/core/release-channels';
import { releaseChildren, releaseItem } from '../src/core/release-view';
import { registryMissing, startRegistry, type TestRegistry } from './support/registry';
import { REFUSED_PORT } from './support/refused';

const skip = registryMissing(['/usr/bin/htpasswd']);
const T = { skip, timeout: 60_000 };
let open: TestRegistry;
let priv: TestRegistry;
let work: string;
const creds: Credentials = { username: 'ci', password: 'pw-7', from: 'test' };
/** No credentials from this machine's environment or docker login. */
const bare = () => ({ env: {}, home: join(work, 'home') });

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-chanoci-'));
  mkdirSync(join(work, 'home'));
  open = await startRegistry();
  priv = await startRegistry({ auth: 'htpasswd', user: creds.username, password: creds.password });
});
after(async () => {
  await open?.close();
  await priv?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function publish(
  reg: TestRegistry,
  repo: string,
  version: string,
  created: string,
  credentials: Credentials | undefined = reg === priv ? creds : undefined,
): Promise<void> {
  const dir = join(work, 'projects', `${repo.replace('/', '_')}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'main.py'), `print(${JSON.stringify(version)})\n`);
  await publishOci({
    dir,
    version,
    ref: `${reg.host}/${repo}`,
    build: { created },
    credentials,
  });
}

test('no reference configured: the view says so', async () => {
  const s = await releaseChannels({ source: 'oci' });
  assert.equal(s.state, 'not-configured');
  assert.match(s.state === 'not-configured' ? s.message : '', /ota\.oci\.ref/);
});

test('the tags as channels: stable and beta, newest first, the channel tag’s release on top', T, async () => {
  const ref = `${open.host}/me/app`;
  assert.deepEqual(await releaseChannels({ source: 'oci', ref }), { state: 'ok', host: ref, entries: [] });
  await publish(open, 'me/app', '1.0.0', '2026-11-20T10:00:00Z');
  await publish(open, 'me/app', '1.1.0', '2026-11-22T10:00:00Z');
  await publish(open, 'me/app', '1.2.0-beta.1', '2026-11-23T10:00:00Z');
  await publish(open, 'me/app', '1.0.1', '2026-11-24T10:00:00Z'); // a hotfix: stable stays on 1.1.0
  const s = await releaseChannels({ source: 'oci', ref });
  assert.equal(s.state, 'ok');
  assert.deepEqual(s.state === 'ok' && s.entries.map((e) => [e.channel, e.version, e.date ?? '', e.ref]), [
    ['stable', '1.1.0', '2026-11-22T10:00:00Z', `${ref}:1.1.0`],
    ['stable', '1.0.1', '', `${ref}:1.0.1`],
    ['stable', '1.0.0', '', `${ref}:1.0.0`],
    ['beta', '1.2.0-beta.1', '2026-11-23T10:00:00Z', `${ref}:1.2.0-beta.1`],
  ]);

  // The view: the registry reference, then the channels; the first release of each is what boards
  // on it get (Update Device to This Release takes it), with the reference in its tooltip.
  const top = releaseChildren(s);
  assert.deepEqual(
    top.map((n) => releaseItem(n, s).label),
    [ref, 'stable', 'beta'],
  );
  assert.equal(releaseItem(top[0], s).icon, 'cloud');
  const stable = releaseChildren(s, top[1]).map((n) => releaseItem(n, s));
  assert.deepEqual(
    stable.map((i) => [i.label, i.description, i.contextValue]),
    [
      ['1.1.0', '2026-11-22 · latest', 'release latest stable'],
      ['1.0.1', '', 'release stable'],
      ['1.0.0', '', 'release stable'],
    ],
  );
  assert.equal(stable[0].tooltip, `1.1.0\n2026-11-22T10:00:00Z\n${ref}:1.1.0`);
  const beta = releaseChildren(s, top[2]).map((n) => releaseItem(n, s, { rollout: () => '50%' }));
  assert.deepEqual(
    beta.map((i) => [i.label, i.description, i.contextValue]),
    [['1.2.0-beta.1', '2026-11-23 · latest · 50%', 'release latest beta']],
  );
});

test('a registry that does not answer, a bad reference: the reason, named', T, async () => {
  const port = REFUSED_PORT;
  const s = await releaseChannels({ source: 'oci', ref: `127.0.0.1:${port}/me/app` });
  assert.equal(s.state, 'unreachable');
  assert.match(
    s.state === 'unreachable' ? s.message : '',
    new RegExp(`^Cannot reach 127.0.0.1:${port} \\(ECONNREFUSED\\)`),
  );
  const item = releaseItem(releaseChildren(s)[0], s);
  assert.deepEqual([item.label, item.description], ['Host unreachable', `127.0.0.1:${port}/me/app`]);
  const bad: ReleaseStatus = await releaseChannels({ source: 'oci', ref: 'App/Upper' });
  assert.equal(bad.state === 'error' && bad.code, 'bad_ref');
});

test('a private registry: credentials by the one order, a clear, actionable item without', T, async () => {
  await publish(priv, 'me/private', '2.0.0', '2026-11-25T10:00:00Z');
  const ref = `${priv.host}/me/private`;
  const none = await releaseChannels({ source: 'oci', ref, registry: bare() });
  assert.equal(none.state === 'error' && none.code, 'credentials_missing');
  assert.equal(none.state === 'error' && none.signIn, undefined, 'no GitHub sign-in for another host');
  const item = releaseItem(releaseChildren(none)[0], none);
  assert.equal(item.label, 'Private repository: credentials needed');
  assert.match(item.description ?? '', /OTA_REGISTRY_TOKEN/);
  assert.match(
    item.tooltip ?? '',
    /docker login 127\.0\.0\.1:\d+`.*Configure Device → OCI registry → Private/s,
  );
  assert.deepEqual(item.command, { title: 'Configure Device', command: 'ota.configureDevice' });
  const env = { OTA_REGISTRY_USER: creds.username, OTA_REGISTRY_TOKEN: creds.password };
  const ok = await releaseChannels({ source: 'oci', ref, registry: { ...bare(), env } });
  assert.deepEqual(ok.state === 'ok' && ok.entries.map((e) => e.version), ['2.0.0']);
  const wrong = await releaseChannels({
    source: 'oci',
    ref,
    registry: { ...bare(), env: { ...env, OTA_REGISTRY_TOKEN: 'nope' } },
  });
  assert.equal(wrong.state === 'error' && wrong.code, 'auth_failed');
  assert.equal(releaseItem(releaseChildren(wrong)[0], wrong).label, 'Registry refused the credentials');
  // The board's login from Configure Device (secret storage) lists it too, before the environment.
  const board = { ref: `${ref}/board-7`, user: creds.username, password: creds.password };
  const viaBoard = await releaseChannels({
    source: 'oci',
    ref,
    registry: { ...bare(), env: { ...env, OTA_REGISTRY_TOKEN: 'nope' }, board },
  });
  assert.deepEqual(viaBoard.state === 'ok' && viaBoard.entries.map((e) => e.version), ['2.0.0']);
});

test('token auth: the board’s read login lists, and is only the last resort to push', T, async () => {
  const reader = { user: 'board', password: 'read-only-pw' };
  const tok = await startRegistry({ auth: 'token', user: creds.username, password: creds.password, reader });
  try {
    await publish(tok, 'me/fleet', '1.0.0', '2026-11-26T10:00:00Z', creds);
    const ref = `${tok.host}/me/fleet`;
    const board = { ref: `${ref}:1.0.0`, user: reader.user, password: reader.password };
    const listed = await releaseChannels({ source: 'oci', ref, registry: { ...bare(), board } });
    assert.deepEqual(listed.state === 'ok' && listed.entries.map((e) => e.version), ['1.0.0']);
    assert.ok(tok.tokenRequests.some((r) => r.scope.some((s) => s.endsWith(':pull'))));
    // To push, what can push comes first; the board's read login alone is tried last, and denied.
    const env = { OTA_REGISTRY_USER: creds.username, OTA_REGISTRY_TOKEN: creds.password };
    const writer = await registryCredentials(ref, { access: 'push', ...bare(), env, board });
    assert.equal(writer?.from, 'OTA_REGISTRY_TOKEN');
    await publish(tok, 'me/fleet', '1.1.0', '2026-11-27T10:00:00Z', writer);
    const onlyBoard = await registryCredentials(ref, { access: 'push', ...bare(), board });
    assert.match(onlyBoard?.from ?? '', /board's registry login/);
    await assert.rejects(
      publish(tok, 'me/fleet', '1.2.0', '2026-11-28T10:00:00Z', onlyBoard),
      (e: Error & { code?: string }) => e.code === 'denied' || e.code === 'auth_failed',
    );
  } finally {
    await tok.close();
  }
});
