/**
 * The Releases view's shape, for every source (GitHub, static host, OCI registry): where releases
 * come from, then the stable, beta and developer channels with their releases; or, when there are
 * none to show, why, with the command that fixes it. Plain data: src/ui/releases-tree.ts turns it
 * into VS Code tree items.
 *
 *   releaseChildren(status)            -> [host, channel…]
 *   releaseChildren(status, channel)   -> [release…] (the first is what boards on it get)
 *   releaseItem(node, status, { served?, rollout? }) -> ReleaseItem
 */
import type { ReleaseEntry, ReleaseStatus } from './release-channels';
import { isLocalUrl } from './user-errors';

export type ReleaseNode =
  | { kind: 'host' }
  | { kind: 'channel'; channel: ReleaseEntry['channel'] }
  | { kind: 'release'; entry: ReleaseEntry; latest: boolean };

export interface ReleaseItem {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon name, and a theme color for warnings and errors. */
  icon: string;
  iconColor?: 'problemsWarningIcon.foreground' | 'problemsErrorIcon.foreground';
  expanded: boolean;
  command?: { title: string; command: string; arguments?: unknown[] };
  contextValue: string;
  accessibility: string;
}

const CHANNELS: ReleaseEntry['channel'][] = ['stable', 'beta', 'developer'];

/** The releases a host listed; none while it cannot be reached (the view says why). */
export function listedReleases(status: ReleaseStatus | undefined): readonly ReleaseEntry[] {
  return status?.state === 'ok' ? status.entries : [];
}

export function releaseChildren(status: ReleaseStatus | undefined, node?: ReleaseNode): ReleaseNode[] {
  const entries = listedReleases(status);
  if (!node) {
    // Before the first check: the view's welcome content (package.json viewsWelcome) shows instead.
    if (!status) return [];
    return [
      { kind: 'host' },
      ...CHANNELS.filter((c) => entries.some((e) => e.channel === c)).map((channel): ReleaseNode => ({
        kind: 'channel',
        channel,
      })),
    ];
  }
  if (node.kind !== 'channel') return [];
  return entries
    .filter((e) => e.channel === node.channel)
    .map((entry, i) => ({ kind: 'release', entry, latest: i === 0 }));
}

export function releaseItem(
  node: ReleaseNode,
  status: ReleaseStatus,
  ctx: { served?: string; rollout?: (version: string) => string | undefined } = {},
): ReleaseItem {
  if (node.kind === 'host') return hostItem(status, ctx.served);
  if (node.kind === 'channel') {
    return {
      id: `channel:${node.channel}`,
      label: node.channel,
      icon: node.channel === 'developer' ? 'git-branch' : node.channel === 'beta' ? 'beaker' : 'tag',
      expanded: true,
      contextValue: 'channel',
      accessibility: node.channel,
    };
  }
  const { entry } = node;
  const description = [
    entry.date?.slice(0, 10),
    node.latest ? 'latest' : undefined,
    ctx.rollout?.(entry.version),
  ]
    .filter(Boolean)
    .join(' · ');
  return {
    id: `release:${entry.channel}:${entry.version}`,
    label: entry.version,
    description,
    tooltip: [entry.version, entry.date, entry.url ?? entry.ref].filter(Boolean).join('\n'),
    icon: node.latest ? 'star-full' : 'package',
    expanded: false,
    // "release latest url": Update Device to This Release needs the newest; Open and Copy need a URL.
    contextValue: ['release', node.latest && 'latest', entry.url && 'url', entry.channel]
      .filter(Boolean)
      .join(' '),
    accessibility: `${entry.channel} ${entry.version}, ${description}`,
  };
}

function hostItem(s: ReleaseStatus, servedUrl: string | undefined): ReleaseItem {
  const base = { id: 'host', expanded: false };
  let item: Omit<ReleaseItem, 'accessibility'>;
  if (s.state === 'not-configured' && s.perDevice) {
    item = {
      ...base,
      label: 'One repository per device',
      description: 'select a board that names its own',
      tooltip: s.message,
      icon: 'circuit-board',
      command: { title: 'Select Board', command: 'ota.selectPort' },
      contextValue: 'host not-configured per-device',
    };
  } else if (s.state === 'not-configured') {
    item = {
      ...base,
      label: 'Not configured',
      description: 'run Configure Device',
      tooltip: s.message,
      icon: 'gear',
      command: { title: 'Configure Device', command: 'ota.configureDevice' },
      contextValue: 'host not-configured',
    };
  } else if (s.state === 'unreachable') {
    const local = isLocalUrl(s.host);
    item = {
      ...base,
      label: 'Host unreachable',
      description: s.host,
      tooltip: `${s.message}${local ? '\nClick to serve the releases from this computer.' : ''}`,
      icon: 'debug-disconnect',
      iconColor: 'problemsWarningIcon.foreground',
      command: local
        ? { title: 'Serve Releases Locally', command: 'ota.serveReleases' }
        : { title: 'Configure Device', command: 'ota.configureDevice' },
      contextValue: `host unreachable${local ? ' local' : ''}`,
    };
  } else if (s.state === 'error' && (s.code === 'credentials_missing' || s.code === 'auth_failed')) {
    // A private repository: say what to set, and offer the one step that fixes it here.
    const missing = s.code === 'credentials_missing';
    const github = s.signIn === 'github';
    item = {
      ...base,
      label: missing ? 'Private repository: credentials needed' : 'Registry refused the credentials',
      description: github ? 'click to sign in to GitHub' : 'set OTA_REGISTRY_TOKEN or docker login',
      tooltip:
        `${s.message}\n\n` +
        (github ? 'Click to sign in to GitHub (read:packages). ' : '') +
        'Credentials come from OTA_REGISTRY_TOKEN (with OTA_REGISTRY_USER)' +
        (github ? ', GITHUB_TOKEN' : '') +
        `, \`docker login ${s.host.split('/')[0]}\` or podman login, or the board's private registry login ` +
        '(Configure Device → OCI registry → Private).',
      icon: 'lock',
      iconColor: 'problemsWarningIcon.foreground',
      command: github
        ? { title: 'Sign in to GitHub', command: 'ota.refreshReleases', arguments: [{ signIn: true }] }
        : { title: 'Configure Device', command: 'ota.configureDevice' },
      contextValue: `host ${missing ? 'credentials-missing' : 'auth-failed'}${github ? ' github' : ''}`,
    };
  } else if (s.state === 'error') {
    item = {
      ...base,
      label: 'Cannot list releases',
      description: s.message,
      tooltip: s.message,
      icon: 'error',
      iconColor: 'problemsErrorIcon.foreground',
      command: { title: 'Show Output', command: 'ota.showOutput' },
      contextValue: 'host error',
    };
  } else {
    const served = Boolean(servedUrl && s.host.startsWith(servedUrl));
    item = {
      ...base,
      label: s.entries.length ? s.host : 'No releases yet',
      description: s.entries.length ? (served ? 'served from this computer' : undefined) : s.host,
      tooltip: `${s.entries.length ? 'Releases from' : 'Nothing published yet at'} ${s.host}${served ? '\n(Serve Releases Locally is running)' : ''}`,
      icon: served ? 'radio-tower' : 'cloud',
      command: s.entries.length ? undefined : { title: 'Publish Release', command: 'ota.publishRelease' },
      contextValue: `host ok${served ? ' served' : ''}`,
    };
  }
  return { ...item, accessibility: `${item.label}, ${item.description ?? ''}` };
}
