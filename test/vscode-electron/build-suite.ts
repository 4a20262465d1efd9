// Bundles suite.ts to CommonJS for an extension host to load (vscode stays external).
import { join } from 'node:path';
import { buildSync } from 'esbuild';

export function buildSuite(outDir: string): string {
  const outfile = join(outDir, 'suite', 'index.js');
  buildSync({
    entryPoints: [join(__dirname, 'suite.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'error',
  });
  return outfile;
}
