// The layering of docs/architecture.md is enforced by ESLint (eslint.config.mjs): these hold the rule
// itself to account, so a config edit that silently drops it fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint();

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('src/core may not import vscode, src/ui, src/cli*, src/extension.ts or src/sim', async () => {
  for (const [file, spec] of [
    ['src/core/x.ts', 'vscode'],
    ['src/core/x.ts', '../ui/settings'],
    ['src/core/x.ts', '../cli'],
    ['src/core/x.ts', '../extension'],
    ['src/core/serial/x.ts', '../../sim/board'],
    ['src/core/publish/x.ts', '../../cli/common'],
  ]) {
    const messages = await restricted(file, `import * as m from '${spec}';\nexport const n = m;\n`);
    assert.equal(messages.length, 1, `${file} importing ${spec}: ${JSON.stringify(messages)}`);
  }
});

test('the core may import itself and Node, and the UI, CLI and virtual board may import the core', async () => {
  for (const [file, spec] of [
    ['src/core/x.ts', './errors'],
    ['src/core/serial/x.ts', '../errors'],
    ['src/core/x.ts', 'node:fs'],
    ['src/ui/x.ts', '../core/errors'],
    ['src/cli/x.ts', '../core/errors'],
    ['src/sim/x.ts', '../core/errors'],
  ]) {
    assert.deepEqual(
      await restricted(file, `import * as m from '${spec}';\nexport const n = m;\n`),
      [],
      `${file}: ${spec}`,
    );
  }
});
