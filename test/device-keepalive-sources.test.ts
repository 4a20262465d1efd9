// Connection reuse for the GitHub and OCI sources (docs/protocols.md, "Connection reuse"): the same
// update with reuse off (ota.http.KEEP = False, one connection per request as before) and on, TCP
// connections counted where the servers accept them, and none left open when update() returns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTrustEntry, generateKey } from '../src/core/keys';
import { publishOci } from '../src/core/publish/oci';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { opened, portOf, probeCode, startOpenProbe } from './support/connections';
import * as fx from './support/release-fixture';
import { registryMissing, startRegistry, startRegistryProxy, type TestRegistry } from './support/registry';

const T = { timeout: 120_000 };
const cleanups: string[] = [];
let probe: { port: number; close: () => Promise<void> };

before(async () => {
  // After update() returned, the board asks how many of its connections are still open.
  probe = await startOpenProbe();
});
after(async () => {
  await probe.close();
  fx.cleanup(...cleanups);
});

const code = (ports: number[], keep: boolean): string => probeCode(probe.port, ports, { keep });

const installed = { ...fx.APP_1_1_0, 'settings.json': fx.APP_1_0_0['settings.json'] };
const versionOf = (fsDir: string) => JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;

/** The update on a fresh board, reuse off then on: connections and requests of each. */
async function both(
  cfg: Record<string, unknown>,
  ports: number[],
  requests: () => number,
): Promise<Record<'off' | 'on', { conns: number; reqs: number }>> {
  const out = { off: { conns: 0, reqs: 0 }, on: { conns: 0, reqs: 0 } };
  for (const keep of [false, true]) {
    const fsDir = fx.makeBoard({ retries: 0, ...cfg }, fx.APP_1_0_0, '1.0.0');
    cleanups.push(fsDir);
    const c0 = opened(ports);
    const q0 = requests();
    const r = await fx.runBoard({ fsDir, code: code(ports, keep) });
    assert.equal(r.error, undefined, r.output);
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.equal(versionOf(fsDir), '1.1.0');
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(installed));
    assert.match(r.output, /OPEN 0/, `no connection left open when update() returned: ${r.output}`);
    out[keep ? 'on' : 'off'] = { conns: opened(ports) - c0, reqs: requests() - q0 };
  }
  return out;
}

test('GitHub, public repository (web links, asset CDN): fewer connections, none left open', T, async (t) => {
  const gh: GitHubMock = await startGitHubMock({ private: false });
  const keys = fx.makeKeys();
  const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
  cleanups.push(rel.dir);
  try {
    gh.addRepo('me', 'app');
    gh.addRelease('me', 'app', { tag: 'v1.0.0', assets: [] });
    gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: fx.githubAssets(rel, { keys, alg: 'ed25519' }) });
    const ports = [gh.webUrl, gh.downloadsUrl, gh.apiUrl].map(portOf);
    const n = await both(
      {
        source: 'github',
        repo: 'me/app',
        api: gh.apiUrl,
        web: gh.webUrl,
        keys: [fx.boardKey(keys, 'ed25519')],
      },
      [...new Set(ports)],
      () => gh.state.requests.length,
    );
    t.diagnostic(`connections and requests, reuse off and on: ${JSON.stringify(n)}`);
    assert.equal(n.on.reqs, n.off.reqs, JSON.stringify(n));
    assert.equal(n.off.conns, n.off.reqs, JSON.stringify(n));
    // Each asset is a redirect from the web origin to the CDN: one kept connection saves what the two
    // origins share in a row (the latest redirect and the manifest peek on the web origin).
    assert.ok(n.on.conns < n.off.conns, JSON.stringify(n));
  } finally {
    await gh.close();
  }
});

const skip = registryMissing();
test(
  'OCI registry (Debian docker-registry): one connection for the whole update',
  { ...T, skip },
  async () => {
    const work = mkdtempSync(join(tmpdir(), 'ota-ka-oci-'));
    cleanups.push(work);
    let reg: TestRegistry | undefined;
    try {
      const key = await generateKey('ed25519', { path: join(work, 'k.json'), project: join(work, 'p') });
      reg = await startRegistry();
      const dir = join(work, 'p', 'app');
      fx.writeTree(dir, fx.APP_1_1_0);
      await publishOci({
        dir,
        version: '1.1.0',
        ref: `${reg.url}/me/app`,
        fetch: reg.fetch,
        signKeyFile: key.path,
        build: { created: '2026-11-25T10:00:00Z', delete: ['old.py'], keep: ['settings.json'] },
      });
      const proxy = await startRegistryProxy(reg.url);
      try {
        const n = await both(
          { source: 'oci', ref: `${proxy.host}/me/app`, keys: [await deviceTrustEntry(key.path)] },
          [portOf(proxy.url)],
          () => proxy.requests.length,
        );
        assert.equal(n.off.conns, n.off.reqs, JSON.stringify(n));
        assert.equal(n.on.conns, 1, JSON.stringify(n));
        assert.ok(n.on.reqs >= 4, JSON.stringify(n));
      } finally {
        await proxy.close();
      }
    } finally {
      await reg?.close();
    }
  },
);
