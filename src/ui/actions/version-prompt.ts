// Asks for the version to release, suggesting the patch after the newest one known.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { compareVersions, parseVersion } from '../../core/version';
import type { Controller } from '../controller';

export function suggestVersion(known: string[]): string {
  const versions = known.flatMap((v) => {
    try {
      return [parseVersion(v)];
    } catch {
      return [];
    }
  });
  if (versions.length === 0) return '1.0.0';
  const top = versions.sort(compareVersions)[versions.length - 1];
  return `${top.major}.${top.minor}.${top.patch + (top.prerelease.length ? 0 : 1)}`;
}

export async function askVersion(ctl: Controller, given: unknown, title: string): Promise<string> {
  if (typeof given === 'string') return parseVersion(given).text;
  const value = await vscode.window.showInputBox({
    title,
    prompt: 'Semantic version, e.g. 1.4.0 or 1.5.0-beta.1',
    value: suggestVersion(ctl.releases.all().map((r) => r.version)),
    ignoreFocusOut: true,
    validateInput: (v) => {
      try {
        parseVersion(v.trim());
        return undefined;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    },
  });
  if (!value) throw new OtaError('cancelled', 'No version given.');
  return parseVersion(value.trim()).text;
}
