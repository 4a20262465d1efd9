// Runs every test file under test/ with Node's test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [filter-substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : find(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// own-ports: each test file's process lists only the virtual boards it started (test/support/own-ports.ts).
const ownPorts = join('test', 'support', 'own-ports.ts');
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', `./${ownPorts}`, '--test', '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
