/**
 * Which credentials a registry gets: one order for `ota publish --target oci`, `ota verify --ref`,
 * VS Code's Publish Release and the Releases view.
 *
 *   1. --user/--password (the CLI)
 *   2. to pull: the board's login from Configure Device (its `user`, the password from VS Code
 *      secret storage), for the board's own registry only
 *   3. OTA_REGISTRY_TOKEN (with OTA_REGISTRY_USER)
 *   4. GITHUB_TOKEN, for ghcr.io over https only
 *   5. the docker/podman auth files, or the credential helper they name (resolveCredentials)
 *   6. the VS Code GitHub sign-in, for ghcr.io over https only: read:packages to list,
 *      write:packages to push
 *   7. to push: the board's login, last (it is a read token, asked for as one)
 *
 * A GitHub token never goes to another host: it is picked only for `ghcr.io` reached over https,
 * and the registry client sends it to that origin and its token service only, never along a
 * redirect (oci.ts RegistryClient, by the rule of core/credential-origins.ts). Nothing is ever written.
 *
 *   await registryCredentials('ghcr.io/octocat/app', { access: 'pull', githubSession })
 *   githubSignInApplies('ghcr.io/octocat/app')   // true: the view offers "Sign in to GitHub"
 */
import { expandDevices, hasDevicePlaceholder } from './device-ref';
import { parseRef, resolveCredentials, type Credentials, type OciRef } from './oci';

/** The GitHub scope a session needs to push to ghcr.io, and the one to list a private package. */
export const GHCR_SCOPE = 'write:packages';
export const GHCR_READ_SCOPE = 'read:packages';

export interface CredentialSources {
  access: 'pull' | 'push';
  /** The CLI's --user/--password. */
  user?: string;
  password?: string;
  /** The board's registry login (Configure Device): its reference, user and stored password. */
  board?: { ref: string; user?: string; password?: string };
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** The VS Code GitHub sign-in for a scope; undefined when there is none (or it was declined). */
  githubSession?: (scope: string) => Promise<{ login: string; token: string } | undefined>;
}

/** The registry a reference names (a `{device}` one: the host every device shares). */
export function registryOf(ref: string): OciRef {
  // expandDevices refuses an unknown placeholder, or `{device}` in the host, first.
  return parseRef(expandDevices(ref, hasDevicePlaceholder(ref) ? ['device'] : undefined)[0]);
}

/** True when the VS Code GitHub sign-in may stand as this reference's registry password. */
export function githubSignInApplies(ref: string): boolean {
  try {
    const r = registryOf(ref);
    return r.registry === 'ghcr.io' && !r.plainHttp;
  } catch {
    return false;
  }
}

export function githubCredentials(login: string, token: string): Credentials {
  return { username: login || 'ota', password: token, from: 'the VS Code GitHub sign-in' };
}

/** The board's login when it is for this very registry (same host, same scheme). */
function boardLogin(board: CredentialSources['board'], r: OciRef): Credentials | undefined {
  if (!board?.password) return undefined;
  let own: OciRef;
  try {
    own = registryOf(board.ref);
  } catch {
    return undefined;
  }
  if (own.registry !== r.registry || own.plainHttp !== r.plainHttp) return undefined;
  return {
    username: board.user || 'ota',
    password: board.password,
    from: "the board's registry login (Configure Device, VS Code secret storage)",
  };
}

export async function registryCredentials(
  ref: string,
  src: CredentialSources,
): Promise<Credentials | undefined> {
  const r = registryOf(ref);
  const github = githubSignInApplies(ref);
  const env = { ...(src.env ?? process.env) };
  // GITHUB_TOKEN is ghcr.io's over https, not a plain-HTTP "ghcr.io" anyone on the path can read.
  if (!github) delete env.GITHUB_TOKEN;
  if (src.user !== undefined || src.password !== undefined) {
    return resolveCredentials(r.registry, { user: src.user, password: src.password, env, home: src.home });
  }
  const board = boardLogin(src.board, r);
  if (src.access === 'pull' && board) return board;
  const found = await resolveCredentials(r.registry, { env, home: src.home });
  if (found) return found;
  if (github && src.githubSession) {
    const s = await src.githubSession(src.access === 'push' ? GHCR_SCOPE : GHCR_READ_SCOPE);
    if (s) return githubCredentials(s.login, s.token);
  }
  return src.access === 'push' ? board : undefined;
}
