// Board folders for power-cut tests: a copy takes the folder's <dir>.fsmeta.json along (the FAT
// cross-links and LittleFS pending move a cut left, src/sim/flash.ts), and every folder made goes
// after the test file's tests.
import { after } from 'node:test';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function flashDirs(prefix: string): { tempDir(): string; copy(from: string): string } {
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d, `${d}.fsmeta.json`);
    return d;
  };
  const copy = (from: string): string => {
    const d = tempDir();
    cpSync(from, d, { recursive: true });
    if (existsSync(`${from}.fsmeta.json`)) cpSync(`${from}.fsmeta.json`, `${d}.fsmeta.json`);
    return d;
  };
  return { tempDir, copy };
}
