/**
 * Where a rollout meets the release host: whether the version is published (a rollout of nothing is
 * refused), and the signed rollout document written beside latest.json or attached to the GitHub release
 * as rollout.json, so boards without a broker follow the same rollout.
 *
 *   releaseExists({ url } | { repo, token?, apiUrl? }, version) -> Promise<boolean>
 *   writeRolloutFile(dir, signedBytes) -> Promise<string>   // <dir>/rollout.json, written atomically
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtaError } from '../errors';

export type ReleaseHost = { url: string } | { repo: string; token?: string; apiUrl?: string };

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new OtaError('fleet-release-host', `cannot reach ${url}: ${(err as Error).message}`, {
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
      throw new OtaError('bad-option', `--repo ${host.repo}: owner/name`);
    const api = (host.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    url = `${api}/repos/${host.repo}/releases/tags/v${encodeURIComponent(version)}`;
    headers = { accept: 'application/vnd.github+json', 'user-agent': 'micropython-ota' };
    if (host.token) headers.authorization = `Bearer ${host.token}`;
  }
  const status = await get(url, headers);
  if (status === 200) return true;
  if (status === 404) return false;
  throw new OtaError('fleet-release-host', `${url} answered ${status}`);
}

export async function writeRolloutFile(dir: string, signed: Buffer): Promise<string> {
  const path = join(dir, 'rollout.json');
  await writeFile(`${path}.tmp`, signed);
  await rename(`${path}.tmp`, path);
  return path;
}
