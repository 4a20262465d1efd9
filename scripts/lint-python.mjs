// Lints and format-checks every Python file of the project: the updater (device/), the helpers the host
// runs on boards (src/core/serial/py/) and the virtual board's modules (src/sim/py/).
//   node scripts/lint-python.mjs          check (part of `npm run lint`)
//   node scripts/lint-python.mjs --fix    rewrite the files in the formatter's style
// Ruff (its WebAssembly build from npm, so no Python is needed): pyflakes' checks and the formatter.
// Pyright (npm): names and attributes against MicroPython's modules (typings/, pyrightconfig.json).
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Workspace, PositionEncoding } = require('@astral-sh/ruff-wasm-nodejs');

const ROOTS = ['device', 'src'];
const fix = process.argv.includes('--fix');

/** Ruff's settings, as a ruff.toml would hold them. 120 columns: the device code's longest lines. */
const SETTINGS = {
  'line-length': 120,
  lint: { select: ['F', 'E9'] },
  format: { 'quote-style': 'double' },
};

function pythonFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : pythonFiles(p);
    return p.endsWith('.py') ? [p] : [];
  });
}

/**
 * MicroPython's parser replaces a `const()` name by its value only below the line that defines it,
 * and keeps no global for a `_name`: a use above the definition is a NameError on the board that
 * CPython-based linters never see.
 */
function constBeforeUse(src) {
  const lines = src.split('\n');
  const out = [];
  lines.forEach((line, at) => {
    const m = /^(_\w+) = const\(/.exec(line);
    if (!m) return;
    const use = new RegExp(`(?<![\\w.])${m[1]}\\b`);
    const early = lines.slice(0, at).findIndex((l) => use.test(l.replace(/#.*/, '')));
    if (early >= 0) out.push(`${early + 1}: ${m[1]} is used above its const() on line ${at + 1}`);
  });
  return out;
}

const files = ROOTS.flatMap(pythonFiles).sort();
const ruff = new Workspace(SETTINGS, PositionEncoding.Utf16);
let problems = 0;
for (const file of files) {
  const src = readFileSync(file, 'utf8');
  for (const d of ruff.check(src)) {
    console.error(
      `${file}:${d.start_location.row}:${d.start_location.column}: ${d.code ?? 'syntax'} ${d.message}`,
    );
    problems++;
  }
  for (const msg of constBeforeUse(src)) {
    console.error(`${file}:${msg}`);
    problems++;
  }
  const formatted = ruff.format(src);
  if (formatted === src) continue;
  if (fix) {
    writeFileSync(file, formatted);
    console.log(`formatted ${file}`);
  } else {
    console.error(`${file}: not formatted (npm run format:python)`);
    problems++;
  }
}

const pyright = spawnSync(
  process.execPath,
  [require.resolve('pyright/index.js'), '-p', 'pyrightconfig.json'],
  {
    encoding: 'utf8',
  },
);
if (pyright.status !== 0) {
  process.stderr.write(pyright.stdout + pyright.stderr);
  problems++;
}

console.log(
  `python: ${files.length} files (${relative('.', ROOTS.join(', '))}), ruff ${Workspace.version()}, ` +
    `${problems === 0 ? 'no problems' : `${problems} problem(s)`}`,
);
process.exitCode = problems === 0 ? 0 : 1;
