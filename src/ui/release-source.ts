// Releases for the Releases view and the status bar, from the configured host.
import { OtaError } from '../core/errors';
import type { Controller } from './controller';
import type { ReleaseEntry } from './releases-tree';
import { readSettings } from './settings';

export async function loadReleases(ctl: Controller, interactive: boolean): Promise<ReleaseEntry[]> {
  const s = readSettings();
  if (s.source === 'static') {
    if (!s.staticUrl) return [];
    const res = await fetch(`${s.staticUrl.replace(/\/+$/, '')}/latest.json`);
    if (res.status === 404) return [];
    if (!res.ok) throw new OtaError('http-status', `${s.staticUrl}/latest.json answered ${res.status}`);
    const latest = (await res.json()) as { version?: string };
    return latest.version ? [{ channel: 'stable', version: latest.version }] : [];
  }
  if (!s.repo) return [];
  await ctl.auth.token(s.apiUrl, interactive);
  throw new OtaError(
    'not-ready',
    'Listing GitHub releases needs the publishing core (src/core/publish/github.ts).',
  );
}
