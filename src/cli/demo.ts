// `ota demo`: the whole update story on this machine, with a virtual board. Only presentation here.
import { findDemoAssets, runDemo, type DemoSummary } from '../demo/run';
import type { OtaEvent } from '../core/events';
import { jsonOption, parseCommand } from './common';

const help = `usage: ota demo [--keep] [--json] [--fleet]

Starts a virtual board on its in-process serial link (nothing but Node is
needed) and a release host on 127.0.0.1, publishes examples/weather-station
1.0.0, installs the updater over serial, lets the board update itself over
the air, then publishes 1.1.0 (one file changed) and lets it update again by
delta. Nothing leaves this machine.

  --keep    keep the working folder (board flash, release host, app copy)
  --json    print the summary as JSON
  --fleet   the fleet act instead: six virtual boards on an embedded MQTT
            broker, a staged rollout of 1.1.0 at 34% then 100%, one board
            failing its health check and rolling back`;

function kb(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`;
}

/** One line per file, redrawn in place on a terminal, so progress stays readable in a log too. */
function progressPrinter(): (version: string, e: OtaEvent) => void {
  const tty = process.stdout.isTTY;
  let open = false;
  return (_version, e) => {
    if (e.ev === 'progress') {
      const done = Number(e.done);
      const total = Number(e.total) || 1;
      const width = 24;
      const fill = Math.round((done / total) * width);
      const line = `      ${String(e.file).padEnd(24)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${kb(done)}/${kb(total)}`;
      if (tty) {
        process.stdout.write(`\r${line}`);
        open = true;
      } else if (done >= total) {
        console.log(line);
      }
      return;
    }
    if (open) {
      process.stdout.write('\n');
      open = false;
    }
    if (e.ev === 'error') console.log(`      board error ${String(e.code)}: ${String(e.msg)}`);
    else if (['available', 'start', 'swap', 'done', 'confirm', 'rollback'].includes(e.ev)) {
      const { ev, ...rest } = e;
      console.log(`      board: ${ev} ${JSON.stringify(rest)}`);
    }
  };
}

function printSummary(s: DemoSummary, kept: boolean): void {
  const row = (k: string, v: string): void => console.log(`  ${k.padEnd(18)}${v}`);
  console.log('\nSummary');
  row('board version', s.versions.map((v) => v ?? 'none').join(' -> '));
  row(
    'updater install',
    `${s.install.files} files, ${kb(s.install.bytes)} over serial in ${s.install.seconds} s`,
  );
  for (const u of s.updates) {
    const bundle = u.bundleBytes ? `; the whole bundle is ${kb(u.bundleBytes)}` : '';
    row(
      `update to ${u.version}`,
      `${u.needed} of ${u.files} files downloaded ` +
        `(${u.viaBundle ? `as the bundle ${u.downloaded.join(', ')}` : u.downloaded.join(', ')}) in ${u.seconds} s` +
        (u.confirmed ? ', confirmed by the app' : ', NOT confirmed'),
    );
    row(
      '',
      `${kb(u.bytesOverAir)} over the air = ${kb(u.bytesOverAir - u.metadataBytes)} of files + ` +
        `${kb(u.metadataBytes)} latest.json/manifest (release files ${kb(u.releaseBytes)}${bundle})`,
    );
    if (u.appOutput.length) row('', `app printed: ${u.appOutput.join(' | ')}`);
  }
  const c = s.boardCheck;
  row(
    'board files',
    c.missing.length || c.changed.length
      ? `DIFFER from the release: missing ${c.missing.join(', ') || '-'}; changed ${c.changed.map((x) => x.path).join(', ') || '-'}`
      : `all ${c.matched} release files match the manifest (sha1 + sha256)`,
  );
  row('total time', `${s.seconds} s`);
  if (kept) row('work folder', s.workDir);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, {
    ...jsonOption,
    keep: { type: 'boolean' },
    fleet: { type: 'boolean' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.fleet) return (await import('./fleet-demo')).runFleetDemoCli(values);
  const assets = findDemoAssets(__dirname);
  let step = 0;
  const s = await runDemo({
    ...assets,
    keep: values.keep,
    log: values.json ? undefined : (line) => console.log(`[${++step}] ${line}`),
    event: values.json ? undefined : progressPrinter(),
  });
  if (values.json) console.log(JSON.stringify(s, null, 2));
  else {
    printSummary(s, values.keep === true);
    // What a new user does next: the same steps on their own project.
    // `npm run demo` puts no `ota` on PATH: say how to run it from here, and everywhere.
    console.log('\nNext, your own project: the "start here" steps of ota --help (from this folder:');
    console.log('npx ota --help; npm link puts ota on your PATH, README "Install"), or in VS Code,');
    console.log('Help > Get Started > Update MicroPython boards over the air.');
  }
  const ok =
    s.updates.every((u) => u.confirmed) &&
    s.boardCheck.missing.length === 0 &&
    s.boardCheck.changed.length === 0;
  return ok ? 0 : 1;
}
