/**
 * Turns any failure (an OtaError from the host, an `error` event or a Python exception from the
 * board, a sign-in refusal) into what a person can act on: a sentence that names the host it could
 * not reach, and the fixes to offer as buttons. The editor and the CLI show the same words.
 *
 *   const a = explainError(err, { source: 'static', host: 'http://127.0.0.1:8080' });
 *   a.message  // "The board cannot reach http://127.0.0.1:8080: connection refused. …"
 *   a.fixes    // ['serve', 'configure', 'output']
 */

/** A fix the user can run: Configure Device, Set GitHub Token, Install Updater, Serve Releases Locally, Show Output, Create Signing Key. */
export type Fix = 'configure' | 'token' | 'install' | 'serve' | 'output' | 'key' | 'confirm';

export interface Actionable {
  code: string;
  message: string;
  fixes: Fix[];
}

export interface ErrorContext {
  source?: 'github' | 'static' | 'oci';
  /** The release host the board or the editor talks to (static base URL, GitHub API root, OCI reference). */
  host?: string;
  /** Whether the failure came from the board (its words say "the board …"). */
  onBoard?: boolean;
  /** Told on the command line: the fix goes on its own line, so the message names no editor command. */
  commandLine?: boolean;
}

/**
 * The release host a board's ota_config.json names, for an error's words (never a token or a
 * password: only source, url, api and ref are read). Undefined for bytes that are no config.
 */
export function boardErrorContext(configBytes: Uint8Array | undefined): ErrorContext {
  let cfg: { source?: unknown; url?: unknown; api?: unknown; ref?: unknown };
  try {
    cfg = JSON.parse(new TextDecoder().decode(configBytes)) as typeof cfg;
  } catch {
    return { onBoard: true };
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  if (cfg.source === 'static') return { onBoard: true, source: 'static', host: str(cfg.url) };
  if (cfg.source === 'github')
    return { onBoard: true, source: 'github', host: str(cfg.api) ?? 'https://api.github.com' };
  if (cfg.source === 'oci') return { onBoard: true, source: 'oci', host: str(cfg.ref) };
  return { onBoard: true };
}

/** Errno values the board prints (lwIP numbers as MicroPython reports them) and the host's codes. */
const NETWORK: [RegExp, string][] = [
  [/ECONNREFUSED|Errno 111\b/, 'connection refused'],
  [/EHOSTUNREACH|Errno 113\b/, 'no route to the host'],
  [/ETIMEDOUT|Errno 110\b|timed out/i, 'timed out'],
  [/ENOTFOUND|EAI_AGAIN|Errno -2\b|getaddrinfo/, 'name not found'],
  [/ECONNRESET|Errno 104\b/, 'connection reset'],
];

const CONFIGURE_CODES = new Set([
  'no_config',
  'no_repo',
  'not_found',
  'not-configured',
  'bad_config',
  'not_local',
  'not_offered',
]);
const TOKEN_CODES = new Set(['no_token', 'token_missing', 'token_invalid', 'auth_declined', 'no_permission']);

/** True for a local address (a host served from this machine: "Serve Releases Locally" fixes it). */
export function isLocalUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const h = new URL(url).hostname;
    return h === 'localhost' || h === '[::1]' || h.startsWith('127.');
  } catch {
    return false;
  }
}

function networkWords(text: string): string | undefined {
  for (const [re, words] of NETWORK) if (re.test(text)) return words;
  return undefined;
}

function networkFixes(ctx: ErrorContext): Fix[] {
  if (ctx.source === 'static' && (isLocalUrl(ctx.host) || !ctx.host)) return ['serve', 'configure', 'output'];
  if (ctx.source === 'github') return ['configure', 'token', 'output'];
  return ['configure', 'output'];
}

