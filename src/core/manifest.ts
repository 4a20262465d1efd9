// Release manifests (schema 1, docs/protocols.md): build from a project tree, write
// byte-for-byte deterministically, read back with validation.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { fsReason, OtaError } from './errors';
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestBundle,
  type ManifestFile,
  type ManifestFirmware,
} from './manifest-types';
import { checkReleasePath } from './paths';
import { assetName } from './github-rules';
import { compareVersions, parseVersion } from './version';
import { reservedPath } from './reserved';
import {
  describeExcluded,
  refuseOwnBootPy,
  listProjectFiles,
  walkProject,
  type Excluded,
  type ProjectFile,
  type WalkOptions,
} from './walk';

export { listProjectFiles, walkProject };

export interface BuildOptions extends WalkOptions {
  /** Else the highest `v*` git tag of the project. */
  version?: string;
  /** Else the directory's name. */
  name?: string;
  /**
   * ISO time or Date; else SOURCE_DATE_EPOCH, else the date of the last commit touching the project,
   * else the newest modification time of the released files.
   */
  created?: string | Date;
  delete?: string[];
  keep?: string[];
  hooks?: { post_update?: string; rollback?: string };
  /** ISO time or Date after which boards refuse the release. */
  expires?: string | Date;
  /** Else: boards refuse the release this many whole days after `created`. */
  expiresDays?: number;
  bundle?: ManifestBundle;
  /** Path of an ESP32 app image for the "firmware" entry (published beside the manifest under its file name). */
  firmware?: string;
  /** Environment to read SOURCE_DATE_EPOCH from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const run = promisify(execFile);

async function git(dir: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', args, { cwd: dir });
    return stdout.trim();
  } catch {
    return undefined; // not a repository, or git missing: the caller falls back or says what to pass
  }
}

/** ISO 8601 UTC to the second, the form the manifest uses. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function toDate(value: string | Date, what: string): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new OtaError('bad_date', `${what} ${JSON.stringify(value)} is not a date`);
  return d;
}

/** A release date and where it came from, in words for the output ("the last git commit ..."). */
export interface CreatedDate {
  created: string;
  from: string;
}

/**
 * Where `created` comes from, in order: explicit, SOURCE_DATE_EPOCH, the last commit touching
 * `dir`, else (not a git repository, or nothing committed) the newest modification time of the
 * released files: the same files give the same date, and no user is refused for lacking git.
 * `files` are the released files, or the walk options to list them with.
 */
export async function resolveCreatedFrom(
  dir: string,
  created?: string | Date,
  env = process.env,
  files: ProjectFile[] | WalkOptions = {},
): Promise<CreatedDate> {
  if (created !== undefined) return { created: isoSeconds(toDate(created, 'created')), from: 'given' };
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch))
      throw new OtaError('bad_date', `SOURCE_DATE_EPOCH ${JSON.stringify(epoch)} is not a number`);
    return { created: isoSeconds(new Date(Number(epoch) * 1000)), from: 'SOURCE_DATE_EPOCH' };
  }
  const ct = await git(dir, ['log', '-1', '--format=%ct', '--', '.']);
  if (ct)
    return {
      created: isoSeconds(new Date(Number(ct) * 1000)),
      from: 'the last git commit touching the project',
    };
  const list = Array.isArray(files) ? files : await listProjectFiles(dir, files);
  let newest = 0;
  let which = '';
  for (const f of list) {
    const ms = (await stat(f.abs)).mtimeMs;
    if (ms > newest || !which) [newest, which] = [ms, f.path];
  }
  return {
    created: isoSeconds(new Date(Math.floor(newest / 1000) * 1000)),
    from: `the newest modification time of the released files (${which}; not a git commit)`,
  };
}

/** The release date alone (see resolveCreatedFrom). */
export async function resolveCreated(
  dir: string,
  created?: string | Date,
  env = process.env,
  files: ProjectFile[] | WalkOptions = {},
): Promise<string> {
  return (await resolveCreatedFrom(dir, created, env, files)).created;
}

