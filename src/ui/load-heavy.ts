// Loads dist/commands.js (src/ui/heavy.ts) beside the activation bundle on first use.
// A plain require of a computed path: the bundler leaves it alone, so the two bundles stay apart.
import { join } from 'node:path';

export type Heavy = typeof import('./heavy');

let heavy: Heavy | undefined;

export function loadHeavy(): Heavy {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  heavy ??= require(join(__dirname, 'commands.js')) as Heavy;
  return heavy;
}
