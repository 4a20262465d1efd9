// The workspace's own version, for the status bar when no board is connected: the highest
// v* git tag of the project, as the core reads it (undefined when there is none).
import { resolveVersion } from '../core/manifest';

export async function workspaceVersion(dir: string): Promise<string | undefined> {
  try {
    return await resolveVersion(dir);
  } catch {
    return undefined;
  }
}
