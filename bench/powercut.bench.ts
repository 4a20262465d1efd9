// Every cut point of the block-level power-cut sweeps (test/support/powercut-sweep.ts): an update, a
// fresh install and a rollback, on FAT with 512- and 4096-byte sectors and on LittleFS, each block write
// dropped and torn. Prints, per case, the cut points, how many booted the old and the new release,
// and how many were broken (must be 0). `npm run bench powercut [fat512|fat4096|littlefs] [update|fresh|rollback]`.
import { FS_CASES, MODES, SCENARIOS, Sweeper } from '../test/support/powercut-sweep';

export async function run(): Promise<void> {
  const args = process.argv.slice(2);
  const cases = FS_CASES.filter(
    (c) => !args.some((a) => FS_CASES.some((x) => x.name === a)) || args.includes(c.name),
  );
  const scenarios = SCENARIOS.filter(
    (s) => !args.some((a) => (SCENARIOS as string[]).includes(a)) || args.includes(s),
  );
  let broken = 0;
  for (const fsc of cases) {
    const sw = new Sweeper(fsc);
    await sw.setup();
    try {
      for (const s of scenarios) {
        for (const mode of MODES) {
          const seen = { old: 0, new: 0, broken: 0 };
          const t0 = performance.now();
          for (const k of sw.sample(s, Infinity)) {
            try {
              seen[await sw.point(s, mode, k)]++;
            } catch (e) {
              seen.broken++;
              console.log(`  BROKEN ${(e as Error).message.split('\n')[0]}`);
            }
          }
          broken += seen.broken;
          const secs = ((performance.now() - t0) / 1000).toFixed(0);
          console.log(
            `${fsc.name.padEnd(9)} ${s.padEnd(8)} ${mode.padEnd(4)} ${String(sw.total(s)).padStart(4)} cut points: old ${seen.old}, new ${seen.new}, broken ${seen.broken} (${secs} s)`,
          );
        }
      }
    } finally {
      await sw.close();
    }
  }
  console.log(`broken in total: ${broken}`);
  if (broken) process.exitCode = 1;
}
