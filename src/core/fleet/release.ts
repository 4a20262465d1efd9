/**
 * Where a rollout meets the release host: whether the version is published (a rollout of nothing is
 * refused), and the signed rollout document written beside latest.json or attached to the GitHub release
 * as rollout.json, so boards without a broker follow the same rollout.
 *
 *   releaseExists({ url } | { repo, token?, apiUrl? }, version) -> Promise<boolean>
 *   writeRolloutFile(dir, signedBytes) -> Promise<string>   // <dir>/rollout.json, written atomically
 *   publishRolloutAsset({ repo, token, apiUrl? }, version, signedBytes)  // rollout.json on release v<version>
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { githubScope, scopedFetch } from '../credential-origins';
import { OtaError } from '../errors';
import { GITHUB_API } from '../github-rules';
import { createOctokit, uploadFetch } from '../publish/github';

export type ReleaseHost = { url: string } | { repo: string; token?: string; apiUrl?: string };

/** With a token: only to the API's own origins, never along a redirect elsewhere (core/credential-origins.ts). */
async function get(url: string, headers: Record<string, string> = {}, api?: string): Promise<number> {
  let res: Response;
  try {
    const f = api ? scopedFetch(fetch, githubScope(api)) : fetch;
    res = await f(url, { headers, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    if (err instanceof OtaError) throw err;
    throw new OtaError('fleet_release_host', `cannot reach ${url}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  await res.body?.cancel();
  return res.status;
}

export async function releaseExists(host: ReleaseHost, version: string): Promise<boolean> {
  let url: string;
  let headers: Record<string, string> = {};
  if ('url' in host) {
    url = `${host.url.replace(/\/+$/, '')}/${encodeURIComponent(version)}/manifest.json`;
  } else {
    if (!/^[\w.-]+\/[\w.-]+$/.test(host.repo))
      throw new OtaError('bad_option', `--repo ${host.repo}: owner/name`);
    const api = (host.apiUrl ?? GITHUB_API).replace(/\/+$/, '');
    url = `${api}/repos/${host.repo}/releases/tags/v${encodeURIComponent(version)}`;
    headers = { accept: 'application/vnd.github+json', 'user-agent': 'micropython-ota' };
    if (host.token) headers.authorization = `Bearer ${host.token}`;
  }
  const status = await get(url, headers, 'repo' in host ? (host.apiUrl ?? GITHUB_API) : undefined);
  if (status === 200) return true;
  if (status === 404) return false;
  throw new OtaError('fleet_release_host', `${url} answered ${status}`);
}

export async function writeRolloutFile(dir: string, signed: Buffer): Promise<string> {
  const path = join(dir, 'rollout.json');
  await writeFile(`${path}.tmp`, signed);
  await rename(`${path}.tmp`, path);
  return path;
}

/** Replaces the rollout.json asset of GitHub release v<version> (boards read it with the release). */
export async function publishRolloutAsset(
  host: { repo: string; token?: string; apiUrl?: string },
  version: string,
  signed: Buffer,
): Promise<void> {
  const [owner, repo] = host.repo.split('/');
  if (!host.token)
    throw new OtaError('no_token', 'writing rollout.json to a GitHub release needs GITHUB_TOKEN');
  const gh = createOctokit({ token: host.token, baseUrl: host.apiUrl });
  let rel;
  try {
    rel = (await gh.rest.repos.getReleaseByTag({ owner, repo, tag: `v${version}` })).data;
  } catch (err) {
    throw new OtaError(
      'fleet_release_host',
      `release v${version} of ${host.repo}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  // Before the old rollout.json goes: an upload URL off GitHub's origins leaves the release as it was.
  const uploads = uploadFetch(
    { token: host.token, baseUrl: host.apiUrl },
    rel.upload_url,
    `the upload_url of release v${version}`,
  );
  for (const a of rel.assets) {
    if (a.name === 'rollout.json') await gh.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: a.id });
  }
  await gh.rest.repos.uploadReleaseAsset({
    owner,
    repo,
    release_id: rel.id,
    name: 'rollout.json',
    url: rel.upload_url,
    data: signed as unknown as string,
    headers: { 'content-type': 'application/json', 'content-length': String(signed.length) },
    request: { fetch: uploads },
  });
}
