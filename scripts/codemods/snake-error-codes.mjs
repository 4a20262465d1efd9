// One-off codemod: error codes in snake_case everywhere (src/core/error-codes.ts is the table).
// Rewrites each kebab-case spelling of a listed code where it stands as a code: quoted ('bad-option',
// "bad-option", `bad-option`), bracketed ([bad-option], \[bad-option\]) or a whole test regex (/bad-option/).
//   node scripts/codemods/snake-error-codes.mjs      (from the repository root; safe to re-run)
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const table = readFileSync('src/core/error-codes.ts', 'utf8');
const codes = [...table.matchAll(/^ {2}([a-z0-9_]+): /gm)].map((m) => m[1]).filter((c) => c.includes('_'));
const ROOTS = ['src', 'test', 'bench', 'scripts', 'docs', 'media', 'README.md', 'CONTRIBUTING.md'];
const EXT = /\.(ts|mjs|js|md|json)$/;

function files(p) {
  if (statSync(p).isDirectory()) {
    return readdirSync(p).flatMap((n) => (n === 'node_modules' || n === 'codemods' ? [] : files(join(p, n))));
  }
  return EXT.test(p) ? [p] : [];
}

let changed = 0;
for (const file of ROOTS.flatMap((r) => files(r))) {
  const before = readFileSync(file, 'utf8');
  let text = before;
  for (const code of codes) {
    const kebab = code.replace(/_/g, '-');
    const re = new RegExp(`(['"\`\\[/])${kebab.replace(/-/g, '\\-')}(?=\\\\?['"\`\\]/])`, 'g');
    text = text.replace(re, `$1${code}`);
  }
  if (text !== before) {
    writeFileSync(file, text);
    changed++;
    console.log(file);
  }
}
console.log(`${changed} files changed, ${codes.length} codes`);
