// Releases for the Releases view and the status bar: the core's release channels, with the
// token from VS Code and one ETag cache for the session (a 304 costs no rate limit). An OCI
// registry's credentials follow the one order of core/publish/registry-login.ts, with what only
// VS Code has: the board's stored login and the GitHub sign-in (for ghcr.io).
import { viewRef } from '../core/publish/device-ref';
import type { CredentialSources } from '../core/publish/registry-login';
import { etagFetch } from '../core/etag-fetch';
import { releaseChannels, type ReleaseStatus } from '../core/release-channels';
import { registryPasswordFor } from './actions/configure';
import type { Controller } from './controller';

const cachedFetch = etagFetch();

/**
 * Where registry credentials may come from in VS Code besides the environment and docker/podman
 * login. `ask`: the GitHub sign-in may open its dialog (a push always may).
 */
export async function registrySources(
  ctl: Controller,
  ask: boolean,
): Promise<Omit<CredentialSources, 'access'>> {
  const cfg = ctl.deviceConfig();
  const ref = typeof cfg?.ref === 'string' ? cfg.ref : undefined;
  const password = ref ? await registryPasswordFor(ctl) : undefined;
  const user = typeof cfg?.user === 'string' ? cfg.user : undefined;
  return {
    board: ref && password ? { ref, user, password } : undefined,
    githubSession: (scope) => ctl.auth.registrySession(scope, ask),
  };
}

/** `signIn`: the view's "Sign in to GitHub" was clicked (a private ghcr.io package). */
export async function loadReleases(
  ctl: Controller,
  interactive: boolean,
  signIn = false,
): Promise<ReleaseStatus> {
  const s = ctl.settings();
  if (s.source === 'oci') {
    let ref = s.ociRef;
    if (ref) {
      // A `{device}` reference: the selected board's own repository (its ota_config.json names it).
      const ports = ctl.boards.ports();
      const first = ctl.boards.selected ? [ctl.boards.selected] : [];
      const v = viewRef(
        ref,
        [...first, ...ports.filter((p) => p !== ctl.boards.selected)].map(
          (p) => ctl.boards.info(p).releaseRef,
        ),
      );
      if ('problem' in v) return { state: 'not-configured', message: v.problem, perDevice: true };
      ref = v.ref;
    }
    // A registry's answers carry its own token flow: no shared ETag cache in between.
    return releaseChannels({ source: 'oci', ref, registry: await registrySources(ctl, signIn) });
  }
  const token = s.source === 'github' && s.repo ? await ctl.auth.token(s.apiUrl, interactive) : undefined;
  return releaseChannels({
    source: s.source,
    url: s.staticUrl,
    repo: s.repo,
    apiUrl: s.apiUrl,
    branch: s.branch,
    token,
    fetch: cachedFetch.fetch,
  });
}
