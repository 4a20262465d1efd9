// "Configure Device": a guided multi-step quick input (step counter, Back, example values, only the
// choices that fit the chosen source, the result previewed) that builds the board's ota_config.json.
// It is kept in workspace state, never as a file in the project, so it cannot end up in a release;
// Install Updater writes it to the board. Wi-Fi credentials, the fleet broker's password and a
// private OCI registry's password live in secret storage and reach the board only at install; a key
// file picked to sign with (HMAC, Ed25519, RSA) is referenced by path (ota.signingKey, in the user's
// settings as a new key is: signing-key.ts), never copied, and a new key is written only at Save.
// The questions are a table of steps, asked by one function; the table also gives the review its
// extra lines (secrets, Wi-Fi, the signing key) and where each line jumps to.
import { createServer } from 'node:net';
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { bindApp, registryPasswordProblem } from '../../core/board-config';
import { brokerUrlProblem } from '../../core/fleet/protocol';
import { parseRef } from '../../core/publish/oci';
import { boardFileProblem } from '../../core/serial/install';
import { boardUrl, lanAddress, listenPlan } from '../../core/local-host';
import { ROOTS_PATH } from '../../core/tls-roots';
import type { Controller } from '../controller';
import { BACK, inputStep, pickStep } from '../quick-steps';
import { STATE } from '../settings';
import type { PlannedKey } from './signing-key';

const WIFI_KEY = 'ota.wifi';
const FLEET_KEY = 'ota.fleetPassword';
const REGISTRY_KEY = 'ota.registryPassword';
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

export type OtaConfig = Record<string, unknown>;

/** Answers given up front skip their steps (tests, other commands). */
export interface ConfigureAnswers {
  source?: 'github' | 'static' | 'oci';
  /** oci: host/repository[:tag]. */
  ref?: string;
  /** oci: null for a public repository (anonymous pull); the password goes to secret storage. */
  registry?: { user?: string; password?: string } | null;
  repo?: string;
  api?: string;
  url?: string;
  channel?: 'stable' | 'beta' | 'developer' | 'tag';
  tag?: string;
  branch?: string;
  paths?: string[];
  /** A new signing key by this name (written at Save), or a key file to trust (and sign with, when private). */
  keys?: 'keep' | 'none' | { create: string } | { file: string };
  wifi?: { ssid: string; password: string } | null;
  /** The fleet section (null: none); its password goes to secret storage, not the configuration. */
  fleet?: {
    broker: string;
    name: string;
    group?: string;
    user?: string;
    password?: string;
    tls?: { ca?: string; insecure?: boolean };
  } | null;
  /** true: save without the review step. */
  save?: boolean;
}

/** The fleet broker's password for the board, from secret storage (undefined: none). */
export async function fleetPasswordFor(ctl: Controller): Promise<string | undefined> {
  const password = await ctl.context.secrets.get(FLEET_KEY);
  if (password) ctl.redactor.add(password);
  return password;
}