/** The version to release: explicit, else the highest semver `v*` tag. */
export async function resolveVersion(dir: string, version?: string): Promise<string> {
  if (version !== undefined) return parseVersion(version).text;
  const tags = (await git(dir, ['tag', '--list', 'v*']))?.split('\n').filter(Boolean) ?? [];
  const versions = tags.flatMap((t) => {
    try {
      return [parseVersion(t)];
    } catch {
      return [];
    }
  });
  if (versions.length === 0) {
    throw new OtaError(
      'no_version',
      `no version given and no v* git tag in ${dir}: pass --version (e.g. 1.0.0)`,
    );
  }
  versions.sort(compareVersions);
  return versions[versions.length - 1].text;
}

import { hashFiles } from './hash';

/** Hashes listed project files into manifest entries (same order). */
export async function hashProjectFiles(files: ProjectFile[]): Promise<ManifestFile[]> {
  const hashes = await hashFiles(files.map((f) => f.abs));
  return files.map((f, i) => ({ path: f.path, ...hashes[i] }));
}

function checkPaths(list: string[] | undefined, what: string, reservedOk = false): string[] | undefined {
  if (!list) return undefined;
  for (const p of list) {
    try {
      checkReleasePath(p);
    } catch (err) {
      throw new OtaError('bad_path', `${what}: ${(err as Error).message}`);
    }
    const r = reservedOk ? undefined : reservedPath(p);
    // `delete: ["ota"]` would make the updater delete itself; the board refuses it too (reserved_path).
    if (r) throw new OtaError('reserved_path', `${what}: ${p} is the board's (${r}), not a release's`);
  }
  return [...new Set(list)].sort();
}

/** ESP_IMAGE_HEADER_MAGIC: the first byte of every ESP32 image. */
const ESP_IMAGE_MAGIC = 0xe9;

/**
 * The "firmware" entry for an ESP32 app image and its bytes, from one read: what is published is
 * what was hashed, even if the build rewrites the image meanwhile.
 */
export async function readFirmware(image: string): Promise<{ entry: ManifestFirmware; data: Buffer }> {
  const name = basename(image);
  try {
    checkReleasePath(name);
  } catch (err) {
    throw new OtaError('bad_firmware', `firmware file name: ${(err as Error).message}`);
  }
  let data: Buffer;
  try {
    data = await readFile(image);
  } catch (err) {
    throw new OtaError('unreadable', `cannot read ${image}: ${fsReason(err)}`, {
      cause: err,
    });
  }
  // An empty or foreign file would be written to the OTA partition and set to boot: refuse it here.
  if (data.length === 0) throw new OtaError('bad_firmware', `firmware image ${image} is empty`);
  if (data[0] !== ESP_IMAGE_MAGIC) {
    throw new OtaError(
      'bad_firmware',
      `${image} is not an ESP32 app image: it starts with 0x${data[0].toString(16).padStart(2, '0')}, an image with 0xe9`,
    );
  }
  const sha256 = createHash('sha256').update(data).digest('hex');
  return { entry: { name, size: data.length, sha256 }, data };
}

/** The "firmware" entry for an ESP32 app image: its file name, size and SHA-256. */
export async function describeFirmware(image: string): Promise<ManifestFirmware> {
  return (await readFirmware(image)).entry;
}

/** A firmware image inside the project (a build output) is published as the image, not as a release file. */
function withoutImage(dir: string, opts: BuildOptions): WalkOptions {
  if (!opts.firmware) return opts;
  const rel = relative(resolve(dir), resolve(opts.firmware));
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return opts;
  return { ...opts, exclude: [...(opts.exclude ?? []), rel.split(sep).join('/')] };
}

/** A manifest with what went into it: the files read, what was left out by rule, where `created` came from. */
export interface BuiltManifest {
  manifest: Manifest;
  /** The files hashed: the project's own, or the copies `stage` made. */
  files: ProjectFile[];
  excluded: Excluded[];
  createdFrom: string;
  /** The firmware image's bytes, from the one read that hashed them. */
  firmware?: Buffer;
}

