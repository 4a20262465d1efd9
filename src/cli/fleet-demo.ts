// `ota demo --fleet`: prints the fleet act's steps and summary. Only presentation.
import { findDemoAssets } from '../demo/run';
import { runFleetDemo } from '../demo/fleet';

export async function runFleetDemoCli(values: { json?: boolean; keep?: boolean }): Promise<number> {
  const { deviceDir } = findDemoAssets(__dirname);
  let step = 0;
  const s = await runFleetDemo({
    deviceDir,
    keep: values.keep,
    log: values.json
      ? undefined
      : (line) => console.log(line.startsWith('  ') ? `    ${line.trim()}` : `[${++step}] ${line}`),
  });
  if (values.json) {
    console.log(JSON.stringify(s, null, 2));
    return 0;
  }
  console.log('\nFleet summary');
  for (const b of s.boards) {
    const note = b.bad ? `rolled back from ${b.bad}` : b.error ? `error: ${b.error}` : '';
    console.log(
      `  ${b.id.padEnd(11)} ${b.group.padEnd(6)} ${b.version.padEnd(6)} ${b.state.padEnd(16)} ${note}`,
    );
  }
  const r = s.rollout;
  console.log(
    `  rollout 1.1.0: ${r.status}; ${r.updated} updated / ${r.failed} failed (${s.failedBoard}, health check) / ${r.pending} pending`,
  );
  console.log(`  total time   ${s.seconds} s`);
  if (values.keep) console.log(`  work folder  ${s.workDir}`);
  return 0;
}
