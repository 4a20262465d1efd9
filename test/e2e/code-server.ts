/**
 * A real VS Code for tests: code-server 4.100.3 (installed by scripts/install-code-server.sh
 * into .tools/code-server) with the extension installed from its .vsix, in its own HOME,
 * XDG dirs and TMPDIR so nothing touches the user's.
 *
 *   const missing = missingPrerequisites();            // [] when code-server and chromium exist
 *   const vsix = await packageVsix(dir);                // npx vsce package (the shipped file set)
 *   const cs = await startCodeServer({ root, vsix, folder });
 *   cs.url  // http://127.0.0.1:PORT ; cs.extensionDir: where the .vsix was unpacked
 *   await cs.close();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../..');
export const CODE_SERVER = join(REPO, '.tools/code-server/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = '/usr/bin/chromium';
export const EXTENSION_ID = 'micropython-ota.micropython-ota';

export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (!existsSync(CODE_SERVER))
    missing.push(`code-server (${CODE_SERVER}; run scripts/install-code-server.sh)`);
  if (!existsSync(CHROMIUM)) missing.push(`chromium (${CHROMIUM}; run scripts/install-system-deps.sh)`);
  return missing;
}

/** Packs the extension exactly as `npm run package` ships it (after `npm run build`). */
export function packageVsix(outDir: string): string {
  const out = join(outDir, 'micropython-ota.vsix');
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, 'node_modules/@vscode/vsce/vsce'),
      'package',
      '--allow-missing-repository',
      '--no-rewrite-relative-links',
      '--out',
      out,
    ],
    { cwd: REPO, encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`vsce package failed:\n${r.stdout}\n${r.stderr}`);
  return out;
}

/** Every process below `pid` (Linux /proc), so none outlives the server: the extension host starts its own group. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function killFamily(pid: number): void {
  for (const p of [pid, ...descendants(pid)].reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** The environment of a sandboxed code-server or Chromium under `root`. */
export function sandboxEnv(root: string): NodeJS.ProcessEnv {
  const dirs = {
    HOME: 'home',
    XDG_CONFIG_HOME: 'config',
    XDG_DATA_HOME: 'data',
    XDG_CACHE_HOME: 'cache',
    TMPDIR: 'tmp',
  };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, d] of Object.entries(dirs)) {
    env[k] = join(root, d);
    mkdirSync(env[k]!, { recursive: true });
  }
  return env;
}

export interface CodeServer {
  url: string;
  port: number;
  extensionDir: string;
  log(): string;
  close(): Promise<void>;
}

/** A quiet workbench: no welcome page stealing focus, no gallery or telemetry traffic. */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.colorTheme': 'Default Dark Modern',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'window.restoreWindows': 'none',
  // The DOM renderer: the terminal's text is readable by the test (Chromium runs without a GPU).
  'terminal.integrated.gpuAcceleration': 'off',
};

export async function startCodeServer(opts: {
  root: string;
  vsix: string;
  folder: string;
  settings?: Record<string, unknown>;
}): Promise<CodeServer> {
  const env = sandboxEnv(opts.root);
  const userData = join(opts.root, 'user-data');
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(
    join(userData, 'User/settings.json'),
    JSON.stringify({ ...USER_SETTINGS, ...opts.settings }, null, 2),
  );
  const extensions = join(opts.root, 'extensions');
  const install = spawnSync(
    process.execPath,
    [
      CODE_SERVER,
      '--user-data-dir',
      userData,
      '--extensions-dir',
      extensions,
      '--install-extension',
      opts.vsix,
    ],
    { env, encoding: 'utf8', timeout: 120_000 },
  );
  if (install.status !== 0)
    throw new Error(`code-server --install-extension failed:\n${install.stdout}\n${install.stderr}`);
  const extensionDir = readdirSync(extensions)
    .filter((d) => d.startsWith(EXTENSION_ID))
    .map((d) => join(extensions, d))[0];
  if (!extensionDir) throw new Error(`the .vsix did not install into ${extensions}:\n${install.stdout}`);

  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CODE_SERVER,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--user-data-dir',
      userData,
      '--extensions-dir',
      extensions,
      opts.folder,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      killFamily(child.pid!);
      throw new Error(`code-server did not answer /healthz within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    extensionDir,
    log: () => output,
    async close() {
      killFamily(child.pid!);
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((r) => child.once('exit', r));
      child.stdout!.destroy();
      child.stderr!.destroy();
    },
  };
}
