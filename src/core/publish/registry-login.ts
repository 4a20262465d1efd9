/**
 * Publish Release's fallback for ghcr.io: with no registry credentials found (flags, environment,
 * docker/podman login), VS Code's GitHub sign-in is the registry password, since ghcr.io takes a
 * GitHub token with write:packages under the account's login. Other registries get nothing here.
 *
 *   githubLoginFor('ghcr.io/octocat/app', undefined)       // true: ask for the GitHub session
 *   githubLoginFor('ghcr.io/octocat/app', fromDockerLogin) // false: what the user set wins
 *   githubCredentials('octocat', token)                    // { username, password, from }
 */
import { parseRef, type Credentials } from './oci';

/** The GitHub scope a session needs to push to ghcr.io. */
export const GHCR_SCOPE = 'write:packages';

export function githubLoginFor(ref: string, found: Credentials | undefined): boolean {
  return !found && parseRef(ref).registry === 'ghcr.io';
}

export function githubCredentials(login: string, token: string): Credentials {
  return { username: login || 'ota', password: token, from: 'the VS Code GitHub sign-in' };
}
