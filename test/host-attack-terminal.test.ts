// A hostile board over serial (host-side attack review): text from a board reaches people, never their
// terminal. Control characters in output, file names, versions and error text are escaped by one rule
// (src/core/printable.ts) that the CLI applies to everything it prints and the output panel to every
// line; a line that never ends is shown in bounded pieces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { OtaError } from '../src/core/errors';
import { EventStream, MAX_LINE, type OtaEvent } from '../src/core/events';
import { openBoard } from '../src/core/serial/board';
import { printable, printableLine, terminalSafe } from '../src/core/printable';
import { startPtyBoard, type TestBoard } from './serial-board';

/** Hostile sequences and what each would do to a terminal. */
const HOSTILE: [what: string, text: string, shown: string][] = [
  ['OSC 52: write the clipboard', '\x1b]52;c;cm0gLXJmIH4K\x07', '\\x1b]52;c;cm0gLXJmIH4K\\x07'],
  ['OSC 0: set the window title', '\x1b]0;pwned\x1b\\', '\\x1b]0;pwned\\x1b\\'],
  ['OSC 8: plant a link', '\x1b]8;;http://evil/\x1b\\ok', '\\x1b]8;;http://evil/\\x1b\\ok'],
  ['CSI 6n: make the terminal answer into stdin', 'x\x1b[6n', 'x\\x1b[6n'],
  ['CSI 2J: clear the screen', '\x1b[2J\x1b[H', '\\x1b[2J\\x1b[H'],
  ['DCS: device control string', '\x1bP+q544e\x1b\\', '\\x1bP+q544e\\x1b\\'],
  ['C1 CSI (one byte)', '\u009b6n', '\\x9b6n'],
  ['backspace: overwrite what was shown', 'ok\b\bNO', 'ok\\x08\\x08NO'],
  ['bidi override: reorder a line', 'main\u202eyp.exe', 'main\\u202eyp.exe'],
  ['NUL and BEL', 'a\x00b\x07', 'a\\x00b\\x07'],
];

test('every control character a board sends is shown escaped; tab, newline and plain text are kept', () => {
  for (const [what, text, shown] of HOSTILE) {
    assert.equal(printable(text), shown, what);
    assert.equal(terminalSafe(text), shown, what);
  }
  assert.equal(printable('a\tb\nc é ✓'), 'a\tb\nc é ✓');
  assert.equal(printableLine('v1.0\nOTA:{"ev":"done"}'), 'v1.0\\nOTA:{"ev":"done"}');
  // A terminal stream keeps carriage returns, colours and erase-line: they change only how text looks.
  assert.equal(terminalSafe('\r50%\x1b[K \x1b[1;31merror\x1b[0m'), '\r50%\x1b[K \x1b[1;31merror\x1b[0m');
  assert.equal(printable('\r\x1b[31m'), '\\x0d\\x1b[31m');
});

test('a console line that never ends is passed on in bounded pieces, events still parse after it', () => {
  const texts: string[] = [];
  const events: OtaEvent[] = [];
  const s = new EventStream({ text: (l) => texts.push(l), event: (e) => events.push(e) });
  const chunk = 'A'.repeat(4096);
  for (let i = 0; i < 1000; i++) s.push(chunk); // 4 MB with no newline
  assert.ok(texts.length >= 200, `${texts.length} pieces`);
  assert.ok(texts.every((t) => t.length <= MAX_LINE + chunk.length));
  s.push('\nOTA:{"ev":"done","version":"1.0.0"}\n');
  assert.deepEqual(
    events.map((e) => e.ev),
    ['done'],
  );
});

let vb: TestBoard;
before(async () => {
  vb = await startPtyBoard();
});
after(async () => {
  await vb?.stop();
});

function ota(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    }),
  );
}

test(
  'ota exec: a board printing escapes, naming files with them and raising them reaches the terminal escaped',
  { timeout: 60_000 },
  async () => {
    const evil = HOSTILE.map(([, text]) => text).join('|');
    const code = [
      `E = ${JSON.stringify(evil)}`,
      'print(E)',
      "open('\\x1b]0;x\\x07.py', 'w').close()",
      "import os; print(os.listdir('/'))",
      'raise ValueError(E)',
    ].join('\n');
    const r = await ota(['exec', '--port', vb.path, code]);
    assert.equal(r.status, 1, r.stderr);
    for (const out of [r.stdout, r.stderr]) {
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(out, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202e]/, JSON.stringify(out));
    }
    const shown = HOSTILE.map(([, , s]) => s).join('|');
    assert.ok(r.stdout.includes(shown), r.stdout);
    assert.match(r.stdout, /\\x1b\]0;x\\x07\.py/);
    assert.match(r.stderr, /ValueError: \\x1b\]52;c;/);
  },
);

test(
  'a board that never stops answering is interrupted with a clear error, and answers again after',
  { timeout: 60_000 },
  async () => {
    const b = await openBoard(vb.path);
    try {
      await assert.rejects(
        b.exec("s = 'x' * 200\nwhile True:\n    print(s)", { maxOutput: 200_000 }),
        (e: unknown) =>
          e instanceof OtaError &&
          e.code === 'board_output_too_long' &&
          /more than 200000 bytes for one command/.test(e.message),
      );
      assert.equal((await b.exec('print(6 * 7)')).toString(), '42\r\n');
    } finally {
      await b.close();
    }
  },
);
