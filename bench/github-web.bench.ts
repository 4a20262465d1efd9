// GitHub at fleet scale: REST API requests a board on a public repository's stable channel makes
// per day at an hourly check (one day with one update, 23 checks with nothing new), through the
// REST API (`"web": false`, the path before) against github.com's download links (the default).
// Measured on the virtual board against the GitHub mock; the day is one update plus 23 times the
// measured unchanged check.
import { startGitHubMock, type MockRequest } from '../test/support/github-mock';
import * as fx from '../test/support/release-fixture';

export async function run(): Promise<void> {
  const gh = await startGitHubMock({ private: false });
  const cleanups: string[] = [];
  try {
    gh.addRepo('me', 'app');
    const r110 = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { delete: ['old.py'], keep: ['settings.json'] });
    cleanups.push(r110.dir);
    gh.addRelease('me', 'app', { tag: 'v1.1.0', assets: fx.githubAssets(r110) });
    const api = (reqs: MockRequest[]) => reqs.filter((q) => q.origin === 'api');
    // GitHub waives 304s only for authorized requests: a token-less board's every request counts.
    const counted = (reqs: MockRequest[]) =>
      api(reqs).filter((q) => q.status !== 304 || !q.headers.authorization).length;
    const day = async (extra: Record<string, unknown>) => {
      const cfg = { source: 'github', repo: 'me/app', api: gh.apiUrl, web: gh.webUrl, retries: 0, ...extra };
      const fsDir = fx.makeBoard(cfg, fx.APP_1_0_0, '1.0.0');
      cleanups.push(fsDir);
      const run = async (code: string) => {
        const from = gh.state.requests.length;
        const r = await fx.runBoard({ fsDir, code });
        if (fx.errorCodes(r.output).length) throw new Error(r.output);
        return gh.state.requests.slice(from);
      };
      const update = await run('import ota\nota.update()\n');
      await run('import ota\nota.confirm()\nota.update()\n'); // the first check after: ETag learnt
      const idle = await run('import ota\nota.update()\n');
      return {
        requests: api(update).length + 23 * api(idle).length,
        counted: counted(update) + 23 * counted(idle),
        web:
          update.filter((q) => q.origin === 'web').length +
          23 * idle.filter((q) => q.origin === 'web').length,
      };
    };
    const before = await day({ web: false });
    const after = await day({});
    console.log(
      `github stable channel, public repo, hourly check, one update a day, per board: ` +
        `REST API ${before.requests} requests (${before.counted} against the 60/h limit) before, ` +
        `${after.requests} (${after.counted}) after; web requests ${before.web} -> ${after.web}. ` +
        `Boards behind one IP before the limit: ${before.counted ? Math.floor((60 * 24) / before.counted) : 'unbounded'} -> ` +
        `${after.counted ? Math.floor((60 * 24) / after.counted) : 'unbounded'}`,
    );
  } finally {
    await gh.close();
    fx.cleanup(...cleanups);
  }
}
