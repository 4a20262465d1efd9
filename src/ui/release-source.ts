// Releases for the Releases view and the status bar, from the configured host, through
// the publishing core. Checks revalidate with ETags (a 304 costs no rate limit).
import { OtaError } from '../core/errors';
import type { Controller } from './controller';
import { etagFetch } from './etag-fetch';
import type { ReleaseEntry } from './releases-tree';
import { readSettings } from './settings';

const cachedFetch = etagFetch();

export async function loadReleases(ctl: Controller, interactive: boolean): Promise<ReleaseEntry[]> {
  const s = readSettings();
  if (s.source === 'static') {
    if (!s.staticUrl) return [];
    const url = `${s.staticUrl.replace(/\/+$/, '')}/latest.json`;
    const res = await cachedFetch.fetch(url);
    if (res.status === 404) return [];
    if (!res.ok) throw new OtaError('http_status', `${url} answered ${res.status}`);
    const latest = (await res.json()) as { version?: string };
    return latest.version ? [{ channel: 'stable', version: latest.version }] : [];
  }
  if (!s.repo) return [];
  const token = await ctl.auth.token(s.apiUrl, interactive);
  const { listReleases, branchTip } = await import('../core/publish/github');
  const conn = { repo: s.repo, token, baseUrl: s.apiUrl, fetch: cachedFetch.fetch };
  const releases = await listReleases(conn);
  const entries: ReleaseEntry[] = [];
  // Each channel lists its releases newest first; the core marks which one boards get.
  for (const channel of ['stable', 'beta'] as const) {
    const wanted = releases.filter((r) => !r.draft && r.version && r.prerelease === (channel === 'beta'));
    wanted.sort((a, b) => Number(b.channel === channel) - Number(a.channel === channel));
    for (const r of wanted) entries.push({ channel, version: r.version!, date: r.publishedAt, url: r.url });
  }
  // The developer channel follows a branch; a repository without it simply has no tip.
  const tip = await branchTip({ ...conn, branch: s.branch }).catch(() => undefined);
  if (tip)
    entries.push({ channel: 'developer', version: `${tip.branch}@${tip.sha.slice(0, 7)}`, date: tip.date });
  return entries;
}
