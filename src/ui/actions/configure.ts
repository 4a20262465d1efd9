// "OTA: Configure Device": a guided quick-pick flow that writes ota_config.json.
// Wi-Fi credentials and HMAC secrets never go into the workspace: Wi-Fi lives in
// secret storage and reaches the board only at install; an HMAC key is referenced
// by path (ota.signingKey) and its trust entry is added at install time.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { GITHUB_API, isRepo } from '../../core/github-rules';
import type { Controller } from '../controller';
import { readSettings, workspaceRoot } from '../settings';

const CONFIG_FILE = 'ota_config.json';
const WIFI_KEY = 'ota.wifi';

export type OtaConfig = Record<string, unknown>;

/** Answers given up front skip their questions (tests, other commands). */
export interface ConfigureAnswers {
  source?: 'github' | 'static';
  repo?: string;
  api?: string;
  url?: string;
  channel?: 'stable' | 'beta' | 'developer' | 'tag';
  tag?: string;
  branch?: string;
  paths?: string[];
  keys?: 'keep' | 'none';
  wifi?: { ssid: string; password: string } | null;
}

function configUri(): vscode.Uri {
  const root = workspaceRoot();
  if (!root) throw new OtaError('no_workspace', 'Open the folder of your MicroPython project first.');
  return vscode.Uri.joinPath(root, CONFIG_FILE);
}

export async function readWorkspaceConfig(): Promise<OtaConfig | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await vscode.workspace.fs.readFile(configUri());
  } catch {
    return undefined;
  }
  try {
    const cfg: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error('not an object');
    return cfg as OtaConfig;
  } catch (err) {
    throw new OtaError(
      'bad_config',
      `${CONFIG_FILE} is not a JSON object: ${err instanceof Error ? err.message : err}`,
    );
  }
}

/** The Wi-Fi credentials for the board, from secret storage (undefined: the board connects itself). */
export async function wifiFor(
  ctl: Controller,
  _config: OtaConfig,
): Promise<{ ssid: string; password: string } | undefined> {
  const raw = await ctl.context.secrets.get(WIFI_KEY);
  if (!raw) return undefined;
  const wifi = JSON.parse(raw) as { ssid: string; password: string };
  ctl.redactor.add(wifi.password);
  return wifi;
}

async function pick<T extends string>(
  title: string,
  items: { label: T; description?: string }[],
  current?: string,
): Promise<T> {
  const sorted = [...items].sort((a, b) => Number(b.label === current) - Number(a.label === current));
  const picked = await vscode.window.showQuickPick(sorted, { title, ignoreFocusOut: true });
  if (!picked) throw new OtaError('cancelled', 'Configuration cancelled.');
  return picked.label;
}

async function ask(
  title: string,
  value: string,
  validate?: (v: string) => string | undefined,
  password = false,
): Promise<string> {
  const answer = await vscode.window.showInputBox({
    title,
    value,
    password,
    ignoreFocusOut: true,
    validateInput: validate,
  });
  if (answer === undefined) throw new OtaError('cancelled', 'Configuration cancelled.');
  return answer.trim();
}

function validUrl(v: string): string | undefined {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'An http:// or https:// URL';
  } catch {
    return 'An http:// or https:// URL';
  }
}

