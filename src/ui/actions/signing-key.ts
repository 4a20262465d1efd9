// "Create Signing Key": a new user has no key file. This makes an Ed25519 key by the core's one rule
// (generateKey, as `ota keygen --ed25519` does), in the folder `ota keygen` uses
// (~/.config/micropython-ota/keys/, outside any workspace), names it in ota.signingKey so Publish
// Release signs with it, and adds its public half to the board's trust (the "keys" of the stored
// device configuration, written to the board by Install Updater). An existing key file is never
// replaced. Configure Device's "Signed releases?" step asks the same questions (planSigningKey) but
// writes the key only when its configuration is saved (writeSigningKey): cancelled, it leaves nothing.
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import type { KeyFile, TrustEntry } from '../../core/keys';
import type { Controller } from '../controller';
import { BACK, inputStep } from '../quick-steps';

export interface CreatedKey {
  path: string;
  entry: TrustEntry;
}

/** A key made in memory under a free name, not written yet. */
export interface PlannedKey extends CreatedKey {
  name: string;
  keyFile: KeyFile;
}

/**
 * Asks the key's name (unless given), writes the key and sets ota.signingKey. `step`/`total` place
 * the question inside a multi-step input (Back returns BACK); Escape is a `cancelled` error and
 * nothing is written.
 */
export async function makeSigningKey(
  ctl: Controller,
  opts: { name?: string; step?: number; total?: number } = {},
): Promise<CreatedKey | typeof BACK> {
  const planned = await planSigningKey(ctl, opts);
  return planned === BACK ? BACK : writeSigningKey(ctl, planned);
}

/** Asks the key's name (unless given) and makes the key in memory; nothing is written. */
export async function planSigningKey(
  ctl: Controller,
  opts: { name?: string; step?: number; total?: number } = {},
): Promise<PlannedKey | typeof BACK> {
  const { defaultKeyPath, deviceTrustEntry, newKey } = await import('../../core/keys');
  const { existsSync } = await import('node:fs');
  const pathOf = (name: string): string | undefined => {
    try {
      return defaultKeyPath(name);
    } catch {
      return undefined;
    }
  };
  // The name rule is the core's (defaultKeyPath); a taken name is refused before anything is made.
  const problem = (name: string): string | undefined => {
    let path: string;
    try {
      path = defaultKeyPath(name);
    } catch (err) {
      return (err as Error).message;
    }
    if (existsSync(path))
      return `${path} already exists: pick another name (an existing key is never replaced)`;
    return undefined;
  };
  let name = opts.name;
  if (name === undefined) {
    // The first free of "default", then the project's name, then numbered ones.
    const project = ctl.projectDir().split(/[\\/]/).pop() ?? '';
    const free = ['default', project, ...[2, 3, 4, 5, 6, 7, 8, 9].map((n) => `default-${n}`)].find(
      (n) => n && !problem(n),
    );
    const r = await inputStep({
      title: 'Name of the new signing key',
      step: opts.step ?? 1,
      total: opts.total ?? 1,
      value: free ?? '',
      prompt: `An Ed25519 key, saved as ${pathOf('NAME') ?? '~/.config/micropython-ota/keys/NAME.json'} (outside the workspace, readable by you only)`,
      placeholder: 'e.g. default',
      validate: problem,
    }).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === 'cancelled')
        throw new OtaError(
          'cancelled',
          'No signing key was created: the name was not given. Nothing was changed.',
        );
      throw err;
    });
    if (r === BACK) return BACK;
    name = r;
  }
  const refused = problem(name);
  if (refused) throw new OtaError(pathOf(name) ? 'key_exists' : 'bad_key_name', refused);
  const keyFile = newKey('ed25519');
  return { name, path: defaultKeyPath(name), keyFile, entry: await deviceTrustEntry(keyFile) };
}

/** Writes a planned key (never over a file that appeared meanwhile) and names it in ota.signingKey. */
export async function writeSigningKey(ctl: Controller, key: PlannedKey): Promise<CreatedKey> {
  const { saveKey } = await import('../../core/keys');
  let path: string;
  try {
    path = await saveKey(key.keyFile, { path: key.path, project: ctl.projectDir() });
  } catch (err) {
    if (err instanceof OtaError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new OtaError(
      'key_unwritable',
      `Cannot write the signing key ${key.path} (${code}): make its folder writable, or set XDG_CONFIG_HOME to a writable folder. Nothing was changed.`,
      { cause: err },
    );
  }
  await useSigningKey(path);
  return { path, entry: key.entry };
}

/**
 * Names the key in ota.signingKey. The user's settings, not the workspace's: the key belongs to this
 * computer's user and its path is theirs, so no file of the project is written (a workspace that
 * already sets ota.signingKey gets the new path there, or it would hide it).
 */
export async function useSigningKey(path: string): Promise<void> {
  const c = vscode.workspace.getConfiguration('ota');
  const inspected = c.inspect<string>('signingKey');
  const target =
    inspected?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : inspected?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await c.update('signingKey', path, target);
}

/** Adds `entry` to the keys the board trusts (stored config; Install Updater writes it to the board). */
export function trustKey(keys: unknown, entry: TrustEntry): TrustEntry[] {
  const list = Array.isArray(keys) ? (keys as TrustEntry[]) : [];
  return [...list.filter((k) => k.id !== entry.id), entry];
}

/** The command: a key, the setting, the board's trust, and what to do next. */
export async function createSigningKey(ctl: Controller, arg?: unknown): Promise<string> {
  const given = (arg && typeof arg === 'object' ? arg : {}) as { name?: string };
  const made = await makeSigningKey(ctl, { name: given.name });
  if (made === BACK) throw new OtaError('cancelled', 'No signing key was created.');
  const config = ctl.deviceConfig();
  const said = `Created signing key ${made.entry.id} (Ed25519) in ${made.path}, outside the workspace; Publish Release now signs with it (ota.signingKey). Keep a copy: a lost key cannot sign updates for boards that trust it.`;
  ctl.output.info(said);
  if (config) {
    await ctl.setDeviceConfig({ ...config, keys: trustKey(config.keys, made.entry) });
    void vscode.window
      .showInformationMessage(`${said} Install the updater again so the board trusts it.`, 'Install Updater')
      .then((b) => b && vscode.commands.executeCommand('ota.installUpdater'));
  } else {
    void vscode.window
      .showInformationMessage(
        `${said} Next: Configure Device; Install Updater then makes the board trust it.`,
        'Configure Device',
      )
      .then((b) => b && vscode.commands.executeCommand('ota.configureDevice'));
  }
  return made.path;
}
