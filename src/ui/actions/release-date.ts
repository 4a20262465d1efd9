// The manifest's `created`: the core dates a release reproducibly (SOURCE_DATE_EPOCH, the last
// commit); a project that is not in git, published from the editor, is dated now.
import { OtaError } from '../../core/errors';
import { isoSeconds, resolveCreated } from '../../core/manifest';
import type { Controller } from '../controller';

export async function releaseDate(ctl: Controller, dir: string): Promise<string | undefined> {
  try {
    await resolveCreated(dir);
    return undefined; // the core's own answer stands
  } catch (err) {
    if (!(err instanceof OtaError && err.code === 'no_created')) throw err;
    const now = isoSeconds(new Date());
    ctl.output.info(`${dir} is not committed to git: the release is dated ${now}`);
    return now;
  }
}
