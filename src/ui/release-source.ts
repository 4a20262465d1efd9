// Releases for the Releases view and the status bar: the core's release channels, with the
// token from VS Code and one ETag cache for the session (a 304 costs no rate limit). An OCI
// registry's credentials come from where the CLI reads them (core: resolveCredentials).
import { etagFetch } from '../core/etag-fetch';
import { releaseChannels, type ReleaseStatus } from '../core/release-channels';
import type { Controller } from './controller';

const cachedFetch = etagFetch();

export async function loadReleases(ctl: Controller, interactive: boolean): Promise<ReleaseStatus> {
  const s = ctl.settings();
  const token = s.source === 'github' && s.repo ? await ctl.auth.token(s.apiUrl, interactive) : undefined;
  return releaseChannels({
    source: s.source,
    url: s.staticUrl,
    ref: s.ociRef,
    repo: s.repo,
    apiUrl: s.apiUrl,
    branch: s.branch,
    token,
    // A registry's answers carry its own token flow: no shared ETag cache in between.
    fetch: s.source === 'oci' ? undefined : cachedFetch.fetch,
  });
}
