// What every `ota` command does the same way: -h/--help, --json or text output, running until
// Ctrl-C, and how a failure is told: its message, its code and the fix (the editor shows the same
// fixes as buttons: both take them from src/core/user-errors.ts).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ErrorCode } from '../core/error-codes';
import { OtaError } from '../core/errors';
import { explainError, translateBoardException, type ErrorContext, type Fix } from '../core/user-errors';

type Options = NonNullable<ParseArgsConfig['options']>;

export const portOption = { port: { type: 'string', short: 'p' } } as const satisfies Options;
export const jsonOption = { json: { type: 'boolean' } } as const satisfies Options;
const helpOption = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

type Config<O extends Options, P extends boolean> = {
  args: string[];
  allowPositionals: P;
  options: O & typeof helpOption;
};

/**
 * Parses `argv` with `options` plus -h/--help. Null when --help was given: `help` is printed and
 * the command returns 0. An unknown option or a stray argument is a `bad_option` error.
 */
export function parseCommand<const O extends Options, const P extends boolean = false>(
  argv: string[],
  help: string,
  options: O,
  allowPositionals = false as P,
): ReturnType<typeof parseArgs<Config<O, P>>> | null {
  let parsed;
  try {
    parsed = parseArgs<Config<O, P>>({
      args: argv,
      allowPositionals,
      options: { ...options, ...helpOption },
    });
  } catch (err) {
    // node:util's own message ("Unknown option '--prot'…"), as a user error rather than a stack trace,
    // with the option a typo most likely meant.
    const message = (err as Error).message;
    const typed = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
    const guess = typed
      ? Object.keys(options)
          .map((o) => ({ o, d: editDistance(typed, o) }))
          .filter(({ o, d }) => d <= Math.min(2, Math.floor(o.length / 2)))
          .sort((x, y) => x.d - y.d)[0]?.o
      : undefined;
    // node's advice on positionals that start with '-' is about a case a typo never is: left out.
    const said = typed ? `unknown option --${typed}${guess ? `: did you mean --${guess}?` : ''}` : message;
    throw new OtaError('bad_option', `${said} (--help lists the options)`);
  }
  if (!(parsed.values as { help?: boolean }).help) return parsed;
  console.log(help);
  return null;
}

/** Damerau-Levenshtein distance (adjacent swaps count once): how far a typo is from a command. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** One JSON line with --json, else the human-readable lines `text` prints. */
export function output(json: boolean | undefined, value: unknown, text: () => void): void {
  if (json) console.log(JSON.stringify(value));
  else text();
}

/** Lines for files a board sync wrote and removed (push, install). */
export function printFileChanges(r: { uploaded: string[]; removed: string[] }): void {
  for (const p of r.uploaded) console.log(`wrote    ${p}`);
  for (const p of r.removed) console.log(`removed  ${p}`);
}

/**
 * Upload progress on stderr, one line rewritten in place, on a terminal only (publish, every
 * target): the phase, then the percentage of bytes uploaded and the file going up.
 */
export function progressPrinter(): (p: {
  phase: string;
  asset?: string;
  done: number;
  total: number;
}) => void {
  let last = -1;
  return (p) => {
    if (!process.stderr.isTTY) return;
    if (p.phase !== 'upload') {
      process.stderr.write(`\r\x1b[K${p.phase}…`);
      return;
    }
    const pct = p.total ? Math.floor((100 * p.done) / p.total) : 100;
    if (pct === last) return;
    last = pct;
    process.stderr.write(`\r\x1b[Kuploading ${pct}% (${p.done}/${p.total} bytes) ${p.asset ?? ''}`);
  };
}

