/**
 * Per-device OCI references (`ghcr.io/owner/app/{device}`), one rule for `ota publish --device`,
 * VS Code's Publish Release and the Releases view. `{device}` is the only placeholder, and only in
 * the repository path or tag: a device name never picks the registry host, so one set of
 * credentials never travels to several hosts.
 *
 *   expandDevices('r.io/app/{device}', ['board-7'])        // ['r.io/app/board-7']
 *   deviceOfRef('r.io/app/{device}', 'r.io/app/board-7')   // 'board-7' (a board's own config)
 *   deviceNameProblem('')                                   // 'a device name is empty'
 */
import { OtaError } from '../errors';

export const DEVICE_PLACEHOLDER = '{device}';
/** A device name fits a repository path component and a tag: lowercase letters, digits, . _ - */
const NAME = '[a-z0-9]+(?:[._-][a-z0-9]+)*';
const NAME_RE = new RegExp(`^${NAME}$`);
/** Long enough for a serial number or a host name, and `<name>.board` stays a valid tag. */
const NAME_MAX = 64;

export function hasDevicePlaceholder(ref: string): boolean {
  return ref.includes(DEVICE_PLACEHOLDER);
}

/** Why `ref`'s placeholders cannot be expanded (an unknown one, or `{device}` in the host), or undefined. */
export function placeholderProblem(ref: string): string | undefined {
  const unknown = (ref.match(/\{[^}]*\}?/g) ?? []).find((p) => p !== DEVICE_PLACEHOLDER);
  if (unknown !== undefined || /[{}]/.test(ref.replace(/\{device\}/g, ''))) {
    return `${ref} has an unknown placeholder ${unknown ?? (ref.match(/[{}]/) ?? [''])[0]}: only ${DEVICE_PLACEHOLDER} is replaced (by a device name)`;
  }
  const host = ref.replace(/^https?:\/\//, '').split('/')[0];
  if (host.includes(DEVICE_PLACEHOLDER)) {
    return `${ref} has ${DEVICE_PLACEHOLDER} in the registry host: it may name a repository or a tag, never the host`;
  }
  return undefined;
}

/** Why `name` cannot stand for `{device}`, or undefined. */
export function deviceNameProblem(name: string): string | undefined {
  if (!name.trim()) return 'a device name is empty';
  if (name.length > NAME_MAX) return `device name ${JSON.stringify(name)} is longer than ${NAME_MAX}`;
  if (!NAME_RE.test(name)) {
    return `device name ${JSON.stringify(name)}: lowercase letters, digits and . _ - between them`;
  }
  return undefined;
}

/** Replaces `{device}` with each device name (a ref without it stands alone). */
export function expandDevices(ref: string, devices: string[] | undefined): string[] {
  const problem = placeholderProblem(ref);
  if (problem) throw new OtaError('bad_ref', problem);
  if (!hasDevicePlaceholder(ref)) {
    if (devices?.length) {
      throw new OtaError(
        'bad_ref',
        `device names were given but ${ref} has no ${DEVICE_PLACEHOLDER} placeholder`,
      );
    }
    return [ref];
  }
  if (!devices?.length) {
    throw new OtaError(
      'bad_ref',
      `${ref} names one repository per device: name the device(s) (ota publish --device <name>)`,
    );
  }
  for (const d of devices) {
    const why = deviceNameProblem(d);
    if (why) throw new OtaError('bad_ref', why);
  }
  return [...new Set(devices)].map((d) => ref.split(DEVICE_PLACEHOLDER).join(d));
}

/**
 * The device name a board's own reference gives `template` (its ota_config.json names
 * `…/app/board-7` for `…/app/{device}`), or undefined when it is not one of the template's. A tag
 * the board pins is allowed after a template without one.
 */
export function deviceOfRef(template: string, ref: string | undefined): string | undefined {
  if (!ref || placeholderProblem(template) || !hasDevicePlaceholder(template)) return undefined;
  const strip = (r: string) => r.trim().replace(/^https?:\/\//, '');
  const parts = strip(template)
    .split(DEVICE_PLACEHOLDER)
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pinned = /:[^/]*$/.test(strip(template)) ? '' : '(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?';
  const m = new RegExp(`^${parts.join(`(${NAME})`)}${pinned}$`).exec(strip(ref));
  if (!m) return undefined;
  const names = new Set(m.slice(1));
  return names.size === 1 ? m[1] : undefined;
}

/**
 * The repository the Releases view lists for `ref`: itself, or for a `{device}` one the repository of
 * the first board (the selected one first) whose own reference is one of the template's; else why not.
 */
export function viewRef(
  ref: string,
  boardRefs: (string | undefined)[],
): { ref: string; device?: string } | { problem: string } {
  if (!hasDevicePlaceholder(ref)) return { ref };
  const problem = placeholderProblem(ref);
  if (problem) return { problem };
  for (const own of boardRefs) {
    const device = deviceOfRef(ref, own);
    if (device) return { ref: expandDevices(ref, [device])[0], device };
  }
  return {
    problem:
      `${ref} names one repository per device, and no board here names its own ` +
      `(its ota_config.json "ref", e.g. ${ref.split(DEVICE_PLACEHOLDER).join('board-7')}): ` +
      'select such a board in the Devices view, or set ota.oci.ref to one device’s repository.',
  };
}