/** The Python exception a board raised, translated when we know what it means. */
export function translateBoardException(text: string): Actionable | undefined {
  const missing = /ImportError\W+(?:no module named|can't import name) '?(ota(?:\.\w+)?)\b/i.exec(text);
  if (missing?.[1] === 'ota')
    return {
      code: 'no_updater',
      message: 'The updater is not installed on this board: install it first.',
      fixes: ['install'],
    };
  if (missing)
    return {
      code: 'no_updater',
      message: `The updater on this board is incomplete (no module named '${missing[1]}'): install it again.`,
      fixes: ['install', 'output'],
    };
  if (/OSError: \[Errno 2\] ENOENT/.test(text) && /ota_config/.test(text))
    return {
      code: 'no_config',
      message: 'This board has no ota_config.json: configure the device and install the updater again.',
      fixes: ['configure', 'install'],
    };
  if (/MemoryError/.test(text))
    return {
      code: 'no_memory',
      message: `The board ran out of memory (${text.trim().split('\n').pop()}). Reset it and try again.`,
      fixes: ['output'],
    };
  return undefined;
}

export function explainError(err: unknown, ctx: ErrorContext = {}): Actionable {
  const code = (err as { code?: unknown } | undefined)?.code;
  const c = typeof code === 'string' ? code : 'error';
  const text = err instanceof Error ? err.message : String(err);
  return explain(c, text, ctx);
}

/** An `error` event from the board ({code, msg}). */
export function explainBoardEvent(ev: { [key: string]: unknown }, ctx: ErrorContext = {}): Actionable {
  return explain(String(ev.code ?? 'device_error'), String(ev.msg ?? 'the board reported an error'), {
    ...ctx,
    onBoard: true,
  });
}

function explain(code: string, text: string, ctx: ErrorContext): Actionable {
  const translated = translateBoardException(text);
  if (translated) return translated;
  if (CONFIGURE_CODES.has(code)) return { code, message: text, fixes: ['configure'] };
  if (TOKEN_CODES.has(code)) return { code, message: text, fixes: ['token'] };
  if (code === 'repo_not_found') return { code, message: text, fixes: ['configure', 'token'] };
  if (code === 'no_updater') return { code, message: text, fixes: ['install'] };
  // device/ota/updater.py: a newer release waits behind the unconfirmed one the board runs.
  if (code === 'board_busy' && /confirm_pending|is not confirmed yet/.test(text))
    return {
      code,
      message:
        'A newer release waits: the release the board runs is not confirmed yet (its app calls ' +
        'ota.confirm() once it runs well). Confirm it, or roll it back, then update again',
      fixes: ['confirm'],
    };
  if (code === 'no_signing_key') return { code, message: text, fixes: ['key', 'configure'] };
  if (code === 'wrong_app')
    return {
      code,
      message: `${text.replace(/[.\s]+$/, '')}: the board refuses another project's release, even one signed by your key. To move this board to that app on purpose, ${ctx.commandLine ? 'set "app" in its ota_config.json and run ota install again (or ota install --project <dir>)' : 'set "app" in its configuration (Configure Device) or reinstall over USB (Install Updater)'}.`,
      fixes: ['configure', 'install'],
    };
  const words = networkWords(text);
  const network = ['network', 'io', 'unreachable', 'fetch-failed'].includes(code);
  if (words || network) {
    const who = ctx.onBoard ? 'The board cannot reach' : 'Cannot reach';
    // The host is named once: a message that already carries the URL keeps its words.
    const said =
      ctx.host && text.includes(ctx.host)
        ? text.replace(/[.\s]+$/, '')
        : `${who} ${ctx.host ?? 'the release host'}: ${words ?? text}`;
    const hint = ctx.commandLine
      ? '' // the fix line says it, in command-line words
      : ctx.source === 'static' && isLocalUrl(ctx.host)
        ? ' Start the host with Serve Releases Locally.'
        : ' Check that the host is up and the URL is right.';
    return {
      code: network ? code : 'network',
      message: `${said}.${hint}`,
      fixes: networkFixes(ctx),
    };
  }
  if (code === 'http_404' || code === 'not_found') {
    const where = ctx.host && !text.includes(ctx.host) ? ` on ${ctx.host}` : '';
    return {
      code,
      message: `${text}${where}: the release host does not have this file. Publish the release again, and check the host serves it.`,
      fixes: ctx.source === 'static' ? ['serve', 'output'] : ['output'],
    };
  }
  return { code, message: text, fixes: ['output'] };
}
