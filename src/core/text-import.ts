// Python files the host sends to boards (src/core/serial/py/) and the virtual board's modules
// (src/sim/py/) are imported as text: `import HELPERS from './py/board_helpers.py'`. In dist/,
// esbuild inlines them (its `text` loader, esbuild.mjs). From source (tests and benches run through
// tsx) this gives `require` the same behaviour; a module that imports a .py file imports this first.
// In a bundle it does nothing, so the extension host's shared `require` is left alone.
import { readFileSync } from 'node:fs';

if (__filename.endsWith('.ts')) {
  const extensions = require.extensions as Record<string, (m: NodeJS.Module, file: string) => void>;
  extensions['.py'] ??= (m, file) => {
    m.exports = readFileSync(file, 'utf8');
  };
}
