// Extension activation cost and bundle size. Each sample is a fresh Node process (cold module
// cache), so it counts parsing the bundle as VS Code's extension host does. activate() gets a
// minimal host object with the few API calls activation makes (outside VS Code there is no other);
// the e2e suite also reports activate()'s time inside a real VS Code. Baseline, same run: loading
// serialport and Octokit eagerly, the cost lazy loading keeps out of activation.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROOT = join(__dirname, '..');
const BUNDLE = join(ROOT, 'dist/extension.js');
const SAMPLES = 9;

/** The host API surface activate() touches, enough to run it outside VS Code. */
const HOST = `
class EventEmitter { constructor(){this.l=[]} get event(){return (f)=>{this.l.push(f);return {dispose(){}}}} fire(e){for(const f of this.l)f(e)} dispose(){} }
const disposable = { dispose() {} };
const vscode = {
  EventEmitter,
  StatusBarAlignment: { Left: 1, Right: 2 },
  ThemeIcon: class { constructor(id){this.id=id} },
  ThemeColor: class { constructor(id){this.id=id} },
  Uri: { joinPath: (u, ...p) => ({ fsPath: [u.fsPath, ...p].join('/') }) },
  window: {
    createOutputChannel: () => ({ appendLine() {}, show() {}, dispose() {} }),
    createStatusBarItem: () => ({ show() {}, hide() {}, dispose() {} }),
    registerTreeDataProvider: () => disposable,
    createTreeView: () => ({ visible: false, onDidChangeSelection: () => disposable, dispose() {} }),
  },
  commands: { registerCommand: () => disposable },
  workspace: { getConfiguration: () => ({ get: (_k, d) => d }), onDidChangeConfiguration: () => disposable, registerTextDocumentContentProvider: () => disposable, workspaceFolders: [] },
};
const Module = require('module');
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
`;

function sample(script: string): number {
  const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  return Number(out.trim().split('\n').pop());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function run(): Promise<void> {
  if (!existsSync(BUNDLE)) throw new Error('dist/extension.js missing: npm run build first');
  const activation = `${HOST}
const t0 = performance.now();
const ext = require(${JSON.stringify(BUNDLE)});
const ctx = { subscriptions: [], secrets: {}, extensionUri: { fsPath: '.' } };
ext.activate(ctx);
console.log(performance.now() - t0);
process.exit(0);`;
  const eager = `
const t0 = performance.now();
require('serialport');
import('@octokit/rest').then(() => { console.log(performance.now() - t0); process.exit(0); });`;
  const act: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    act.push(sample(activation));
    base.push(sample(eager));
  }
  const a = median(act);
  const b = median(base);
  console.log(`activation (load bundle + activate): ${a.toFixed(1)} ms median of ${SAMPLES} (goal <= 20 ms)`);
  console.log(
    `baseline, eager serialport + Octokit: ${b.toFixed(1)} ms -> activation is ${(a / b).toFixed(2)}x of it`,
  );
  const bytes = statSync(BUNDLE).size;
  const gz = gzipSync(readFileSync(BUNDLE)).length;
  console.log(
    `bundle dist/extension.js: ${(bytes / 1024).toFixed(0)} KB (${(gz / 1024).toFixed(0)} KB gzip, ${(gz / bytes).toFixed(2)}x)`,
  );
}
