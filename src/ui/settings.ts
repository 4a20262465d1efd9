// Typed access to the extension's settings (package.json "contributes.configuration"), with what
// Configure Device stored for this workspace on top: that lives in workspace state, never in a
// file of the project, so it cannot end up in a release.
import * as vscode from 'vscode';
import { GITHUB_API } from '../core/github-rules';

export type Source = 'github' | 'static' | 'oci';
export type Channel = 'stable' | 'beta' | 'developer';

/** Workspace-state keys (one place, shared by both bundles). */
export const STATE = {
  /** The board configuration Configure Device built (ota_config.json minus Wi-Fi). */
  deviceConfig: 'ota.deviceConfig',
  /** Where Serve Releases Locally listens: { host, port }. */
  serve: 'ota.serve',
} as const;

export interface Settings {
  source: Source;
  repo: string;
  apiUrl: string;
  staticUrl: string;
  staticOutDir: string;
  /** oci: host/repository[:tag] boards pull from and Publish Release pushes to. */
  ociRef: string;
  channel: Channel;
  branch: string;
  projectDir: string;
  serialPorts: string[];
  baudRate: number;
  checkIntervalMinutes: number;
  signingKey: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/** The settings, with the device configuration's source, host and channel taking precedence. */
export function readSettings(device?: Record<string, unknown>): Settings {
  const c = vscode.workspace.getConfiguration('ota');
  const channel = str(device?.channel);
  return {
    source: (str(device?.source) as Source | undefined) ?? c.get<Source>('source', 'github'),
    repo: (str(device?.repo) ?? c.get<string>('github.repo', '')).trim(),
    apiUrl: (str(device?.api) ?? c.get<string>('github.apiUrl', 'https://api.github.com')).replace(
      /\/+$/,
      '',
    ),
    staticUrl: (str(device?.url) ?? c.get<string>('static.url', '')).trim(),
    staticOutDir: c.get<string>('static.outDir', '.ota/releases'),
    ociRef: (str(device?.ref) ?? c.get<string>('oci.ref', '')).trim(),
    channel:
      channel === 'tag'
        ? 'stable'
        : ((channel as Channel | undefined) ?? c.get<Channel>('channel', 'stable')),
    branch: str(device?.branch) ?? c.get<string>('github.branch', 'main'),
    projectDir: c.get<string>('projectDir', '.'),
    serialPorts: c.get<string[]>('serialPorts', []),
    baudRate: c.get<number>('baudRate', 115200),
    checkIntervalMinutes: Math.max(1, c.get<number>('checkIntervalMinutes', 15)),
    signingKey: c.get<string>('signingKey', ''),
  };
}

/** The first workspace folder: the project the commands act on. */
export function workspaceRoot(): vscode.Uri | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

/** True when the API base URL is github.com's, where VS Code's GitHub sign-in applies. */
export function isPublicGitHub(apiUrl: string): boolean {
  return apiUrl === GITHUB_API;
}

/** The release host in a message: the static base URL, the GitHub API root, or the OCI reference. */
export function releaseHost(s: Settings): string | undefined {
  if (s.source === 'static') return s.staticUrl || undefined;
  if (s.source === 'oci') return s.ociRef || undefined;
  return s.apiUrl;
}
