// The Releases view tells the truth: nothing configured, the host unreachable (with its URL),
// or the releases, from a real static server and the GitHub mock.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveFolder, type FolderServer } from '../src/core/publish/serve';
import { releaseChannels } from '../src/core/release-channels';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { REFUSED_PORT } from './support/refused';

/** A port nothing listens on: bound, then released. */
describe('releaseChannels', () => {
  let dir: string;
  let server: FolderServer;
  let gh: GitHubMock;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ota-channels-'));
    server = await serveFolder(dir);
    gh = await startGitHubMock({ token: 'ghp_channelsTestToken0123456789abcdef' });
  });
  after(async () => {
    await server.close();
    await gh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says when nothing is configured, for each source', async () => {
    const s = await releaseChannels({ source: 'static' });
    assert.equal(s.state, 'not-configured');
    assert.match(s.state === 'not-configured' ? s.message : '', /Serve Releases Locally/);
    assert.equal((await releaseChannels({ source: 'github' })).state, 'not-configured');
  });

  it('names the URL of a host that does not answer', async () => {
    const url = `http://127.0.0.1:${REFUSED_PORT}`;
    const s = await releaseChannels({ source: 'static', url: `${url}/` });
    assert.equal(s.state, 'unreachable');
    if (s.state !== 'unreachable') return;
    assert.equal(s.host, url);
    assert.match(s.message, new RegExp(`^Cannot reach ${url} \\(ECONNREFUSED\\)`));
    const g = await releaseChannels({ source: 'github', repo: 'a/b', apiUrl: url });
    assert.equal(g.state, 'unreachable');
    assert.match(g.state === 'unreachable' ? g.message : '', new RegExp(`Cannot reach ${url}`));
  });

  it('lists a static host: empty before the first release, then the latest', async () => {
    assert.deepEqual(await releaseChannels({ source: 'static', url: server.url }), {
      state: 'ok',
      host: server.url,
      entries: [],
    });
    mkdirSync(join(dir, '1.0.0'));
    writeFileSync(
      join(dir, 'latest.json'),
      JSON.stringify({ version: '1.0.0', manifest: '1.0.0/manifest.json' }),
    );
    const s = await releaseChannels({ source: 'static', url: server.url });
    assert.deepEqual(s.state === 'ok' && s.entries, [
      { channel: 'stable', version: '1.0.0', url: `${server.url}/1.0.0/manifest.json` },
    ]);
    writeFileSync(join(dir, 'latest.json'), '{"nope": 1}');
    const bad = await releaseChannels({ source: 'static', url: server.url });
    assert.equal(bad.state === 'error' && bad.code, 'bad_latest');
  });

  it('lists GitHub channels, and reports a missing repository as an error with its code', async () => {
    gh.addRepo('lab', 'app');
    gh.addRelease('lab', 'app', { tag: 'v1.0.0' });
    gh.addRelease('lab', 'app', { tag: 'v1.1.0-beta.1', prerelease: true });
    const q = {
      source: 'github' as const,
      apiUrl: gh.apiUrl,
      token: 'ghp_channelsTestToken0123456789abcdef',
    };
    const s = await releaseChannels({ ...q, repo: 'lab/app' });
    assert.equal(s.state, 'ok');
    assert.deepEqual(s.state === 'ok' && s.entries.map((e) => `${e.channel} ${e.version}`), [
      'stable 1.0.0',
      'beta 1.1.0-beta.1',
    ]);
    const missing = await releaseChannels({ ...q, repo: 'lab/none' });
    assert.equal(missing.state === 'error' && missing.code, 'repo_not_found');
  });
});
