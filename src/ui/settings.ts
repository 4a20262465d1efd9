// Typed access to the extension's settings (package.json "contributes.configuration").
import * as vscode from 'vscode';
import { GITHUB_API } from '../core/github-rules';

export type Source = 'github' | 'static';
export type Channel = 'stable' | 'beta' | 'developer';

export interface Settings {
  source: Source;
  repo: string;
  apiUrl: string;
  staticUrl: string;
  staticOutDir: string;
  channel: Channel;
  branch: string;
  projectDir: string;
  serialPorts: string[];
  baudRate: number;
  checkIntervalMinutes: number;
  signingKey: string;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('ota');
  return {
    source: c.get<Source>('source', 'github'),
    repo: c.get<string>('github.repo', '').trim(),
    apiUrl: c.get<string>('github.apiUrl', GITHUB_API).replace(/\/+$/, ''),
    staticUrl: c.get<string>('static.url', '').trim(),
    staticOutDir: c.get<string>('static.outDir', 'ota-releases'),
    channel: c.get<Channel>('channel', 'stable'),
    branch: c.get<string>('github.branch', 'main'),
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
