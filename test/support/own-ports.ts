// Each test process announces and lists virtual boards' pseudo-terminals in a folder of its own
// (OTA_PORTS_DIR, read by src/core/serial/discover.ts), and the CLI processes it starts inherit it:
// a test never lists another test's or another checkout's boards, however many run on the machine.
// Loaded by scripts/test.mjs (--import) in every test file's process, and by test/serial-board.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// NODE_TEST_CONTEXT: a test file's process under node --test (not the runner itself, nor a CLI it spawns).
if (process.env.NODE_TEST_CONTEXT && !process.env.OTA_PORTS_DIR) {
  const dir = mkdtempSync(join(tmpdir(), 'ota-test-ports-'));
  process.env.OTA_PORTS_DIR = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}