/** A private OCI registry's password (or token) for the board, from secret storage (undefined: none). */
export async function registryPasswordFor(ctl: Controller): Promise<string | undefined> {
  const password = await ctl.context.secrets.get(REGISTRY_KEY);
  if (password) ctl.redactor.add(password);
  return password;
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
  | 'access'
  | 'registryUser'
  | 'registryPassword'
  | 'repo'
  | 'api'
  | 'channel'
  | 'tag'
  | 'branch'
  | 'paths'
  | 'keys'
  | 'wifi'
  | 'fleet'
  | 'broker'
  | 'fleetName'
  | 'group'
  | 'brokerUser'
  | 'brokerTrust'
  | 'brokerCa'
  | 'brokerPassword'
  | 'review';

interface Item extends vscode.QuickPickItem {
  value: string;
}

type Result = unknown; // undefined: next step; BACK; { jump: StepId } from the review
/** A line of the review for what the configuration preview does not show (secrets, Wi-Fi). */
interface ReviewRow {
  label: string;
  description: string;
  /** The step that changes it (default: the step that carries the row). */
  edit?: StepId;
}
/** What every step may carry for the review: the config keys it sets (a line for one of them jumps
 * to it), and a line of its own. */
interface ReviewPart {
  edits?: string[];
  row?: (preview: OtaConfig) => ReviewRow | undefined;
}
/** One question: a pick from items, or a typed value. `apply` may ask follow-ups (their Back returns BACK). */
type Step = ReviewPart &
  (
    | {
        kind: 'pick';
        title: string;
        placeholder: string;
        items: () => Item[];
        active?: (items: Item[]) => Item | undefined;
        apply: (item: Item, step: number, total: number) => Result | Promise<Result>;
      }
    | {
        kind: 'input';
        title: string;
        prompt: string | (() => string);
        placeholder?: string;
        password?: boolean;
        value: () => string;
        validate?: (v: string) => string | undefined;
        apply: (v: string) => void | Promise<void>;
      }
    | { kind: 'run'; run: (step: number, total: number) => Promise<Result> }
  );

async function ask(s: Step, step: number, total: number): Promise<Result> {
  if (s.kind === 'run') return s.run(step, total);
  if (s.kind === 'pick') {
    const items = s.items();
    const r = await pickStep({
      title: s.title,
      step,
      total,
      placeholder: s.placeholder,
      items,
      active: s.active?.(items) ?? items[0],
    });
    return r === BACK ? r : s.apply(r, step, total);
  }
  const r = await inputStep({
    title: s.title,
    step,
    total,
    value: s.value(),
    prompt: typeof s.prompt === 'string' ? s.prompt : s.prompt(),
    placeholder: s.placeholder,
    password: s.password,
    validate: s.validate,
  });
  return r === BACK ? r : s.apply(r);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export async function configureDevice(ctl: Controller, answers?: unknown): Promise<OtaConfig> {
  const given = (answers && typeof answers === 'object' ? answers : {}) as ConfigureAnswers;
  const settings = ctl.settings();
  const previous = ctl.deviceConfig() ?? {};
  const cfg: OtaConfig = { ...previous };
  for (const [k, v] of Object.entries(given))
    if (k !== 'keys' && k !== 'wifi' && k !== 'save' && k !== 'fleet' && k !== 'registry') cfg[k] = v;
  cfg.source ??= settings.source;
  if (!cfg.url && settings.staticUrl) cfg.url = settings.staticUrl;
  if (!cfg.repo && settings.repo) cfg.repo = settings.repo;
  if (!cfg.ref && settings.ociRef) cfg.ref = settings.ociRef;
  let wifi: ConfigureAnswers['wifi'] | 'unchanged' = given.wifi === undefined ? 'unchanged' : given.wifi;
  let keysChoice: 'keep' | 'none' | 'add' =
    typeof given.keys === 'string'
      ? given.keys
      : Array.isArray(cfg.keys) && cfg.keys.length
        ? 'keep'
        : 'none';
  // Signing, decided in the keys step and done only at Save: a new key to write, or a key file the
  // user picked, for ota.signingKey; a public key alone the board trusts but cannot sign with.
  let newKey: PlannedKey | undefined;
  let signWith: { path: string; id: string; hmac: boolean } | undefined;
  let publicOnly: { path: string; id: string } | undefined;
  // The fleet section being built; its password goes to secret storage, never into `cfg`.
  const { password: givenPassword, ...givenFleet } = given.fleet ?? {};
  let fleet: Record<string, unknown> | null =
    given.fleet === null
      ? null
      : given.fleet
        ? { ...givenFleet }
        : cfg.fleet && typeof cfg.fleet === 'object'
          ? { ...(cfg.fleet as Record<string, unknown>) }
          : null;
  delete cfg.fleet;
  const storedPassword = await ctl.context.secrets.get(FLEET_KEY);
  let fleetPassword: string | undefined = givenPassword ?? storedPassword;
  // A private registry's user stays in the configuration; its password only in secret storage.
  delete cfg.password;
  delete cfg.token;
  const storedRegistryPassword = await ctl.context.secrets.get(REGISTRY_KEY);
  let registryPassword: string | undefined = given.registry?.password ?? storedRegistryPassword;
  let registryPrivate =
    given.registry === undefined ? Boolean(cfg.user || storedRegistryPassword) : given.registry !== null;
  if (given.registry?.user) cfg.user = given.registry.user;
  else if (given.registry) delete cfg.user;
  if (registryPassword) ctl.redactor.add(registryPassword);
  // The local host's port is chosen now, so the board can be configured before anything is served.
  const serve = ctl.context.workspaceState.get<{ host: string; port: number }>(STATE.serve) ??
    listenPlan(typeof cfg.url === 'string' ? cfg.url : undefined) ?? {
      host: '127.0.0.1',
      port: await freePort(),
    };
  const brokerTls = () => str(fleet?.broker).startsWith('mqtts://');
  const tlsOf = () => (fleet?.tls ?? {}) as { ca?: string; insecure?: boolean };
  const insecure = () => Boolean(tlsOf().insecure);
  // How the board trusts the broker; with a CA file of the user's own, its path is the next step.
  let trust: 'roots' | 'file' | 'insecure' = insecure()
    ? 'insecure'
    : tlsOf().ca && tlsOf().ca !== ROOTS_PATH
      ? 'file'
      : 'roots';
  const SECRET = 'Kept in VS Code secret storage, sent to the board at install only';
  /** A password that goes to secret storage: empty keeps the one stored before this run. */
  const secretStep = (
    title: string,
    hint: string,
    stored: string | undefined,
    set: (v: string | undefined) => void,
    validate?: (v: string) => string | undefined,
  ): Step => ({
    kind: 'input',
    title,
    value: () => '',
    prompt: `${hint}${SECRET}. Empty: ${stored ? 'keep the stored one' : 'none'}`,
    password: true,
    validate,
    apply: (v) => {
      if (v) ctl.redactor.add(v);
      set(v || stored);
    },
  });

  const order = (): StepId[] => {
    const steps: StepId[] = [];
    const want = (id: StepId, key?: keyof ConfigureAnswers) => {
      if (!key || given[key] === undefined) steps.push(id);
    };
    want('source', 'source');
    if (cfg.source === 'static') want('host', 'url');
    else if (cfg.source === 'oci') {
      want('ref', 'ref');
      if (given.registry === undefined) {
        steps.push('access');
        if (registryPrivate) steps.push('registryUser', 'registryPassword');
      }
      want('channel', 'channel');
      if (cfg.channel === 'tag') want('tag', 'tag');
    } else {
      want('repo', 'repo');
      want('api', 'api');
      // Channels are GitHub's: a static host has one latest.json, so boards follow it.
      want('channel', 'channel');
      if (cfg.channel === 'tag') want('tag', 'tag');
      if (cfg.channel === 'developer') {
        want('branch', 'branch');
        want('paths', 'paths');
      }
    }
    want('keys', 'keys');
    want('wifi', 'wifi');
    if (given.fleet === undefined) {
      steps.push('fleet');
      if (fleet) {
        steps.push('broker', 'fleetName', 'group', 'brokerUser');
        // The board sends a password only over verified TLS (device/ota/fleetdoc.py ssl_context).
        if (brokerTls()) steps.push('brokerTrust');
        if (brokerTls() && trust === 'file') steps.push('brokerCa');
        if (brokerTls() && !insecure()) steps.push('brokerPassword');
      }
    }
    if (!given.save) steps.push('review');
    return steps;
  };

  const steps: Record<StepId, Step> = {
    source: {
      kind: 'pick',
      title: 'Where do releases come from?',
      placeholder: 'Release host',
      items: () => [
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
      ],
      active: (items) => items.find((i) => i.value === cfg.source),
      apply: (r) => {
        if (r.value !== cfg.source) {
          cfg.source = r.value;
          delete cfg.channel;
        }
      },
    },
    host: {
      kind: 'pick',
      edits: ['url'],
      title: 'Where are the releases served?',
      placeholder: 'Base URL that holds latest.json',
      items: () => {
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
        return items;
      },
      active: (items) => items.find((i) => i.value === cfg.url),
      apply: async (r, step, total) => {
        if (r.value) {
          cfg.url = r.value;
          const plan = listenPlan(r.value);
          if (plan) await ctl.context.workspaceState.update(STATE.serve, plan);
          return;
        }
        return ask(
          {
            kind: 'input',
            title: 'Base URL of the release host',
            value: () => str(cfg.url),
            prompt: 'Where latest.json and the version folders are served',
            placeholder: 'https://example.com/releases',
            validate: validUrl,
            apply: (url) => void (cfg.url = url.replace(/\/+$/, '')),
          },
          step,
          total,
        );
      },
    },
    ref: {
      kind: 'input',
      edits: ['ref'],
      title: 'OCI repository (host/repository)',
      value: () => str(cfg.ref),
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
      apply: (v) => void (cfg.ref = v),
    },
    access: {
      kind: 'pick',
      title: 'Who may pull from the repository?',
      placeholder: 'What the board needs to read it',
      items: () => [
        {
          value: 'public',
          label: 'Public',
          description: 'anonymous pull, no credentials on the board',
          detail: 'Public ghcr.io packages, open Harbor projects, Docker Hub public repositories',
        },
        {
          value: 'private',
          label: 'Private…',
          description: registryPasswordProblem(cfg.ref)
            ? 'needs an https:// registry: the board sends a password over verified TLS only'
            : 'a user and a password or token',
          detail: 'The password is kept in VS Code secret storage and sent to the board at install only',
        },
      ],
      active: (items) => items.find((i) => i.value === (registryPrivate ? 'private' : 'public')),
      apply: (r) => void (registryPrivate = r.value === 'private'),
      row: (preview) =>
        preview.source !== 'oci'
          ? undefined
          : {
              label: 'password',
              description: !registryPrivate
                ? '(public repository: none)'
                : registryPassword
                  ? '(in secret storage, sent to the board at install)'
                  : '(none)',
              edit: registryPrivate ? 'registryPassword' : 'access',
            },
    },
    registryUser: {
      kind: 'input',
      edits: ['user'],
      title: 'Registry user name',
      value: () => str(cfg.user),
      prompt: 'The account the board pulls with (ghcr.io takes any name with a token). Empty: "ota"',
      placeholder: 'e.g. octocat',
      apply: (v) => {
        if (v) cfg.user = v;
        else delete cfg.user;
      },
    },
    registryPassword: secretStep(
      'Registry password or token',
      'Read access is enough (ghcr.io: a token with read:packages). ',
      storedRegistryPassword,
      (v) => void (registryPassword = v),
      (v) => (v ? registryPasswordProblem(cfg.ref) : undefined),
    ),
    repo: {
      kind: 'input',
      edits: ['repo'],
      title: 'GitHub repository (owner/name)',
      value: () => str(cfg.repo),
      prompt: 'The repository that holds the releases',
      placeholder: 'e.g. octocat/weather-station',
      validate: (v) => (REPO.test(v) ? undefined : 'owner/name, e.g. octocat/weather-station'),
      apply: (v) => void (cfg.repo = v),
    },
    api: {
      kind: 'pick',
      edits: ['api'],
      title: 'Which GitHub?',
      placeholder: 'REST API of the GitHub that hosts the repository',
      items: () => {
        const current = str(cfg.api) || settings.apiUrl;
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
        return items;
      },
      active: (items) => items.find((i) => i.value === (str(cfg.api) || settings.apiUrl)),
      apply: async (r, step, total) => {
        const set = (api: string) => {
          if (api === 'https://api.github.com') delete cfg.api;
          else cfg.api = api;
        };
        if (r.value) return set(r.value);
        return ask(
          {
            kind: 'input',
            title: 'GitHub API URL',
            value: () => '',
            prompt: 'GitHub Enterprise Server REST API root',
            placeholder: 'https://github.example.com/api/v3',
            validate: validUrl,
            apply: (typed) => set(typed.replace(/\/+$/, '')),
          },
          step,
          total,
        );
      },
    },
    channel: {
      kind: 'pick',
      edits: ['channel'],
      title: 'Which releases should the board follow?',
      placeholder: 'Channel',
      items: () =>
        [
          { value: 'stable', label: 'stable', description: 'the latest release' },
          { value: 'beta', label: 'beta', description: 'the newest prerelease' },
          { value: 'developer', label: 'developer', description: 'the tip of a branch, unsigned' },
          { value: 'tag', label: 'tag', description: 'one pinned release, e.g. v1.0.0' },
        ].filter((i) => cfg.source !== 'oci' || i.value !== 'developer'), // a registry has no branches
      active: (items) => items.find((i) => i.value === (cfg.channel ?? 'stable')),
      apply: (r) => {
        cfg.channel = r.value;
        if (r.value !== 'tag') delete cfg.tag;
        if (r.value !== 'developer') {
          delete cfg.branch;
          delete cfg.paths;
        }
      },
    },
    tag: {
      kind: 'input',
      edits: ['tag'],
      title: 'Release tag to pin',
      value: () => str(cfg.tag),
      prompt: 'The board installs this release and stays on it',
      placeholder: 'e.g. v1.0.0',
      validate: (v) => (v ? undefined : 'A tag, e.g. v1.0.0'),
      apply: (v) => void (cfg.tag = v),
    },
    branch: {
      kind: 'input',
      edits: ['branch'],
      title: 'Branch to follow',
      value: () => str(cfg.branch) || settings.branch,
      prompt: 'The board installs the files at the tip of this branch',
      placeholder: 'e.g. main',
      validate: (v) => (v ? undefined : 'A branch name, e.g. main'),
      apply: (v) => void (cfg.branch = v),
    },
    paths: {
      kind: 'input',
      edits: ['paths'],
      title: 'Paths the updater owns',
      value: () => (Array.isArray(cfg.paths) ? cfg.paths.join(', ') : ''),
      prompt: 'Comma-separated path prefixes; empty: every file of the branch',
      placeholder: 'e.g. main.py, lib/',
      apply: (v) => {
        const paths = v
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
        if (paths.length) cfg.paths = paths;
        else delete cfg.paths;
      },
    },
    keys: {
      kind: 'pick',
      edits: ['keys'],
      row: (preview) => {
        const trusted = (id: string) =>
          Array.isArray(preview.keys) && (preview.keys as { id?: string }[]).some((k) => k.id === id);
        if (newKey && trusted(newKey.entry.id))
          return {
            label: 'signing key',
            description: `new Ed25519 key ${newKey.entry.id}, written to ${newKey.path} at Save; ota.signingKey will name it`,
          };
        if (signWith)
          return {
            label: 'signing key',
            description: `${signWith.path} (${signWith.id}); ota.signingKey will name it at Save`,
          };
        if (publicOnly && trusted(publicOnly.id))
          return {
            label: 'signing key',
            description: `${publicOnly.id} is a public key: publishing needs its private key file in ota.signingKey`,
          };
        return undefined;
      },
      title: 'Signed releases?',
      placeholder: 'Which signatures the board requires',
      items: () => {
        const n = Array.isArray(cfg.keys) ? cfg.keys.length : 0;
        return [
          ...(n
            ? [{ value: 'keep', label: 'Keep', description: `trust the ${n} key(s) already listed` }]
            : []),
          { value: 'none', label: 'No signatures', description: 'the board accepts unsigned releases' },
          {
            value: 'create',
            label: 'Create a new signing key…',
            description: 'Ed25519, saved outside the workspace (~/.config/micropython-ota/keys/)',
            detail:
              'Publish Release signs with it (ota.signingKey); the board trusts only releases it signed',
          },
          {
            value: 'add',
            label: 'Add a key file…',
            description: 'a key from `ota keygen`, or the public entry it printed',
          },
        ];
      },
      active: (items) => items.find((i) => i.value === keysChoice),
      apply: async (r, step, total) => {
        if (r.value === 'create')
          return (await createKey(undefined, step, total)) === BACK ? { jump: 'keys' } : undefined;
        keysChoice = r.value as typeof keysChoice;
        if (keysChoice === 'add') await addKey();
      },
    },
    wifi: {
      kind: 'pick',
      title: 'Wi-Fi for the board',
      row: () => ({
        label: 'wifi',
        description:
          wifi === 'unchanged' ? '(unchanged)' : wifi ? `${wifi.ssid} (password in secret storage)` : 'none',
      }),
      placeholder: 'Network the board joins before checking',
      items: () => [
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
      ],
      apply: async (r, step, total) => {
        if (r.value === 'unchanged') wifi = 'unchanged';
        else if (r.value === 'none') wifi = null;
        else {
          let ssid = '';
          const named = await ask(
            {
              kind: 'input',
              title: 'Wi-Fi network name (SSID)',
              value: () => '',
              prompt: 'The network the board joins',
              placeholder: 'e.g. workshop-2g',
              validate: (v) => (v ? undefined : 'The network name'),
              apply: (v) => void (ssid = v),
            },
            step,
            total,
          );
          if (named === BACK) return BACK;
          return ask(
            {
              kind: 'input',
              title: 'Wi-Fi password',
              value: () => '',
              prompt: `Password of ${ssid}`,
              password: true,
              apply: (password) => {
                wifi = { ssid, password };
                ctl.redactor.add(password);
              },
            },
            step,
            total,
          );
        }
      },
    },
    fleet: {
      kind: 'pick',
      edits: ['fleet'],
      title: 'Fleet for the board',
      placeholder: 'Whether the board reports to an MQTT broker (the Fleet view, staged rollouts)',
      items: () => [
        { value: 'none', label: 'No fleet', description: 'the board updates on its own and reports nowhere' },
        {
          value: 'set',
          label: fleet ? `Fleet ${str(fleet.name)} on ${str(fleet.broker)}` : 'Report to an MQTT broker…',
          description: 'status, events, signed commands and staged rollouts',
          detail: 'Any MQTT 3.1.1 broker (mosquitto, EMQX, HiveMQ…); the password is sent to the board only',
        },
      ],
      active: (items) => items.find((i) => i.value === (fleet ? 'set' : 'none')),
      apply: (r) => void (fleet = r.value === 'set' ? (fleet ?? {}) : null),
    },
    broker: {
      kind: 'input',
      title: 'MQTT broker',
      value: () => str(fleet?.broker),
      prompt: 'mqtt://host:port, or mqtts://host:port for TLS (needed for a password)',
      placeholder: 'e.g. mqtts://broker.example.com:8883',
      validate: brokerUrlProblem,
      apply: (v) => void (fleet = { ...fleet, broker: v }),
    },
    fleetName: {
      kind: 'input',
      title: 'Fleet name',
      value: () => str(fleet?.name),
      prompt: 'Topics go under ota/<name>/; every board of the fleet uses the same name',
      placeholder: 'e.g. greenhouse',
      validate: (v) => (NAME.test(v) ? undefined : 'Letters, digits, . _ - (1 to 64), e.g. greenhouse'),
      apply: (v) => void (fleet = { ...fleet, name: v }),
    },
    group: {
      kind: 'input',
      title: 'Group of this board (optional)',
      value: () => str(fleet?.group),
      prompt: 'Rollouts can target groups; the Fleet view counts per group. Empty: no group',
      placeholder: 'e.g. north',
      validate: (v) => (!v || NAME.test(v) ? undefined : 'Letters, digits, . _ - (1 to 64), e.g. north'),
      apply: (v) => void (fleet = { ...fleet, group: v || undefined }),
    },
    brokerUser: {
      kind: 'input',
      title: 'Broker user name (optional)',
      value: () => str(fleet?.user),
      prompt: 'The account the board logs in with. Empty: anonymous',
      placeholder: 'e.g. greenhouse-boards',
      apply: (v) => void (fleet = { ...fleet, user: v || undefined }),
    },
    brokerTrust: {
      kind: 'pick',
      title: 'How does the board trust the broker?',
      placeholder: 'mqtts: the board verifies the certificate before it sends anything',
      items: () => [
        {
          value: ROOTS_PATH,
          label: 'Public CA roots',
          description: `${ROOTS_PATH}, installed with the updater`,
          detail: "A broker with a certificate from a public authority (e.g. Let's Encrypt)",
        },
        {
          value: 'file',
          label: 'A CA file on the board…',
          description: 'your own CA, shipped in the project, e.g. certs/broker-ca.pem',
        },
        {
          value: 'insecure',
          label: 'Do not verify',
          description: 'encrypted but unauthenticated: no password is sent then',
        },
      ],
      active: (items) => items.find((i) => i.value === (trust === 'roots' ? ROOTS_PATH : trust)),
      apply: (r) => {
        trust = r.value === ROOTS_PATH ? 'roots' : (r.value as typeof trust);
        if (trust === 'insecure') fleet = { ...fleet, tls: { insecure: true } };
        else if (trust === 'roots') fleet = { ...fleet, tls: { ca: ROOTS_PATH } };
      },
    },
    brokerCa: {
      kind: 'input',
      title: 'CA file on the board',
      value: () => str(tlsOf().ca).replace(ROOTS_PATH, ''),
      prompt: 'Path of the PEM file on the board that signed the broker certificate',
      placeholder: 'e.g. certs/broker-ca.pem',
      validate: (v) =>
        /^[^\s]+\.(pem|crt|der)$/i.test(v)
          ? boardFileProblem('fleet.tls.ca', v)
          : 'A file path on the board, e.g. certs/broker-ca.pem',
      apply: (ca) => void (fleet = { ...fleet, tls: { ca: ca.replace(/^\/+/, '') } }),
    },
    brokerPassword: {
      ...secretStep('Broker password', '', storedPassword, (v) => void (fleetPassword = v)),
      row: (preview) =>
        preview.fleet && fleetPassword
          ? { label: 'fleet.password', description: '(in secret storage, sent to the board at install)' }
          : undefined,
    },
    review: {
      kind: 'run',
      run: async (step, total) => {
        const preview = finalConfig();
        // What Install Updater writes: `app` from the project's name unless set (docs/protocols.md, Manifest).
        const bound = bindApp(preview, ctl.projectDir()).app;
        const rows: (Item & { edit?: StepId })[] = Object.entries(preview).map(([k, v]) => ({
          value: k,
          label: k,
          description: JSON.stringify(v),
          edit: editStepFor(k),
        }));
        if (!preview.app)
          rows.push({
            value: 'app',
            label: 'app',
            description: `${JSON.stringify(bound)} (the project's name, set at install: the board takes only this app's releases)`,
            edit: 'source',
          });
        for (const [id, s] of Object.entries(steps) as [StepId, Step][]) {
          const row = s.row?.(preview);
          if (row) rows.push({ value: row.label, edit: id, ...row });
        }
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
    },
  };

  /** The step that sets a configuration key (the review's line for it jumps there). */
  function editStepFor(key: string): StepId {
    const ids = Object.keys(steps) as StepId[];
    return ids.find((id) => steps[id].edits?.includes(key)) ?? 'source';
  }

  function finalConfig(): OtaConfig {
    const out: OtaConfig = { ...cfg };
    delete out.wifi; // never stored with the rest: secret storage only
    if (out.source !== 'oci' || !registryPrivate) delete out.user;
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
    if (fleet) out.fleet = JSON.parse(JSON.stringify(fleet)) as unknown; // drops the unset (undefined) fields
    return out;
  }

  /** A key planned earlier in this run and replaced now: the board will not trust it. */
  function dropPlanned(): void {
    if (!newKey || !Array.isArray(cfg.keys)) return;
    const id = newKey.entry.id;
    cfg.keys = (cfg.keys as { id?: string }[]).filter((k) => k.id !== id);
    newKey = undefined;
  }

  /**
   * A new key the board will trust. Back from its name returns to the keys question. It is made in
   * memory and written at Save, so a cancelled configuration leaves no key file and no setting.
   */
  async function createKey(name: string | undefined, step: number, total: number): Promise<unknown> {
    const { planSigningKey, trustKey } = await import('./signing-key');
    const planned = await planSigningKey(ctl, { name, step, total });
    if (planned === BACK) return BACK;
    dropPlanned();
    newKey = planned;
    signWith = publicOnly = undefined;
    cfg.keys = trustKey(cfg.keys, planned.entry);
    keysChoice = 'keep';
  }

  /**
   * The board trusts the picked file's key. A key file of ours also signs: ota.signingKey names it at
   * Save (its path only; the file stays where it is). A public entry alone is trusted, and said.
   */
  async function addKey(given?: string): Promise<void> {
    const files = given
      ? [vscode.Uri.file(given)]
      : await vscode.window.showOpenDialog({
          title: 'Signing key file',
          canSelectMany: false,
          filters: { 'Key file': ['json'] },
        });
    const unchanged = () => (keysChoice = Array.isArray(cfg.keys) && cfg.keys.length ? 'keep' : 'none');
    if (!files?.[0]) return void unchanged();
    const path = files[0].fsPath;
    const { readTrustFile } = await import('../../core/keys');
    const { entry, signs } = await readTrustFile(path);
    dropPlanned();
    publicOnly = signs ? undefined : { path, id: entry.id };
    signWith = signs ? { path, id: entry.id, hmac: entry.alg === 'hmac-sha256' } : undefined;
    // An HMAC secret is the trust entry itself: Install Updater adds it from ota.signingKey.
    if (entry.alg === 'hmac-sha256') return void unchanged();
    const { trustKey } = await import('./signing-key');
    cfg.keys = trustKey(cfg.keys, entry);
    keysChoice = 'keep';
  }

  if (typeof given.keys === 'object' && 'create' in given.keys) await createKey(given.keys.create, 1, 1);
  else if (typeof given.keys === 'object') await addKey(given.keys.file);
  let i = 0;
  for (;;) {
    const list = order();
    if (i >= list.length) break;
    let r: Result;
    try {
      r = await ask(steps[list[i]], i + 1, list.length);
    } catch (err) {
      if (newKey && err instanceof OtaError && err.code === 'cancelled')
        throw new OtaError(
          'cancelled',
          `Configure Device was cancelled: nothing was saved, and the signing key ${newKey.entry.id} was not created (no file, ota.signingKey unchanged).`,
        );
      throw err;
    }
    if (r === BACK) i = Math.max(0, i - 1);
    else if (r && typeof r === 'object' && 'jump' in r) {
      const at = order().indexOf((r as { jump: StepId }).jump);
      i = at >= 0 ? at : i;
    } else i++;
  }

  const result = finalConfig();
  const { validateOtaConfig } = await import('../../core/config');
  const problems = validateOtaConfig(result);
  // The board would refuse it (device/ota/fleetdoc.py): said now, not on the board.
  if (result.fleet && givenPassword && (!brokerTls() || insecure()))
    problems.push(
      'a broker password is sent only over a verified mqtts:// connection: use mqtts:// and a CA',
    );
  const registryProblem =
    result.source === 'oci' && registryPrivate && registryPassword
      ? registryPasswordProblem(result.ref)
      : undefined;
  if (registryProblem) problems.push(registryProblem);
  if (problems.length)
    throw new OtaError('bad_config', `The configuration is not valid: ${problems.join('; ')}`);
  const trusts = (id: string) =>
    Array.isArray(result.keys) && (result.keys as { id?: string }[]).some((k) => k.id === id);
  // The new key first: if it cannot be written, nothing is saved.
  if (newKey && trusts(newKey.entry.id)) {
    const { writeSigningKey } = await import('./signing-key');
    const before = ctl.settings().signingKey;
    const made = await writeSigningKey(ctl, newKey);
    ctl.output.info(
      `Created signing key ${made.entry.id} (Ed25519) in ${made.path}, outside the workspace; ota.signingKey names it${before && before !== made.path ? ` (it named ${before} before)` : ''}. Keep a copy: a lost key cannot sign updates for boards that trust it.`,
    );
  }
  await ctl.setDeviceConfig(result);
  if (signWith && (signWith.hmac || trusts(signWith.id))) {
    const { useSigningKey } = await import('./signing-key');
    const before = ctl.settings().signingKey;
    await useSigningKey(signWith.path);
    ctl.output.info(
      `Publish Release now signs with ${signWith.path} (key ${signWith.id}, ota.signingKey${before && before !== signWith.path ? `; it named ${before} before` : ''}). The key file stays where it is; only its path is in your settings.`,
    );
  }
  if (signWith) {
    const { relative, isAbsolute } = await import('node:path');
    const inside = relative(ctl.projectDir(), signWith.path);
    if (!inside.startsWith('..') && !isAbsolute(inside))
      ctl.output.warn(
        `${signWith.path} is inside the project: releases leave it out (secrets never ship), but it could be committed or copied with the project; keep keys outside it (ota keygen's folder: ~/.config/micropython-ota/keys/).`,
      );
  }
  if (publicOnly && trusts(publicOnly.id)) {
    const { readTrustFile } = await import('../../core/keys');
    const current = ctl.settings().signingKey;
    const signs = current
      ? await readTrustFile(current).then(
          (r) => (r.signs ? r.entry.id : undefined),
          () => undefined,
        )
      : undefined;
    if (signs !== publicOnly.id)
      ctl.output.warn(
        `The board will trust key ${publicOnly.id}, but ${publicOnly.path} holds only its public part: Publish Release signs with the matching private key file (the one \`ota keygen\` wrote), so set ota.signingKey to it.`,
      );
  }
  if (wifi === null) await ctl.context.secrets.delete(WIFI_KEY);
  else if (wifi !== 'unchanged' && wifi) await ctl.context.secrets.store(WIFI_KEY, JSON.stringify(wifi));
  if (!result.fleet || !fleetPassword || !brokerTls() || insecure())
    await ctl.context.secrets.delete(FLEET_KEY);
  else if (fleetPassword !== storedPassword) await ctl.context.secrets.store(FLEET_KEY, fleetPassword);
  if (result.source !== 'oci' || !registryPrivate || !registryPassword)
    await ctl.context.secrets.delete(REGISTRY_KEY);
  else if (registryPassword !== storedRegistryPassword)
    await ctl.context.secrets.store(REGISTRY_KEY, registryPassword);
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