/** Copies the listed files somewhere private before they are hashed (publishing: see core/publish/prepare.ts). */
export type Stage = (files: ProjectFile[]) => Promise<ProjectFile[]>;

/** Walks, hashes and describes a project as a manifest, reporting what was left out and why. */
export async function buildRelease(
  dir: string,
  opts: BuildOptions = {},
  stage?: Stage,
): Promise<BuiltManifest> {
  const version = await resolveVersion(dir, opts.version);
  const { files: listed, excluded } = await walkProject(dir, withoutImage(dir, opts));
  refuseOwnBootPy(excluded);
  const { created, from } = await resolveCreatedFrom(dir, opts.created, opts.env, listed);
  const hashed = stage ? await stage(listed) : listed;
  const files = await hashProjectFiles(hashed);
  const image = opts.firmware === undefined ? undefined : await readFirmware(opts.firmware);
  const manifest = assembleManifest({
    name: opts.name ?? projectName(dir),
    version,
    created,
    files,
    delete: opts.delete,
    keep: opts.keep,
    hooks: opts.hooks,
    bundle: opts.bundle,
    firmware: image?.entry,
    expires: expiresOf(created, opts),
  });
  return { manifest, files: hashed, excluded, createdFrom: from, firmware: image?.data };
}

function expiresOf(created: string, opts: BuildOptions): string | undefined {
  if (opts.expires !== undefined) return isoSeconds(toDate(opts.expires, 'expires'));
  if (opts.expiresDays === undefined) return undefined;
  if (!Number.isInteger(opts.expiresDays) || opts.expiresDays <= 0)
    throw new OtaError(
      'bad_option',
      `expiry must be a positive whole number of days, not ${opts.expiresDays}`,
    );
  return isoSeconds(new Date(Date.parse(created) + opts.expiresDays * 86_400_000));
}

/** Lines for the output: each file left out by rule and why, and where `created` came from. */
export function describeBuild(b: { excluded: Excluded[]; createdFrom: string; created: string }): string[] {
  const from = b.createdFrom === 'given' ? 'as given' : `from ${b.createdFrom}`;
  return [...describeExcluded(b.excluded), `dated ${b.created} (${from})`];
}

/** Where Generate Manifest and `ota manifest` write by default: inside .ota/, which never ships. */
export function defaultManifestPath(dir: string): string {
  return join(dir, '.ota', 'manifest.json');
}

/** Builds the manifest and writes it to `out` (default defaultManifestPath), creating its folder. */
export async function writeManifestFile(
  dir: string,
  opts: BuildOptions = {},
  out = defaultManifestPath(dir),
): Promise<BuiltManifest & { out: string; bytes: Buffer }> {
  const built = await buildRelease(dir, opts);
  const bytes = serializeManifest(built.manifest);
  await mkdir(dirname(resolve(out)), { recursive: true });
  await writeFile(out, bytes);
  return { ...built, out, bytes };
}

/** The project's name, a manifest's `name` unless given: the project folder's name. */
export function projectName(dir: string): string {
  return basename(resolve(dir));
}

/** Walks, hashes and describes a project as a manifest. */
export async function buildManifest(dir: string, opts: BuildOptions = {}): Promise<Manifest> {
  return (await buildRelease(dir, opts)).manifest;
}

/** Files in one release: the board keeps its paths in RAM while it checks them (same number on the board). */
export const MAX_FILES = 1000;

