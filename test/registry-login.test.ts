// The GitHub sign-in as ghcr.io's password, through our code against a real registry: Debian's
// docker-registry (htpasswd over TLS) stands in for ghcr.io. The real ghcr.io cannot be reached
// from here, so a fetch maps https://ghcr.io to the local registry; the credentials order
// (registry-login.ts), the Releases view's channels and `ota verify`'s release fetch are the real
// ones. A GitHub token must reach ghcr.io's origin only: not the blob storage a redirect leads to,
// and not a token service a redirected host names in its 401.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fetchOciRelease, publishOci, type Credentials } from '../src/core/publish/oci';
import { registryCredentials } from '../src/core/publish/registry-login';
import { releaseChannels } from '../src/core/release-channels';
import { releaseChildren, releaseItem } from '../src/core/release-view';
import { makePki, type Pki } from './support/pki';
import {
  registryMissing,
  startRegistry,
  startRegistryProxy,
  type RegistryProxy,
  type TestRegistry,
} from './support/registry';

const skip = registryMissing(['/usr/bin/htpasswd', '/usr/bin/openssl']);
const T = { skip, timeout: 90_000 };
const LOGIN = 'octocat';
/** The token the test sign-in hands out, which the registry accepts as octocat's password. */
const TOKEN = 'gho_localRegistryAcceptsThis';
const basic = 'Basic ' + Buffer.from(`${LOGIN}:${TOKEN}`).toString('base64');
let work: string;
let pki: Pki;
let reg: TestRegistry;
let proxy: RegistryProxy;

interface Seen {
  url: string;
  authorization?: string;
}

/**
 * A fetch where https://ghcr.io is `target` (everything else as it is), recording every request
 * with its Authorization. `hostile`: answers for origins other than ghcr.io instead of the network.
 */
function ghcrFetch(
  target: string,
  base: typeof fetch,
  seen: Seen[],
  hostile?: (url: URL) => Response | undefined,
): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    seen.push({ url: url.href, authorization: headers.get('authorization') ?? undefined });
    if (url.origin !== 'https://ghcr.io') {
      const r = hostile?.(url);
      if (r) return Promise.resolve(r);
      return base(url, init);
    }
    return base(new URL(url.pathname + url.search, target), init);
  };
}

/** The VS Code GitHub sign-in as a test registers it: a session whose token the local registry takes. */
const signIn = (asked: string[]) => (scope: string) => {
  asked.push(scope);
  return Promise.resolve({ login: LOGIN, token: TOKEN });
};

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ota-ghcr-'));
  mkdirSync(join(work, 'pki'));
  mkdirSync(join(work, 'home'));
  pki = makePki(join(work, 'pki'));
  const tls = { ...pki.server, ca: pki.ca.cert };
  reg = await startRegistry({ auth: 'htpasswd', user: LOGIN, password: TOKEN, tls });
  proxy = await startRegistryProxy(reg.url, { redirectBlobs: true, storageAuth: basic, tls });
  const dir = join(work, 'project');
  mkdirSync(dir);
  writeFileSync(join(dir, 'main.py'), 'print("hello")\n');
  const creds: Credentials = { username: LOGIN, password: TOKEN, from: 'test' };
  await publishOci({
    dir,
    version: '1.0.0',
    ref: `${reg.url}/octocat/app`,
    fetch: reg.fetch,
    credentials: creds,
  });
});