export async function configureDevice(ctl: Controller, answers?: unknown): Promise<OtaConfig> {
  const given = (answers && typeof answers === 'object' ? answers : {}) as ConfigureAnswers;
  const settings = readSettings();
  const previous = (await readWorkspaceConfig()) ?? {};
  const cfg: OtaConfig = { ...previous };
  delete cfg.wifi; // never in the workspace

  const source =
    given.source ??
    (await pick(
      'Where do releases come from?',
      [
        { label: 'github', description: 'GitHub Releases' },
        { label: 'static', description: 'Any static HTTP(S) host (latest.json)' },
      ],
      String(previous.source ?? settings.source),
    ));
  cfg.source = source;
  if (source === 'github') {
    cfg.repo =
      given.repo ??
      (await ask('GitHub repository (owner/name)', String(previous.repo ?? settings.repo), (v) =>
        isRepo(v) ? undefined : 'owner/name',
      ));
    const api = given.api ?? (await ask('GitHub API URL', String(previous.api ?? settings.apiUrl), validUrl));
    if (api && api !== GITHUB_API) cfg.api = api;
    else delete cfg.api;
    delete cfg.url;
  } else {
    cfg.url =
      given.url ??
      (await ask('Base URL of the release host', String(previous.url ?? settings.staticUrl), validUrl));
    delete cfg.repo;
    delete cfg.api;
  }

  const channel =
    given.channel ??
    (await pick(
      'Which releases should the board follow?',
      [
        { label: 'stable', description: 'Latest non-prerelease' },
        { label: 'beta', description: 'Newest prerelease' },
        { label: 'developer', description: 'Tip of a branch (GitHub only)' },
        { label: 'tag', description: 'One pinned release' },
      ],
      String(previous.channel ?? settings.channel),
    ));
  cfg.channel = channel;
  delete cfg.tag;
  delete cfg.branch;
  delete cfg.paths;
  if (channel === 'tag') cfg.tag = given.tag ?? (await ask('Release tag', String(previous.tag ?? 'v1.0.0')));
  if (channel === 'developer') {
    cfg.branch = given.branch ?? (await ask('Branch', String(previous.branch ?? 'main')));
    const paths =
      given.paths ??
      (
        await ask(
          'Paths the updater owns (comma-separated, empty: all)',
          Array.isArray(previous.paths) ? previous.paths.join(',') : '',
        )
      )
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
    if (paths.length) cfg.paths = paths;
  }

  if (given.keys === 'none') delete cfg.keys;
  else if (given.keys !== 'keep') await askKeys(ctl, cfg);
  await askWifi(ctl, given.wifi);

  await vscode.workspace.fs.writeFile(configUri(), Buffer.from(JSON.stringify(cfg, null, 2) + '\n'));
  // Keep the extension's own view of the source in step with what the board will use.
  const conf = vscode.workspace.getConfiguration('ota');
  await conf.update('source', source, vscode.ConfigurationTarget.Workspace);
  if (source === 'github') await conf.update('github.repo', cfg.repo, vscode.ConfigurationTarget.Workspace);
  else await conf.update('static.url', cfg.url, vscode.ConfigurationTarget.Workspace);
  if (channel !== 'tag') await conf.update('channel', channel, vscode.ConfigurationTarget.Workspace);
  ctl.output.info(`Wrote ${CONFIG_FILE}: ${JSON.stringify(cfg)}`);
  // Shown in an editor, where the JSON schema checks any hand edit that follows.
  await vscode.window.showTextDocument(configUri(), { preview: true });
  return cfg;
}

/** Trusted signing keys: public keys go into the file; an HMAC secret only by reference. */
async function askKeys(ctl: Controller, cfg: OtaConfig): Promise<void> {
  const choice = await pick('Signed releases?', [
    {
      label: 'Keep',
      description: `Trust the keys already listed (${Array.isArray(cfg.keys) ? cfg.keys.length : 0})`,
    },
    { label: 'Add a key file…', description: 'A key from `ota keygen`' },
    { label: 'No signatures', description: 'The board accepts unsigned releases' },
  ]);
  if (choice === 'No signatures') delete cfg.keys;
  if (choice !== 'Add a key file…') return;
  const files = await vscode.window.showOpenDialog({
    title: 'Signing key file',
    canSelectMany: false,
    filters: { 'Key file': ['json'] },
  });
  if (!files?.[0]) return;
  const { deviceTrustEntry } = await import('../../core/keys');
  const entry = await deviceTrustEntry(files[0].fsPath);
  if (entry.alg === 'hmac-sha256') {
    // The HMAC secret is the trust entry itself: reference the file, add it at install.
    await vscode.workspace
      .getConfiguration('ota')
      .update('signingKey', files[0].fsPath, vscode.ConfigurationTarget.Workspace);
    ctl.output.info(`HMAC key ${entry.id}: kept out of ${CONFIG_FILE}; it is added on the board at install.`);
    return;
  }
  const keys = Array.isArray(cfg.keys) ? (cfg.keys as { id?: string }[]) : [];
  cfg.keys = [...keys.filter((k) => k.id !== entry.id), entry];
}

async function askWifi(ctl: Controller, given: ConfigureAnswers['wifi']): Promise<void> {
  let wifi = given;
  if (wifi === undefined) {
    const choice = await pick('Wi-Fi for the board', [
      { label: 'Unchanged', description: 'Keep what is stored (or let the board connect itself)' },
      {
        label: 'Set Wi-Fi…',
        description: 'Stored in VS Code secret storage, sent to the board at install only',
      },
      { label: 'None', description: 'The board connects itself (e.g. in boot.py)' },
    ]);
    if (choice === 'Unchanged') return;
    if (choice === 'None') wifi = null;
    else {
      const ssid = await ask('Wi-Fi network name (SSID)', '');
      const password = await ask('Wi-Fi password', '', undefined, true);
      wifi = { ssid, password };
    }
  }
  if (wifi === null) await ctl.context.secrets.delete(WIFI_KEY);
  else {
    ctl.redactor.add(wifi.password);
    await ctl.context.secrets.store(WIFI_KEY, JSON.stringify(wifi));
  }
}
