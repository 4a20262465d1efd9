/**
 * In-process serial links: a board that lives in this process (the virtual board) registers a port
 * name, and openBoard('link:…') talks to it with the same raw REPL bytes and the same client code
 * as over a USB serial port, with no pseudo-terminal, no native module and no OS support needed
 * (Windows has no pseudo-terminals at all).
 *
 *   const unregister = registerLink('link:board-1', { serialNumber, open: () => deviceSide() });
 *   const port = openLink('link:board-1');          // a BytePort (transport.ts)
 *   const [a, b] = linkPair();                      // two connected BytePorts
 *   listLinks()                                     // registered names with their USB identity
 *
 * Like a serial port, a link has one user at a time (a second open is 'port-in-use'), and
 * unregistering it (the board left the bus) closes the open end, as pulling a cable does.
 */
import { OtaError } from '../errors';
import type { BytePort } from './transport';

export const LINK_PREFIX = 'link:';

export function isLinkName(path: string): boolean {
  return path.startsWith(LINK_PREFIX);
}

/** USB identity a link reports to port listing, as a USB serial device would. */
export interface LinkIdentity {
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
}

export interface LinkDevice extends LinkIdentity {
  /** Connects a new host end; the device keeps running when it closes. */
  open(): BytePort;
}

interface Entry {
  device: LinkDevice;
  open: BytePort | undefined;
}

// One table per process, even when the extension's two bundles each hold a copy of this module.
const KEY = Symbol.for('micropython-ota.serial-links');
const registry: Map<string, Entry> = ((globalThis as Record<symbol, unknown>)[KEY] ??= new Map()) as Map<
  string,
  Entry
>;

/** Makes `name` openable; the returned function removes it (and closes the open end). */
export function registerLink(name: string, device: LinkDevice): () => Promise<void> {
  if (!isLinkName(name)) throw new Error(`link names start with ${LINK_PREFIX}: ${name}`);
  if (registry.has(name)) throw new OtaError('port-in-use', `${name} is already registered`);
  const entry: Entry = { device, open: undefined };
  registry.set(name, entry);
  return async () => {
    if (registry.get(name) !== entry) return;
    registry.delete(name);
    await entry.open?.close();
  };
}

export function openLink(name: string): BytePort {
  const entry = registry.get(name);
  if (!entry) {
    throw new OtaError(
      'port-open-failed',
      `cannot open ${name}: no virtual board of that name runs in this process (ota info --list shows ports)`,
    );
  }
  if (entry.open?.isOpen) throw new OtaError('port-in-use', `${name} is already open`);
  const port = entry.device.open();
  entry.open = port;
  return port;
}

export function listLinks(): (LinkIdentity & { path: string })[] {
  return [...registry].map(([path, { device }]) => ({
    path,
    serialNumber: device.serialNumber,
    vendorId: device.vendorId,
    productId: device.productId,
    manufacturer: device.manufacturer,
  }));
}

class LinkEnd implements BytePort {
  peer!: LinkEnd;
  private dataFns: ((chunk: Buffer) => void)[] = [];
  private closeFns: ((err?: Error) => void)[] = [];
  private closed = false;
  private closing = false;

  get isOpen(): boolean {
    return !this.closed && !this.closing;
  }

  write(data: Buffer): Promise<void> {
    if (this.closed || this.closing) return Promise.reject(new Error('link closed'));
    // Delivered on a later turn, as a serial port delivers: a reader never runs inside the writer's call.
    const copy = Buffer.from(data);
    return new Promise((resolve) =>
      setImmediate(() => {
        if (!this.peer.closed) for (const fn of this.peer.dataFns) fn(copy);
        resolve();
      }),
    );
  }

  onData(fn: (chunk: Buffer) => void): void {
    this.dataFns.push(fn);
  }

  onClose(fn: (err?: Error) => void): void {
    if (this.closed) fn();
    else this.closeFns.push(fn);
  }

  /**
   * Closes both ends: the other side sees its port close, after the bytes already written (a
   * serial line delivers what left before the cable went).
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) =>
      setImmediate(() => {
        this.end();
        this.peer.end();
        resolve();
      }),
    );
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    const fns = this.closeFns;
    this.closeFns = [];
    for (const fn of fns) fn();
  }
}

/** Two connected ends: what one writes, the other receives. Closing either closes both. */
export function linkPair(): [BytePort, BytePort] {
  const a = new LinkEnd();
  const b = new LinkEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