after(async () => {
  await proxy?.close();
  await reg?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const bare = () => ({ env: {}, home: join(work, 'home') });

test(
  'the Releases view lists a private ghcr.io package with the GitHub sign-in, asks for it without',
  T,
  async () => {
    const seen: Seen[] = [];
    const f = ghcrFetch(reg.url, reg.fetch, seen);
    const ref = 'ghcr.io/octocat/app';
    // Nothing set and no sign-in yet: an item that says what to set, and signs in on a click.
    const none = await releaseChannels({ source: 'oci', ref, registry: bare(), fetch: f });
    assert.equal(none.state === 'error' && none.code, 'credentials_missing');
    assert.equal(none.state === 'error' && none.signIn, 'github');
    const item = releaseItem(releaseChildren(none)[0], none);
    assert.equal(item.label, 'Private repository: credentials needed');
    assert.deepEqual(item.command, {
      title: 'Sign in to GitHub',
      command: 'ota.refreshReleases',
      arguments: [{ signIn: true }],
    });
    assert.match(item.tooltip ?? '', /OTA_REGISTRY_TOKEN.*GITHUB_TOKEN.*docker login ghcr\.io/s);
    // Signed in: listed, with read:packages asked for.
    const asked: string[] = [];
    const ok = await releaseChannels({
      source: 'oci',
      ref,
      registry: { ...bare(), githubSession: signIn(asked) },
      fetch: f,
    });
    assert.deepEqual(ok.state === 'ok' && ok.entries.map((e) => [e.channel, e.version]), [
      ['stable', '1.0.0'],
    ]);
    assert.deepEqual(asked, ['read:packages']);
    assert.ok(
      seen.some((s) => s.authorization === basic),
      'the token was presented to ghcr.io',
    );
    assert.ok(seen.every((s) => s.url.startsWith('https://ghcr.io/')));
  },
);

test('a public ghcr.io package is listed without asking for the GitHub sign-in', T, async () => {
  const open = await startRegistry();
  try {
    const dir = join(work, 'public');
    mkdirSync(dir);
    writeFileSync(join(dir, 'main.py'), 'print("public")\n');
    await publishOci({ dir, version: '3.0.0', ref: `${open.host}/octocat/public` });
    const seen: Seen[] = [];
    const asked: string[] = [];
    const s = await releaseChannels({
      source: 'oci',
      ref: 'ghcr.io/octocat/public',
      registry: { ...bare(), githubSession: signIn(asked) },
      fetch: ghcrFetch(open.url, fetch, seen),
    });
    assert.deepEqual(s.state === 'ok' && s.entries.map((e) => e.version), ['3.0.0']);
    assert.deepEqual(asked, [], 'no sign-in for a public package');
    assert.ok(seen.every((x) => x.authorization === undefined));
  } finally {
    await open.close();
  }
});

test('a GitHub token reaches ghcr.io only: not the storage a redirect leads to', T, async () => {
  const seen: Seen[] = [];
  const f = ghcrFetch(proxy.url, reg.fetch, seen);
  const ref = 'ghcr.io/octocat/app:1.0.0';
  const credentials = await registryCredentials(ref, {
    access: 'pull',
    ...bare(),
    githubSession: signIn([]),
  });
  const rel = await fetchOciRelease({ ref, credentials, fetch: f });
  assert.equal(rel.version, '1.0.0');
  const storage = proxy.requests.filter((q) => q.origin === 'storage');
  assert.ok(storage.length >= 1, 'blobs came from storage');
  for (const q of storage) assert.equal(q.authorization, undefined, `no Authorization to storage ${q.path}`);
  for (const s of seen.filter((x) => !x.url.startsWith('https://ghcr.io/'))) {
    assert.equal(s.authorization, undefined, s.url);
  }
});

test(
  'a redirected host that asks for credentials gets none, nor does the token service it names',
  T,
  async () => {
    const seen: Seen[] = [];
    const evil = 'https://127.0.0.1:9/token';
    const storageOrigin = new URL(proxy.url).hostname;
    // Storage answers 401 with a Bearer challenge pointing at a token service of its own choosing.
    const f = ghcrFetch(proxy.url, reg.fetch, seen, (url) =>
      url.hostname === storageOrigin && url.pathname.startsWith('/store/')
        ? new Response(null, {
            status: 401,
            headers: { 'www-authenticate': `Bearer realm="${evil}",service="evil",scope="x"` },
          })
        : undefined,
    );
    const ref = 'ghcr.io/octocat/app:1.0.0';
    const credentials = await registryCredentials(ref, {
      access: 'pull',
      ...bare(),
      githubSession: signIn([]),
    });
    await assert.rejects(
      fetchOciRelease({ ref, credentials, fetch: f }),
      (e: Error & { code?: string }) =>
        e.code === 'auth_failed' &&
        /redirected to https:\/\/127\.0\.0\.1:\d+, which asks for credentials: none sent/.test(e.message),
    );
    assert.equal(
      seen.filter((s) => s.url.startsWith(evil)).length,
      0,
      'the named token service was never asked',
    );
    const outside = seen.filter((s) => !s.url.startsWith('https://ghcr.io/'));
    assert.ok(outside.length >= 1);
    for (const s of outside) assert.equal(s.authorization, undefined, s.url);
    assert.ok(!JSON.stringify(seen.filter((s) => !s.url.startsWith('https://ghcr.io/'))).includes(TOKEN));
  },
);
