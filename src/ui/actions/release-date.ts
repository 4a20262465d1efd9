// The manifest's `created`, as the core dates a release (SOURCE_DATE_EPOCH, the last commit, else
// the newest modification time of the released files); the output says where a date not from git
// came from.
import { resolveCreatedFrom } from '../../core/manifest';
import type { Controller } from '../controller';

export async function releaseDate(ctl: Controller, dir: string): Promise<string> {
  const { created, from } = await resolveCreatedFrom(dir);
  if (from.includes('not a git commit')) ctl.output.info(`${dir}: the release is dated ${created}, ${from}`);
  return created;
}
