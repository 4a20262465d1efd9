// The `ota` command: parses arguments, calls the core, prints results. No rules live here.
import { OtaError } from './core/errors';

type Command = { run(argv: string[]): Promise<number>; summary: string };

const commands: Record<string, () => Promise<Command>> = {
  manifest: () => import('./cli/manifest'),
  bundle: () => import('./cli/bundle'),
  verify: () => import('./cli/verify'),
  demo: () => import('./cli/demo'),
  keygen: () => import('./cli/keygen'),
  publish: () => import('./cli/publish'),
  serve: () => import('./cli/serve'),
  push: () => import('./cli/push'),
  install: () => import('./cli/install'),
  info: () => import('./cli/info'),
  exec: () => import('./cli/exec'),
  watch: () => import('./cli/watch'),
  sim: () => import('./cli/sim'),
  fleet: () => import('./cli/fleet'),
};

function usage(): string {
  const lines = Object.keys(commands)
    .sort()
    .map((name) => `  ota ${name}`);
  return [
    'usage: ota <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'ota <command> --help for details',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    console.error(`ota: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof OtaError) console.error(`ota: ${err.message} [${err.code}]`);
    else console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
