// Text from a board, a broker or a server is shown to people, never obeyed by their terminal: control
// characters are written as escapes, so a hostile board cannot set the terminal's title, write the
// clipboard (OSC 52), plant links, make the terminal answer into its input (CSI 6n) or hide a line.
// One rule for the CLI's output (src/cli.ts) and the extension's output panel (src/ui/output.ts).

// C0 controls but tab and newline, DEL, C1 controls, and bidirectional overrides (which reorder what a
// line shows: "Trojan Source").
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

// What a terminal may still get from a stream: carriage return (progress lines), colours (SGR) and
// "erase to end of line" (EL), which only change how text looks.
const TERMINAL_UNSAFE =
  // eslint-disable-next-line no-control-regex
  /\x1b\[[0-9;]*[mK]|\r|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character but tab and newline written as `\xNN` (bidi overrides `\uNNNN`). */
export function printable(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** As printable, for one line: a newline is escaped too, so one value cannot forge another line. */
export function printableLine(text: string): string {
  return printable(text).replace(/\n/g, '\\n');
}

/** As printable, for a terminal: carriage returns, colours and erase-line pass, nothing else does. */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (m) => (m.length > 1 || m === '\r' ? m : escape(m)));
}
