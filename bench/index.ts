// `npm run bench`: runs every bench/<area>.bench.ts (or only those named on the command line).
// Each prints its measurements as ratios against a baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const only = process.argv.slice(2);
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

async function main(): Promise<void> {
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(__dirname, file)).href)) as { run(): Promise<void> };
    console.log(`\n== ${file.replace('.bench.ts', '')} ==`);
    await mod.run();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
