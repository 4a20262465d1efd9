// The `ota` command: parses arguments, calls the core, prints results. No rules live here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { editDistance, reportError } from './cli/common';
import { guardOutput } from './cli/terminal';
import { OtaError } from './core/errors';

type Command = { run(argv: string[]): Promise<number> };

/**
 * Every command, one line each: name, the summary `ota --help` shows, its module (loaded only when
 * run, so `ota --help` stays fast). A new command is one more line here.
 */
// prettier-ignore
const commands: [name: string, summary: string, load: () => Promise<Command>][] = [
  ['demo', 'run the whole OTA story on a virtual board (nothing but Node needed)', () => import('./cli/demo')],
  ['manifest', 'write the release manifest (files, sizes, SHA-1, SHA-256) of a project', () => import('./cli/manifest')],
  ['bundle', 'write the manifest and a deterministic .tar.gz bundle of a project', () => import('./cli/bundle')],
  ['verify', 'check a tree against a manifest, naming each differing file', () => import('./cli/verify')],
  ['keygen', 'create a signing key (HMAC, Ed25519 or RSA) outside the project', () => import('./cli/keygen')],
  ['publish', 'publish a signed release to a static-host folder, GitHub Releases or an OCI registry', () => import('./cli/publish')],
  ['releases', 'list what a release host offers per channel (static host or GitHub)', () => import('./cli/releases')],
  ['serve', 'serve a published folder over HTTP (Range, ETag, gzip) for development', () => import('./cli/serve')],
  ['info', "show a board's MicroPython, RAM, flash and release; --list the serial ports", () => import('./cli/info')],
  ['install', 'install the OTA updater on a board (package, config, boot.py hook)', () => import('./cli/install')],
  ['update', 'make a board check its release host and update now, following it through its reset', () => import('./cli/update')],
  ['push', 'copy a project to a board over USB, only the files that changed', () => import('./cli/push')],
  ['confirm', 'keep the release a board runs (its ota.confirm()), so it is not rolled back', () => import('./cli/confirm').then((m) => m.confirm)],
  ['rollback', 'return a board to its release before an unconfirmed update (its ota.rollback())', () => import('./cli/confirm').then((m) => m.rollback)],
  ['exec', 'run Python code on a board, streaming its output', () => import('./cli/exec')],
  ['watch', "stream a board's console, following it through resets (--json: OTA events)", () => import('./cli/watch')],
  ['sim', 'run a virtual MicroPython board in this terminal or on a pseudo-terminal', () => import('./cli/sim')],
  ['fleet', 'see the boards in the field, send them commands, roll releases out in stages', () => import('./cli/fleet')],
];

const EXIT_CODES = `exit codes:
  0    success
  1    the command failed: the message ends with a stable error code in [brackets]
       (ota verify: the files differ; ota exec: the code raised an exception)
  2    usage error: unknown command, unknown or missing option
  130  interrupted (Ctrl-C)`;

/** The first steps, in the order a new user takes them (the README's "The flow"). */
const START = `start here:
  ota demo                                       the whole story on a virtual board, nothing to set up
  ota keygen --rsa                               a signing key, kept outside the project
  ota publish --target folder --dir site --version 1.0.0 --sign <key file>
  ota serve site --host 0.0.0.0                  the release host boards fetch from
  ota install --port <path> --config ota_config.json --key <key file>
  ota update --port <path>                       the board updates now (else when its app calls ota.update())`;

/**
 * Names other tools use for a step that has another name here (or none: a project needs no set-up),
 * with what to run instead. Checked before the nearest-name guess, which would offer `info` for `init`.
 */
const NO_SETUP =
  'a project needs no set-up here: start with ota keygen --rsa, then ota publish (ota --help, "start here")';
const ELSEWHERE: Record<string, string> = {
  init: NO_SETUP,
  setup: NO_SETUP,
  revert: 'to return a board to its release before an unconfirmed update: ota rollback --port <path>',
  status: 'a board: ota info --port <path>; a release host: ota releases; a fleet: ota fleet status',
  deploy: 'to release to boards over the air: ota publish; to copy files over USB: ota push',
  upload: 'to copy files to a board over USB: ota push; to release over the air: ota publish',
  flash: 'to put the updater on a board: ota install; to copy files over USB: ota push',
};

/** The command a mistyped name most likely meant: a unique prefix, else the nearest within 2 edits. */
function nearest(name: string): string | undefined {
  const names = commands.map(([n]) => n);
  const prefixed = names.filter((n) => name.length >= 2 && n.startsWith(name.toLowerCase()));
  if (prefixed.length === 1) return prefixed[0];
  const scored = names
    .map((n) => ({ n, d: editDistance(name.toLowerCase(), n) }))
    .filter(({ n, d }) => d <= Math.min(2, Math.floor(n.length / 2)))
    .sort((x, y) => x.d - y.d);
  return scored[0]?.n;
}

function version(): string {
  // package.json beside dist/ (the bundle) or src/ (run from source).
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...commands.map(([name]) => name.length));
  return [
    'ota: publish MicroPython releases and update ESP32 and RP2040 boards over the air',
    '',
    'usage: ota <command> [options]',
    '       ota <command> --help     the command in detail',
    '       ota --version',
    '',
    'commands:',
    ...commands.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`),
    '',
    'Every command that reports takes --json (one JSON document or one JSON line per event).',
    '',
    START,
    '',
    EXIT_CODES,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // `ota sim` is an interactive REPL of our own board in this terminal (line editing needs its escapes).
  if (name !== 'sim') for (const s of [process.stdout, process.stderr]) guardOutput(s);
  if (name === '--version' || name === '-V' || name === '-v' || name === 'version') {
    console.log(`ota ${version()}`);
    return 0;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    console.log(usage());
    return 0;
  }
  if (!name) {
    console.error(usage());
    return 2;
  }
  const which = name === 'help' ? rest[0] : name;
  const entry = commands.find(([n]) => n === which);
  if (!entry) {
    const instead = which === undefined ? undefined : ELSEWHERE[which.toLowerCase()];
    if (instead) throw new OtaError('bad_option', `there is no "ota ${which}": ${instead}`);
    const guess = which === undefined ? undefined : nearest(which);
    throw new OtaError(
      'bad_option',
      `unknown command "${which}"${guess ? `: did you mean "ota ${guess}"?` : ''} (ota --help lists the commands)`,
    );
  }
  running = entry[0];
  const command = await entry[2]();
  return command.run(name === 'help' ? ['--help'] : rest);
}

/** The command being run, so a usage error can point at its --help. */
let running: string | undefined;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err, running);
  },
);