/** Checks the cross-field rules and returns the manifest with optional fields normalised. */
function assembleManifest(m: Omit<Manifest, 'schema'>): Manifest {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (!m.name || /[\u0000-\u001f/\\]/.test(m.name)) {
    throw new OtaError(
      'bad_name',
      `release name ${JSON.stringify(m.name)} must be non-empty, without / \\ or control characters`,
    );
  }
  if (m.files.length > MAX_FILES) {
    throw new OtaError(
      'too_many_files',
      `the release has ${m.files.length} files; a board tracks at most ${MAX_FILES} (device/ota/manifest.py)`,
    );
  }
  const paths = new Set(m.files.map((f) => f.path));
  checkPaths(
    m.files.map((f) => f.path),
    'files',
  );
  const folded = new Map<string, string>();
  for (const p of paths) {
    const other = folded.get(p.toLowerCase());
    if (other !== undefined) {
      throw new OtaError(
        'path_clash',
        `${other} and ${p} differ only in case: a board with a FAT filesystem stores them as one file; rename one`,
      );
    }
    folded.set(p.toLowerCase(), p);
  }
  const del = checkPaths(m.delete, 'delete');
  const clash = del?.find((p) => paths.has(p));
  if (clash) throw new OtaError('delete_conflict', `${clash} is both shipped and listed in delete`);
  const keep = checkPaths(m.keep, 'keep', true); // keeping the board's own files is what they need
  let hooks: Manifest['hooks'];
  if (m.hooks && (m.hooks.post_update || m.hooks.rollback)) {
    hooks = {};
    for (const key of ['post_update', 'rollback'] as const) {
      const h = m.hooks[key];
      if (!h) continue;
      checkPaths([h], `hook ${key}`);
      if (!paths.has(h))
        throw new OtaError('hook_missing', `hook ${key} ${h} is not one of the release files`);
      hooks[key] = h;
    }
  }
  const fw = m.firmware?.name;
  // Every release file is published beside the manifest too (as <path> or asset <path with / as __>).
  const taken = [...m.files.map((f) => assetName(f.path)), ...paths, 'manifest.json', 'manifest.json.sig'];
  if (fw && (taken.includes(fw) || fw === m.bundle?.name))
    throw new OtaError('firmware_conflict', `firmware ${fw} has the name of another file of the release`);
  return {
    schema: MANIFEST_SCHEMA,
    name: m.name,
    version: m.version,
    created: m.created,
    files: m.files,
    ...(del?.length ? { delete: del } : {}),
    ...(keep?.length ? { keep } : {}),
    ...(hooks ? { hooks } : {}),
    ...(m.bundle ? { bundle: m.bundle } : {}),
    ...(m.firmware ? { firmware: m.firmware } : {}),
    ...(m.expires ? { expires: m.expires } : {}),
  };
}

/** Rebuilds every object with keys in docs/protocols.md order, so the bytes never depend on how it was built. */
function ordered(m: Manifest): Manifest {
  return {
    schema: m.schema,
    name: m.name,
    version: m.version,
    created: m.created,
    files: m.files.map((f) => ({ path: f.path, size: f.size, sha1: f.sha1, sha256: f.sha256 })),
    ...(m.delete ? { delete: m.delete } : {}),
    ...(m.keep ? { keep: m.keep } : {}),
    ...(m.hooks
      ? {
          hooks: {
            ...(m.hooks.post_update ? { post_update: m.hooks.post_update } : {}),
            ...(m.hooks.rollback ? { rollback: m.hooks.rollback } : {}),
          },
        }
      : {}),
    ...(m.bundle ? { bundle: { name: m.bundle.name, size: m.bundle.size, sha256: m.bundle.sha256 } } : {}),
    ...(m.firmware
      ? { firmware: { name: m.firmware.name, size: m.firmware.size, sha256: m.firmware.sha256 } }
      : {}),
    ...(m.expires ? { expires: m.expires } : {}),
  };
}

/** The published bytes: 2-space JSON, keys in docs/protocols.md order, trailing newline. */
export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(ordered(m), null, 2) + '\n', 'utf8');
}

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function bad(msg: string): never {
  throw new OtaError('bad_manifest', `invalid manifest: ${msg}`);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') bad(`${what} must be a string`);
  return v;
}

function size(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    bad(`${what} must be a non-negative integer`);
  return v;
}

