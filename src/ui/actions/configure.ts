// "Configure Device": a guided multi-step quick input (step counter, Back, example values, only the
// choices that fit the chosen source, the result previewed) that builds the board's ota_config.json.
// It is kept in workspace state, never as a file in the project, so it cannot end up in a release;
// Install Updater writes it to the board. Wi-Fi credentials live in secret storage and reach the
// board only at install; an HMAC key is referenced by path (ota.signingKey), never copied.
import { createServer } from 'node:net';
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { boardUrl, lanAddress, listenPlan } from '../../core/local-host';
import type { Controller } from '../controller';
import { BACK, inputStep, pickStep } from '../quick-steps';
import { STATE } from '../settings';

const WIFI_KEY = 'ota.wifi';

export type OtaConfig = Record<string, unknown>;

/** Answers given up front skip their steps (tests, other commands). */
export interface ConfigureAnswers {
  source?: 'github' | 'static' | 'oci';
  /** oci: host/repository[:tag]. */
  ref?: string;
  repo?: string;
  api?: string;
  url?: string;
  channel?: 'stable' | 'beta' | 'developer' | 'tag';
  tag?: string;
  branch?: string;
  paths?: string[];
  keys?: 'keep' | 'none';
  wifi?: { ssid: string; password: string } | null;
  /** true: save without the review step. */
  save?: boolean;
}

/** The Wi-Fi credentials for the board, from secret storage (undefined: the board connects itself). */
export async function wifiFor(ctl: Controller): Promise<{ ssid: string; password: string } | undefined> {
  const raw = await ctl.context.secrets.get(WIFI_KEY);
  if (!raw) return undefined;
  const wifi = JSON.parse(raw) as { ssid: string; password: string };
  ctl.redactor.add(wifi.password);
  return wifi;
}

const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

