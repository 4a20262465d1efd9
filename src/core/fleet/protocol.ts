/**
 * The fleet's MQTT contract (docs/protocols.md, "Fleet (MQTT)"): topics, payloads, signed documents, and the
 * rollout selection rule the boards apply (device/ota/fleet.py computes the same).
 *
 *   topics(fleet) -> { status(id), events(id), cmd(id), rollout, controller, all, sync(id) }
 *   parseDocument(bytes) -> object                   // a signed message's document, unverified (display)
 *   (signing and verifying: ./signed.ts, kept out of the extension's activation bundle)
 *   inRollout(id, group, doc) -> boolean
 *   parseStatus(bytes) / parseEvent(bytes)           // undefined for anything malformed
 *   brokerUrlProblem('mqtt://pi.local') -> undefined; brokerUrlProblem('tcp://x') -> 'The broker: …'
 */
import { createHash } from 'node:crypto';
import { OtaError } from '../errors';

export const COMMANDS = ['check', 'confirm', 'rollback', 'reboot'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** What the board publishes (retained) on devices/<id>/status; the last will carries only id and online. */
export interface DeviceStatus {
  id: string;
  online?: boolean;
  group?: string | null;
  app?: string | null;
  micropython?: string;
  board?: string;
  state?: string;
  channel?: string | null;
  /** Board clock (seconds) at the check. */
  checked?: number;
  result?: string;
  code?: string;
  msg?: string;
  free?: number;
  uptime?: number;
  mode?: string;
  /** The version the board last rolled back from (it refuses to install it again). */
  bad?: string;
  /** Timestamp of the newest rollout document the board took: no valid controller state is older. */
  rts?: number;
  /** The `ts` of the newest command the board took: the next one must be above it (see FleetConnection). */
  cts?: number;
}

/** The signed, retained `rollout` document. */
export interface RolloutDoc {
  fleet: string;
  version: string;
  percent: number;
  groups: string[];
  devices: string[];
  paused: boolean;
  aborted?: boolean;
  /** Milliseconds since the epoch; boards refuse a document older than the one in force. */
  ts: number;
}

export interface CommandDoc {
  fleet: string;
  cmd: CommandName;
  id: string;
  nonce: string;
  ts: number;
}

/** Longest message a board takes (device/ota/mqtt.py MAX_MSG); the host refuses to send more. */
export const BOARD_MAX_MSG = 2048;
/** Longest message the host model takes from a board. */
export const HOST_MAX_MSG = 8192;

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Why a broker URL cannot go in ota_config.json (undefined: it can), in words for an input box. The
 * board parses it as mqtt[s]://host[:port] (device/ota/fleetdoc.py broker()), so credentials, paths and
 * IPv6 literals are refused here rather than failing on the board; a password belongs in fleet.password.
 */
export function brokerUrlProblem(url: string): string | undefined {
  const example = 'e.g. mqtt://192.168.1.10:1883 or mqtts://broker.example.com:8883';
  const m = /^(mqtts?):\/\/([^/?#]*)\/?$/.exec(url);
  if (!m) {
    return /^[a-z]+:\/\//i.test(url) && !/^mqtts?:\/\//.test(url)
      ? `The broker URL must start with mqtt:// or mqtts:// (${example})`
      : `The broker URL must be mqtt://host:port or mqtts://host:port, nothing after the port (${example})`;
  }
  const authority = m[2];
  if (authority.includes('@'))
    return 'No user or password in the URL: it is stored in the project (the password step sends it to the board only)';
  if (authority.startsWith('['))
    return 'An IPv6 address is not supported by the board: use a host name or an IPv4 address';
  const hp = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!hp) return `The broker URL needs a host name or IPv4 address (${example})`;
  if (hp[2] !== undefined && (Number(hp[2]) < 1 || Number(hp[2]) > 65535))
    return `The port ${hp[2]} is not between 1 and 65535 (MQTT: 1883, MQTT over TLS: 8883)`;
  return undefined;
}

export function checkName(what: string, s: string): string {
  if (!NAME.test(s)) {
    throw new OtaError(
      'fleet_bad_name',
      `${what} ${JSON.stringify(s)} may use only letters, digits, . _ - (1-64)`,
    );
  }
  return s;
}

export function topics(fleet: string) {
  const pre = `ota/${checkName('fleet name', fleet)}/`;
  return {
    prefix: pre,
    all: `${pre}#`,
    status: (id: string) => `${pre}devices/${id}/status`,
    events: (id: string) => `${pre}devices/${id}/events`,
    cmd: (id: string) => `${pre}devices/${id}/cmd`,
    rollout: `${pre}rollout`,
    controller: `${pre}controller`,
    sync: (client: string) => `${pre}sync/${client}`,
  };
}

/** The first line of a signed message as a JSON object, unverified (display only: boards verify). */
export function parseDocument(bytes: Uint8Array): Record<string, unknown> {
  const buf = Buffer.from(bytes);
  const nl = buf.indexOf(10);
  let doc: unknown;
  try {
    doc = JSON.parse((nl < 0 ? buf : buf.subarray(0, nl)).toString('utf8'));
  } catch {
    throw new OtaError('bad_document', 'the document is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new OtaError('bad_document', 'the document is not a JSON object');
  }
  return doc as Record<string, unknown>;
}

/** sha256(id + version): its first 8 hex digits as a number, modulo 100. */
export function rolloutBucket(id: string, version: string): number {
  const h = createHash('sha256')
    .update(id + version, 'utf8')
    .digest();
  return h.readUInt32BE(0) % 100;
}

export function inRollout(
  id: string,
  group: string | null | undefined,
  doc: Pick<RolloutDoc, 'version' | 'percent' | 'groups' | 'devices'>,
): boolean {
  if (doc.devices.includes(id) || (group && doc.groups.includes(group))) return true;
  return rolloutBucket(id, doc.version) < doc.percent;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function parseJson(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length > HOST_MAX_MSG) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A status message, with only the fields of the right type kept; undefined without a valid id. */
export function parseStatus(bytes: Uint8Array): DeviceStatus | undefined {
  const v = parseJson(bytes);
  const id = v && str(v.id);
  if (!v || !id || !NAME.test(id)) return undefined;
  const s: DeviceStatus = { id };
  if (typeof v.online === 'boolean') s.online = v.online;
  for (const k of [
    'group',
    'app',
    'micropython',
    'board',
    'state',
    'channel',
    'result',
    'code',
    'msg',
    'mode',
    'bad',
  ] as const) {
    const x = str(v[k]);
    if (x !== undefined) s[k] = x.slice(0, 200);
  }
  for (const k of ['checked', 'free', 'uptime', 'rts', 'cts'] as const) {
    const x = num(v[k]);
    if (x !== undefined) s[k] = x;
  }
  return s;
}

/** One OTA event from devices/<id>/events; undefined when it is not a JSON object with an `ev` name. */
export function parseEvent(bytes: Uint8Array): { ev: string; [k: string]: unknown } | undefined {
  const v = parseJson(bytes);
  if (!v || typeof v.ev !== 'string' || !/^[a-z_]{1,20}$/.test(v.ev)) return undefined;
  return v as { ev: string };
}

/** The id segment of a devices/<id>/<leaf> topic under `prefix`. */
export function deviceTopic(prefix: string, topic: string): { id: string; leaf: string } | undefined {
  if (!topic.startsWith(prefix + 'devices/')) return undefined;
  const rest = topic.slice(prefix.length + 8).split('/');
  if (rest.length !== 2 || !NAME.test(rest[0])) return undefined;
  return { id: rest[0], leaf: rest[1] };
}
