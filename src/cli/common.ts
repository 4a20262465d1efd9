// What every `ota` command does the same way: -h/--help, --json or text output, running until Ctrl-C.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OtaError } from '../core/errors';

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
    // node:util's own message ("Unknown option '--prot'…"), as a user error rather than a stack trace.
    throw new OtaError('bad_option', `${(err as Error).message} (--help lists the options)`);
  }
  if (!(parsed.values as { help?: boolean }).help) return parsed;
  console.log(help);
  return null;
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

/** Resolves on Ctrl-C or SIGTERM, or when `also` calls its argument (a port closing, a power cut). */
export function untilStopped<T = void>(stopped: T, also?: (stop: (why: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => {
    const onSignal = () => resolve(stopped);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    also?.(resolve);
  });
}