function validUrl(v: string): string | undefined {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'An http:// or https:// URL';
  } catch {
    return 'An http:// or https:// URL, e.g. https://example.com/releases';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

type StepId =
  | 'source'
  | 'host'
  | 'ref'
  | 'repo'
  | 'api'
  | 'channel'
  | 'tag'
  | 'branch'
  | 'paths'
  | 'keys'
  | 'wifi'
  | 'review';

interface Item extends vscode.QuickPickItem {
  value: string;
}

export async function configureDevice(ctl: Controller, answers?: unknown): Promise<OtaConfig> {
  const given = (answers && typeof answers === 'object' ? answers : {}) as ConfigureAnswers;
  const settings = ctl.settings();
  const previous = ctl.deviceConfig() ?? {};
  const cfg: OtaConfig = { ...previous };
  for (const [k, v] of Object.entries(given)) if (k !== 'keys' && k !== 'wifi' && k !== 'save') cfg[k] = v;
  cfg.source ??= settings.source;
  if (!cfg.url && settings.staticUrl) cfg.url = settings.staticUrl;
  if (!cfg.repo && settings.repo) cfg.repo = settings.repo;
  if (!cfg.ref && settings.ociRef) cfg.ref = settings.ociRef;
  let wifi: ConfigureAnswers['wifi'] | 'unchanged' = given.wifi === undefined ? 'unchanged' : given.wifi;
  let keysChoice: 'keep' | 'none' | 'add' =
    given.keys ?? (Array.isArray(cfg.keys) && cfg.keys.length ? 'keep' : 'none');
  let hmacKey: string | undefined;
  // The local host's port is chosen now, so the board can be configured before anything is served.
  const serve = ctl.context.workspaceState.get<{ host: string; port: number }>(STATE.serve) ??
    listenPlan(typeof cfg.url === 'string' ? cfg.url : undefined) ?? {
      host: '127.0.0.1',
      port: await freePort(),
    };

  const order = (): StepId[] => {
    const steps: StepId[] = [];
    const ask = (id: StepId, key?: keyof ConfigureAnswers) => {
      if (!key || given[key] === undefined) steps.push(id);
    };
    ask('source', 'source');
    if (cfg.source === 'static') ask('host', 'url');
    else if (cfg.source === 'oci') {
      ask('ref', 'ref');
      ask('channel', 'channel');
      if (cfg.channel === 'tag') ask('tag', 'tag');
    } else {
      ask('repo', 'repo');
      ask('api', 'api');
      // Channels are GitHub's: a static host has one latest.json, so boards follow it.
      ask('channel', 'channel');
      if (cfg.channel === 'tag') ask('tag', 'tag');
      if (cfg.channel === 'developer') {
        ask('branch', 'branch');
        ask('paths', 'paths');
      }
    }
    ask('keys', 'keys');
    ask('wifi', 'wifi');
    if (!given.save) steps.push('review');
    return steps;
  };

  const steps: Record<StepId, (step: number, total: number) => Promise<unknown>> = {
    source: async (step, total) => {
      const items: Item[] = [
        {
          value: 'static',
          label: 'Static host',
          description: 'any HTTP(S) server, or this computer',
          detail:
            'Publish Release writes a folder; serve it with Serve Releases Locally, or upload it anywhere.',
        },
        {
          value: 'github',
          label: 'GitHub Releases',
          description: 'owner/name',
          detail: 'Publish Release creates a GitHub release; boards download its assets.',
        },
        {
          value: 'oci',
          label: 'OCI registry',
          description: 'ghcr.io, Harbor, Docker Hub',
          detail: 'Publish Release pushes an artifact; boards pull its blobs by digest.',
        },
      ];
      const r = await pickStep({
        title: 'Where do releases come from?',
        step,
        total,
        placeholder: 'Release host',
        items,
        active: items.find((i) => i.value === cfg.source),
      });
      if (r === BACK) return r;
      if (r.value !== cfg.source) {
        cfg.source = r.value;
        delete cfg.channel;
      }
    },
    host: async (step, total) => {
      const local = boardUrl('127.0.0.1', serve.port);
      const lan = lanAddress();
      const served = ctl.served()?.url;
      const items: Item[] = [];
      if (served)
        items.push({
          value: served,
          label: 'Served now',
          description: served,
          detail: 'Serve Releases Locally is running',
        });
      if (served !== local)
        items.push({
          value: local,
          label: 'This computer, for the virtual board',
          description: local,
          detail: 'Serve Releases Locally serves the published folder here',
        });
      if (lan)
        items.push({
          value: `http://${lan}:${serve.port}`,
          label: 'This computer, for a board on Wi-Fi',
          description: `http://${lan}:${serve.port}`,
          detail: 'Serve Releases Locally listens on your network',
        });
      if (typeof cfg.url === 'string' && !items.some((i) => i.value === cfg.url))
        items.push({ value: cfg.url, label: 'Current', description: cfg.url });
      items.push({ value: '', label: 'Another host…', description: 'e.g. https://example.com/releases' });
      const r = await pickStep({
        title: 'Where are the releases served?',
        step,
        total,
        placeholder: 'Base URL that holds latest.json',
        items,
        active: items.find((i) => i.value === cfg.url) ?? items[0],
      });
      if (r === BACK) return r;
      if (r.value) {
        cfg.url = r.value;
        const plan = listenPlan(r.value);
        if (plan) await ctl.context.workspaceState.update(STATE.serve, plan);
        return;
      }
      const url = await inputStep({
        title: 'Base URL of the release host',
        step,
        total,
        value: typeof cfg.url === 'string' ? cfg.url : '',
        prompt: 'Where latest.json and the version folders are served',
        placeholder: 'https://example.com/releases',
        validate: validUrl,
      });
      if (url === BACK) return BACK;
      cfg.url = url.replace(/\/+$/, '');
    },
    ref: async (step, total) => {
      const { parseRef } = await import('../../core/publish/oci');
      const r = await inputStep({
        title: 'OCI repository (host/repository)',
        step,
        total,
        value: typeof cfg.ref === 'string' ? cfg.ref : '',
        prompt: 'Where Publish Release pushes and the board pulls; a public repository needs no credentials',
        placeholder: 'e.g. ghcr.io/octocat/weather-station',
        validate: (v) => {
          try {
            parseRef(v);
            return undefined;
          } catch (err) {
            return (err as Error).message;
          }
        },
      });
      if (r === BACK) return r;
      cfg.ref = r;
    },
    repo: async (step, total) => {
      const r = await inputStep({
        title: 'GitHub repository (owner/name)',
        step,
        total,
        value: typeof cfg.repo === 'string' ? cfg.repo : '',
        prompt: 'The repository that holds the releases',
        placeholder: 'e.g. octocat/weather-station',
        validate: (v) => (REPO.test(v) ? undefined : 'owner/name, e.g. octocat/weather-station'),
      });
      if (r === BACK) return r;
      cfg.repo = r;
    },
    api: async (step, total) => {
      const current = typeof cfg.api === 'string' ? cfg.api : settings.apiUrl;
      const items: Item[] = [
        { value: 'https://api.github.com', label: 'github.com', description: 'https://api.github.com' },
      ];
      if (current !== 'https://api.github.com')
        items.push({ value: current, label: 'Current', description: current });
      items.push({
        value: '',
        label: 'GitHub Enterprise Server…',
        description: 'e.g. https://github.example.com/api/v3',
      });
      const r = await pickStep({
        title: 'Which GitHub?',
        step,
        total,
        placeholder: 'REST API of the GitHub that hosts the repository',
        items,
        active: items.find((i) => i.value === current),
      });
      if (r === BACK) return r;
      let api = r.value;
      if (!api) {
        const typed = await inputStep({
          title: 'GitHub API URL',
          step,
          total,
          value: '',
          prompt: 'GitHub Enterprise Server REST API root',
          placeholder: 'https://github.example.com/api/v3',
          validate: validUrl,
        });
        if (typed === BACK) return BACK;
        api = typed.replace(/\/+$/, '');
      }
      if (api === 'https://api.github.com') delete cfg.api;
      else cfg.api = api;
    },
    channel: async (step, total) => {
      const items: Item[] = [
        { value: 'stable', label: 'stable', description: 'the latest release' },
        { value: 'beta', label: 'beta', description: 'the newest prerelease' },
        { value: 'developer', label: 'developer', description: 'the tip of a branch, unsigned' },
        { value: 'tag', label: 'tag', description: 'one pinned release, e.g. v1.0.0' },
      ].filter((i) => cfg.source !== 'oci' || i.value !== 'developer'); // a registry has no branches
      const r = await pickStep({
        title: 'Which releases should the board follow?',
        step,
        total,
        placeholder: 'Channel',
        items,
        active: items.find((i) => i.value === (cfg.channel ?? 'stable')),
      });
      if (r === BACK) return r;
      cfg.channel = r.value;
      if (r.value !== 'tag') delete cfg.tag;
      if (r.value !== 'developer') {
        delete cfg.branch;
        delete cfg.paths;
      }
    },
    tag: async (step, total) => {
      const r = await inputStep({
        title: 'Release tag to pin',
        step,
        total,
        value: typeof cfg.tag === 'string' ? cfg.tag : '',
        prompt: 'The board installs this release and stays on it',
        placeholder: 'e.g. v1.0.0',
        validate: (v) => (v ? undefined : 'A tag, e.g. v1.0.0'),
      });
      if (r === BACK) return r;
      cfg.tag = r;
    },
    branch: async (step, total) => {
      const r = await inputStep({
        title: 'Branch to follow',
        step,
        total,
        value: typeof cfg.branch === 'string' ? cfg.branch : settings.branch,
        prompt: 'The board installs the files at the tip of this branch',
        placeholder: 'e.g. main',
        validate: (v) => (v ? undefined : 'A branch name, e.g. main'),
      });
      if (r === BACK) return r;
      cfg.branch = r;
    },
    paths: async (step, total) => {
      const r = await inputStep({
        title: 'Paths the updater owns',
        step,
        total,
        value: Array.isArray(cfg.paths) ? cfg.paths.join(', ') : '',
        prompt: 'Comma-separated path prefixes; empty: every file of the branch',
        placeholder: 'e.g. main.py, lib/',
      });
      if (r === BACK) return r;
      const paths = r
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      if (paths.length) cfg.paths = paths;
      else delete cfg.paths;
    },
    keys: async (step, total) => {
      const n = Array.isArray(cfg.keys) ? cfg.keys.length : 0;
      const items: Item[] = [
        ...(n ? [{ value: 'keep', label: 'Keep', description: `trust the ${n} key(s) already listed` }] : []),
        { value: 'none', label: 'No signatures', description: 'the board accepts unsigned releases' },
        { value: 'add', label: 'Add a key file…', description: 'a key from `ota keygen`' },
      ];
      const r = await pickStep({
        title: 'Signed releases?',
        step,
        total,
        placeholder: 'Which signatures the board requires',
        items,
        active: items.find((i) => i.value === keysChoice),
      });
      if (r === BACK) return r;
      keysChoice = r.value as typeof keysChoice;
      if (keysChoice === 'add') await addKey();
    },
    wifi: async (step, total) => {
      const items: Item[] = [
        {
          value: 'unchanged',
          label: 'Unchanged',
          description: 'keep what is stored (or let the board connect itself)',
        },
        {
          value: 'none',
          label: 'None',
          description: 'the board connects itself (e.g. in boot.py), or it is the virtual board',
        },
        {
          value: 'set',
          label: 'Set Wi-Fi…',
          description: 'kept in VS Code secret storage, sent to the board at install only',
        },
      ];
      const r = await pickStep({
        title: 'Wi-Fi for the board',
        step,
        total,
        placeholder: 'Network the board joins before checking',
        items,
        active: items[0],
      });
      if (r === BACK) return r;
      if (r.value === 'unchanged') wifi = 'unchanged';
      else if (r.value === 'none') wifi = null;
      else {
        const ssid = await inputStep({
          title: 'Wi-Fi network name (SSID)',
          step,
          total,
          value: '',
          prompt: 'The network the board joins',
          placeholder: 'e.g. workshop-2g',
          validate: (v) => (v ? undefined : 'The network name'),
        });
        if (ssid === BACK) return BACK;
        const password = await inputStep({
          title: 'Wi-Fi password',
          step,
          total,
          value: '',
          prompt: `Password of ${ssid}`,
          password: true,
        });
        if (password === BACK) return BACK;
        wifi = { ssid, password };
        ctl.redactor.add(password);
      }
    },
    review: async (step, total) => {
      const preview = finalConfig();
      const rows: (Item & { edit?: StepId })[] = Object.entries(preview).map(([k, v]) => ({
        value: k,
        label: k,
        description: JSON.stringify(v),
        edit: editStepFor(k),
      }));
      rows.push({
        value: 'wifi',
        label: 'wifi',
        description:
          wifi === 'unchanged' ? '(unchanged)' : wifi ? `${wifi.ssid} (password in secret storage)` : 'none',
        edit: 'wifi',
      });
      const save: Item = {
        value: 'save',
        label: '$(check) Save',
        description: 'Install Updater writes it to the board',
        detail: JSON.stringify(preview),
      };
      const items = [
        save,
        { value: '', label: 'ota_config.json', kind: vscode.QuickPickItemKind.Separator },
        ...rows,
      ];
      const r = await pickStep({
        title: 'Save this configuration?',
        step,
        total,
        placeholder: 'Pick a line to change it, or Save',
        items,
        active: save,
      });
      if (r === BACK) return r;
      if (r.value !== 'save') return { jump: (r as { edit?: StepId }).edit };
    },
  };

  function editStepFor(key: string): StepId {
    if (key === 'url') return 'host';
    if (key === 'ref') return 'ref';
    if (
      key === 'api' ||
      key === 'repo' ||
      key === 'channel' ||
      key === 'tag' ||
      key === 'branch' ||
      key === 'paths'
    )
      return key;
    if (key === 'keys') return 'keys';
    return 'source';
  }

  function finalConfig(): OtaConfig {
    const out: OtaConfig = { ...cfg };
    delete out.wifi; // never stored with the rest: secret storage only
    if (out.source === 'static') {
      for (const k of ['ref', 'repo', 'api', 'channel', 'tag', 'branch', 'paths']) delete out[k];
    } else if (out.source === 'oci') {
      for (const k of ['url', 'repo', 'api', 'branch', 'paths']) delete out[k];
      out.channel ??= 'stable';
    } else {
      delete out.ref;
      delete out.url;
      out.channel ??= 'stable';
    }
    if (keysChoice === 'none') delete out.keys;
    return out;
  }

  async function addKey(): Promise<void> {
    const files = await vscode.window.showOpenDialog({
      title: 'Signing key file',
      canSelectMany: false,
      filters: { 'Key file': ['json'] },
    });
    if (!files?.[0]) {
      keysChoice = Array.isArray(cfg.keys) && cfg.keys.length ? 'keep' : 'none';
      return;
    }
    const { deviceTrustEntry } = await import('../../core/keys');
    const entry = await deviceTrustEntry(files[0].fsPath);
    if (entry.alg === 'hmac-sha256') {
      hmacKey = files[0].fsPath; // the secret is the trust entry itself: added on the board at install
      keysChoice = Array.isArray(cfg.keys) && cfg.keys.length ? 'keep' : 'none';
      return;
    }
    const keys = Array.isArray(cfg.keys) ? (cfg.keys as { id?: string }[]) : [];
    cfg.keys = [...keys.filter((k) => k.id !== entry.id), entry];
    keysChoice = 'keep';
  }

  let i = 0;
  for (;;) {
    const list = order();
    if (i >= list.length) break;
    const r = await steps[list[i]](i + 1, list.length);
    if (r === BACK) i = Math.max(0, i - 1);
    else if (r && typeof r === 'object' && 'jump' in r) {
      const at = order().indexOf((r as { jump: StepId }).jump);
      i = at >= 0 ? at : i;
    } else i++;
  }

  const result = finalConfig();
  const { validateOtaConfig } = await import('../../core/config');
  const problems = validateOtaConfig(result);
  if (problems.length)
    throw new OtaError('bad_config', `The configuration is not valid: ${problems.join('; ')}`);
  await ctl.setDeviceConfig(result);
  if (hmacKey)
    await vscode.workspace
      .getConfiguration('ota')
      .update('signingKey', hmacKey, vscode.ConfigurationTarget.Workspace);
  if (wifi === null) await ctl.context.secrets.delete(WIFI_KEY);
  else if (wifi !== 'unchanged' && wifi) await ctl.context.secrets.store(WIFI_KEY, JSON.stringify(wifi));
  ctl.output.info(`Device configuration saved for this workspace: ${JSON.stringify(result)}`);
  const where =
    result.source === 'static'
      ? String(result.url)
      : `${String(result.source === 'oci' ? result.ref : result.repo)} (${String(result.channel)})`;
  const local = result.source === 'static' && listenPlan(String(result.url)) && !ctl.served();
  const buttons = ['Install Updater', ...(local ? ['Serve Releases Locally'] : [])];
  void vscode.window
    .showInformationMessage(
      `Boards will update from ${where}. Next: install the updater on the board.`,
      ...buttons,
    )
    .then((b) => {
      if (b === 'Install Updater') void vscode.commands.executeCommand('ota.installUpdater');
      if (b === 'Serve Releases Locally') void vscode.commands.executeCommand('ota.serveReleases');
    });
  return result;
}
