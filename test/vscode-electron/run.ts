// `npm run test:vscode`: the in-VS-Code suite in VS Code desktop through @vscode/test-electron.
// It downloads VS Code first; where that cannot work (no route to update.code.visualstudio.com),
// it says so and fails, and the code-server suite (test/e2e, part of `npm test`) is the one CI runs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { buildSuite } from './build-suite';

async function main(): Promise<number> {
  const repo = resolve(__dirname, '../..');
  const out = mkdtempSync(join(tmpdir(), 'ota-vscode-'));
  let vscodeExecutablePath: string;
  try {
    vscodeExecutablePath = await downloadAndUnzipVSCode({
      version: 'stable',
      cachePath: join(repo, '.vscode-test'),
    });
  } catch (err) {
    console.error(
      `test:vscode: VS Code could not be downloaded here (${err instanceof Error ? err.message : String(err)}).\n` +
        'The same suite runs in code-server by `node scripts/test.mjs e2e` (part of npm test).',
    );
    return 1;
  }
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: repo,
    extensionTestsPath: buildSuite(out),
    launchArgs: ['--disable-extensions', '--disable-workspace-trust', join(repo, 'examples')],
  });
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
