// Code comments link to the project's own docs/ for shared rules (CONTRIBUTING.md, "Docs and
// comments"). Every such link must lead somewhere: the file exists, and a cited section
// (docs/protocols.md#release-paths or docs/protocols.md, "Serial") is one of its headings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : sources(p);
    return /\.(ts|mjs|py)$/.test(name) ? [p] : [];
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function headings(doc: string): string[] {
  return [...readFileSync(join(root, doc), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim());
}

test('every docs/ link in the code leads to an existing file and section', () => {
  let links = 0;
  for (const file of ['src', 'device', 'scripts', 'bench'].flatMap((d) => sources(join(root, d)))) {
    // A comment may wrap inside a cited section name: join the lines first.
    const text = readFileSync(file, 'utf8').replace(/\n\s*(#|\/\/|\*)\s*/g, ' ');
    for (const m of text.matchAll(/docs\/([a-z-]+\.md)(?:#([a-z0-9-]+)|, "([^"]+)")?/g)) {
      const doc = `docs/${m[1]}`;
      const where = `${file.slice(root.length + 1)}: ${m[0]}`;
      links++;
      assert.ok(existsSync(join(root, doc)), `${where}: no such file`);
      const names = headings(doc);
      if (m[2]) assert.ok(names.map(slug).includes(m[2]), `${where}: no such section`);
      if (m[3]) assert.ok(names.includes(m[3]), `${where}: no heading "${m[3]}"`);
    }
  }
  assert.ok(links >= 10, `only ${links} links found`);
});
