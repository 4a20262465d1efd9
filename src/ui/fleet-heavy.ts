// What the Fleet view loads on first use (bundled into dist/commands.js through heavy.ts): the broker
// connection, signing keys and the rollout controller.
import { readFile } from 'node:fs/promises';
import { releaseExists } from '../core/fleet/release';

export { connectFleet } from '../core/fleet/connection';
export { RolloutController } from '../core/fleet/rollout';
export { readKeyFile } from '../core/keys';

export function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** Whether `version` is published at `source`: a static host's URL, or a GitHub owner/name. */
export function releaseExistsAt(source: string, version: string): Promise<boolean> {
  return /^[\w.-]+\/[\w.-]+$/.test(source)
    ? releaseExists({ repo: source, token: process.env.GITHUB_TOKEN }, version)
    : releaseExists({ url: source }, version);
}