function hex(v: unknown, re: RegExp, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) bad(`${what} must be lowercase hex of the right length`);
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function pathList(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) bad(`${what} must be an array of paths`);
  return v.map((p, i) => releasePath(p, `${what}[${i}]`));
}

function releasePath(v: unknown, what: string): string {
  try {
    return checkReleasePath(str(v, what));
  } catch (err) {
    if (err instanceof OtaError && err.code === 'bad_path') bad(`${what}: ${err.message}`);
    throw err;
  }
}

/** The bundle and the firmware image: a named file beside the manifest with its size and SHA-256. */
function artifact(
  v: unknown,
  what: string,
  name: (v: unknown, what: string) => string,
): { name: string; size: number; sha256: string } {
  const a = obj(v, what);
  return {
    name: name(a.name, `${what}.name`),
    size: size(a.size, `${what}.size`),
    sha256: hex(a.sha256, HEX64, `${what}.sha256`),
  };
}

function isoDate(v: unknown, what: string): string {
  const s = str(v, what);
  if (!/^\d{4}-\d\d-\d\dT/.test(s) || Number.isNaN(Date.parse(s))) bad(`${what} must be an ISO 8601 date`);
  return s;
}

/** Parses and validates manifest bytes. Unknown keys are dropped; a newer schema is refused. */
export function parseManifest(bytes: Uint8Array): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    bad(`not UTF-8 JSON (${(err as Error).message})`);
  }
  const o = obj(value, 'manifest');
  if (typeof o.schema !== 'number' || !Number.isInteger(o.schema) || o.schema < 1)
    bad('schema must be a positive integer');
  if (o.schema > MANIFEST_SCHEMA) {
    throw new OtaError(
      'schema_unsupported',
      `manifest schema ${o.schema} is newer than this tool understands (${MANIFEST_SCHEMA}): update the tool`,
    );
  }
  const version = str(o.version, 'version');
  try {
    parseVersion(version);
  } catch {
    bad(`version ${JSON.stringify(version)} is not semver-like`);
  }
  if (!Array.isArray(o.files)) bad('files must be an array');
  const seen = new Set<string>();
  const files = o.files.map((f, i): ManifestFile => {
    const e = obj(f, `files[${i}]`);
    const path = releasePath(e.path, `files[${i}].path`);
    if (seen.has(path)) bad(`files lists ${path} twice`);
    if (reservedPath(path)) bad(`files[${i}].path ${path} is a reserved board path`);
    seen.add(path);
    return {
      path,
      size: size(e.size, `files[${i}].size`),
      sha1: hex(e.sha1, HEX40, `files[${i}].sha1`),
      sha256: hex(e.sha256, HEX64, `files[${i}].sha256`),
    };
  });
  const m: Manifest = {
    schema: o.schema,
    name: str(o.name, 'name'),
    version,
    created: isoDate(o.created, 'created'),
    files,
  };
  const del = pathList(o.delete, 'delete');
  const delReserved = del?.find((p) => reservedPath(p));
  if (delReserved !== undefined) bad(`delete names ${delReserved}, a reserved board path`);
  if (del) m.delete = del;
  const keep = pathList(o.keep, 'keep');
  if (keep) m.keep = keep;
  if (o.hooks !== undefined) {
    const h = obj(o.hooks, 'hooks');
    m.hooks = {};
    if (h.post_update !== undefined) m.hooks.post_update = releasePath(h.post_update, 'hooks.post_update');
    if (h.rollback !== undefined) m.hooks.rollback = releasePath(h.rollback, 'hooks.rollback');
  }
  if (o.bundle !== undefined) m.bundle = artifact(o.bundle, 'bundle', str);
  if (o.firmware !== undefined) {
    m.firmware = artifact(o.firmware, 'firmware', releasePath);
    if (m.firmware.size === 0) bad('firmware.size must be positive');
  }
  if (o.expires !== undefined) m.expires = isoDate(o.expires, 'expires');
  return m;
}