/** Resolves on Ctrl-C or SIGTERM, or when `also` calls its argument (a port closing, a power cut). */
export function untilStopped<T = void>(stopped: T, also?: (stop: (why: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => {
    const onSignal = () => resolve(stopped);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    also?.(resolve);
  });
}

/** The CLI's words for each fix core/user-errors.ts picks ('output': the message is all there is). */
const FIX_HINTS: Record<Fix, string | undefined> = {
  configure: 'check the configuration: the --url, --repo or --config given, or ota_config.json',
  token: 'pass --token or set GITHUB_TOKEN (a token that may write Contents)',
  install: 'install the updater first: ota install --port <path> --config <ota_config.json>',
  serve: 'start the release host here: ota serve <folder>',
  output: undefined,
  key: 'make a signing key: ota keygen --rsa, then publish with --sign <key file>',
  confirm: 'ota confirm --port <path> (or ota rollback --port <path>), then ota update again',
};

/**
 * Fixes that are a CLI option or variable rather than an editor command (null: the message already
 * says what to do). A code not listed takes its fix from core/user-errors.ts.
 */
const CODE_HINTS: Partial<Record<ErrorCode, string | null>> = {
  bad_option: null,
  cancelled: null,
  not_found: null,
  not_a_directory: null,
  credentials_missing: null,
  rolled_back: null,
  auth_failed: 'check --user and --password or OTA_REGISTRY_TOKEN, or log in again with docker/podman',
  denied: 'the credentials may not push to this repository: check their scopes (ghcr.io: write:packages)',
  tag_exists: 'publish a new version, or pass --force to replace this one',
  version_exists: 'publish a new version, or pass --force to replace this one',
  no_version: 'pass --version (e.g. 1.0.0), or tag the commit v1.0.0',
  empty_project:
    'run it in your project folder, or name the folder: ota <command> <dir> (.otaignore and --exclude leave files out)',
  rate_limited: 'wait for the limit to reset, or pass --token (GITHUB_TOKEN): tokens get a higher limit',
  key_permissions: 'make the key file readable by you alone: chmod 600 <key file>',
  key_unreadable: 'check the path; ota keygen --rsa makes a key and prints where it is',
  key_in_project: 'keep keys outside the project: ota keygen --out <file outside it>',
  no_port: 'ota info --list shows the serial ports',
  no_signature:
    'this board takes only signed releases: publish again with --sign <the key file ota install --key gave it>',
  sig_unknown_key:
    'sign with a key this board trusts, or trust this one: ota install --port <path> --config <ota_config.json> --key <key file>',
  bad_signature: 'publish it again with --sign <key file>: a release changed after signing is refused',
  downgrade:
    'publish a version above the highest this board took (ota info --port <path>), or set "allow_downgrade": true in ota_config.json and ota install again',
  no_space:
    'ota info --port <path> shows free flash: remove files the app no longer needs, or publish a smaller release',
  expired: 'publish the release again (a new date), or with a longer --expires-days',
  port_closed: 'check the cable and that the board is powered, then ota info --list',
  port_open_failed: 'check --port (ota info --list), and that no other program holds the port',
  port_in_use: 'pick another port with --port',
  board_busy: 'wait for the board to finish, or reset it and try again',
  foreign_origin:
    'no credential was sent: check that --url, --repo or --ref names the host you meant, and that its answers point back at it',
  token_unverified:
    'use an https:// address with a certificate the client trusts: tokens and passwords go over plain HTTP to this computer only',
  redirect_downgrade:
    'the host sent an https:// request to http://: use the address it should be reached at over https',
  fleet_auth: 'check --user and --password (OTA_FLEET_USER, OTA_FLEET_PASSWORD)',
  fleet_down: 'check --broker (OTA_FLEET_BROKER), and that the broker is running',
  fleet_timeout: 'check --broker (OTA_FLEET_BROKER), and that the broker is running',
  fleet_tls: "pass the broker's CA certificate with --ca (OTA_FLEET_CA)",
  fleet_bad_url: 'write --broker as mqtt://host:port or mqtts://host:port',
  fleet_release_host: 'check --source or --repo, and that the release host is up',
  fleet_no_release: 'publish the release first (ota publish), or check the version',
};

let context: ErrorContext = {};

/** What the command talks to (its release host), so a failure's fix can name it. */
export function errorContext(ctx: ErrorContext): void {
  context = ctx;
}

/** The fix line for a failure, if it has one. */
export function fixHint(err: unknown): string | undefined {
  const a = explainError(err, context);
  // A fix the core picked for this very failure (a release waiting for ota.confirm()) beats the
  // code's usual hint (board_busy: wait, or reset).
  if (a.fixes.includes('confirm')) return FIX_HINTS.confirm;
  if (Object.hasOwn(CODE_HINTS, a.code)) return CODE_HINTS[a.code as ErrorCode] ?? undefined;
  return a.fixes.map((f) => FIX_HINTS[f]).find(Boolean);
}

/**
 * Every failure of every command, told one way: `ota: <message> [code]`, then `  fix: …` when
 * there is one. Returns the exit code (2 usage, 130 cancelled, else 1).
 */
export function reportError(err: unknown, command?: string): number {
  if (!(err instanceof OtaError)) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  }
  // A board's Python exception the core knows (no updater, no config, out of memory) in words.
  const board = translateBoardException(err.message);
  console.error(`ota: ${board?.message ?? err.message} [${board?.code ?? err.code}]`);
  // A usage error points at the command's own help (options and examples), unless it already does.
  const usage = err.code === 'bad_option' && command && !err.message.includes('--help');
  const hint = usage ? `ota ${command} --help shows the options` : fixHint(err);
  if (hint) console.error(`  fix: ${hint}`);
  return err.code === 'bad_option' ? 2 : err.code === 'cancelled' ? 130 : 1;
}
