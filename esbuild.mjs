// Bundles the extension, the CLI and the virtual board's worker thread.
import * as esbuild from 'esbuild';
import { chmodSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Native and runtime-loaded packages stay outside the bundle and ship in node_modules. */
const external = [
  'vscode',
  'serialport',
  '@serialport/*',
  '@lydell/*',
  '@micropython/micropython-webassembly-pyscript',
];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: production,
  external,
  // Python sent to boards and the virtual board's modules, inlined as strings (src/core/text-import.ts).
  loader: { '.py': 'text' },
  // Warnings and errors only: `npm run demo` builds first, and a table of bundle sizes (marked ⚠️
  // above 1 MB, which is expected here) is noise to a new user. One summary line is printed below.
  logLevel: watch ? 'info' : 'warning',
};

const builds = [
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  // What the extension's commands run, loaded on first use so activation parses little (src/ui/load-heavy.ts).
  { ...common, entryPoints: ['src/ui/heavy.ts'], outfile: 'dist/commands.js' },
  {
    ...common,
    entryPoints: ['src/cli.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
    // package.json "bin" runs it as a program (npx ota, npm link): esbuild writes it without the x bit.
    plugins: [{ name: 'executable', setup: (b) => b.onEnd(() => chmodSync('dist/cli.js', 0o755)) }],
  },
  { ...common, entryPoints: ['src/sim/worker.ts'], outfile: 'dist/sim-worker.js' },
  // The virtual board's pseudo-terminal, in a process of its own (src/sim/pty-relay.ts says why).
  { ...common, entryPoints: ['src/sim/pty-relay.ts'], outfile: 'dist/pty-relay.js' },
];

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  const t0 = performance.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  const outs = builds.map((b) => b.outfile.replace(/^dist\//, '')).join(', ');
  console.log(`built ${outs} in dist/ (${Math.round(performance.now() - t0)} ms)`);
}
