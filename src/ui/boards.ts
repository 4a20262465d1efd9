// The boards the Devices view shows: ports found by listing (USB), ports named in
// settings, and virtual boards started from the editor; plus what each one reports. A board that
// comes back under another port name (native USB after a reset) is the same board, matched by its
// USB serial number: its node, facts and selection move to the new name. No VS Code API here, so
// tests run it against real boards (test/devices-tree.test.ts).
import type { releaseNotice } from '../core/journal-states';

export interface BoardInfo {
  port: string;
  virtual: boolean;
  board?: string;
  micropython?: string;
  appVersion?: string;
  otaState?: string;
  channel?: string;
  /** An OCI board's own reference (its ota_config.json `ref`): names it for a `{device}` one. */
  releaseRef?: string;
  freeFlash?: number;
  /** An update the app has not confirmed, or a newer release the board rolled back (core releaseNotice). */
  notice?: ReturnType<typeof releaseNotice>;
  /** Why the board could not be read (busy, no updater, …). */
  problem?: string;
}

/** A port as listing finds it. */
export interface ListedPort {
  path: string;
  serialNumber?: string;
}

/** What the registry needs from the core: listing ports and reading one board. */
export interface BoardProbe {
  list(): Promise<ListedPort[]>;
  read(port: string): Promise<Omit<BoardInfo, 'port' | 'virtual'>>;
}

export class BoardRegistry {
  private readonly infos = new Map<string, BoardInfo>();
  private readonly virtualPorts = new Map<string, () => Promise<void>>();
  private listed: string[] = [];
  /** USB serial number of every port seen (kept after it vanishes, to know it when it comes back). */
  private readonly serials = new Map<string, string>();
  /** What a port that vanished showed, and whether it was selected, until it comes back renamed. */
  private readonly vanished = new Map<string, { info?: BoardInfo; selected: boolean }>();
  private readonly listeners = new Set<() => void>();
  private readonly renameListeners = new Set<(from: string, to: string) => void>();
  /** The board commands act on when none is given. */
  selected: string | undefined;

  constructor(
    private readonly probe: () => Promise<BoardProbe>,
    private readonly configured: () => string[],
  ) {}

  /** Called after any change (as vscode.Event is used). */
  onDidChange(fn: () => void): { dispose(): void } {
    this.listeners.add(fn);
    return { dispose: () => this.listeners.delete(fn) };
  }

  /** Called when a board came back under a new port name. */
  onDidRename(fn: (from: string, to: string) => void): { dispose(): void } {
    this.renameListeners.add(fn);
    return { dispose: () => this.renameListeners.delete(fn) };
  }

  private fire(): void {
    for (const fn of this.listeners) fn();
  }

  ports(): string[] {
    return [...new Set([...this.virtualPorts.keys(), ...this.configured(), ...this.listed])];
  }

  info(port: string): BoardInfo {
    return this.infos.get(port) ?? { port, virtual: this.virtualPorts.has(port) };
  }

  isVirtual(port: string): boolean {
    return this.virtualPorts.has(port);
  }

  addVirtual(port: string, stop: () => Promise<void>, serialNumber?: string): void {
    this.virtualPorts.set(port, stop);
    if (serialNumber) this.serials.set(port, serialNumber);
    this.selected ??= port;
    this.fire();
  }

  /** Re-lists ports (plug/unplug); returns the ports that appeared, and tells the views of any change. */
  async rescan(): Promise<string[]> {
    const probe = await this.probe();
    const before = new Set(this.ports());
    const listing = await probe.list().catch(() => undefined);
    let renamed = false;
    if (listing) {
      this.listed = listing.map((l) => l.path);
      for (const l of listing) {
        if (!l.serialNumber || before.has(l.path)) {
          if (l.serialNumber) this.serials.set(l.path, l.serialNumber);
          continue;
        }
        // New here: the same board as a known port that is no longer listed?
        const from = [...before, ...this.vanished.keys()].find(
          (p) => p !== l.path && !this.listed.includes(p) && this.serials.get(p) === l.serialNumber,
        );
        this.serials.set(l.path, l.serialNumber);
        if (from) {
          this.move(from, l.path);
          renamed = true;
        }
      }
    }
    const now = this.ports();
    for (const port of before) {
      if (now.includes(port)) continue;
      this.vanished.set(port, { info: this.infos.get(port), selected: this.selected === port });
      this.infos.delete(port);
    }
    if (this.selected && !now.includes(this.selected)) this.selected = undefined;
    const added = now.filter((p) => !before.has(p));
    if (renamed || added.length || now.length !== before.size) this.fire();
    return added;
  }

  /** A board re-enumerated: its node, facts, virtual-board handle and selection follow it to `to`. */
  private move(from: string, to: string): void {
    const stop = this.virtualPorts.get(from);
    if (stop) {
      this.virtualPorts.delete(from);
      this.virtualPorts.set(to, stop);
    }
    const gone = this.vanished.get(from);
    const info = this.infos.get(from) ?? gone?.info;
    if (info) this.infos.set(to, { ...info, port: to, virtual: Boolean(stop) });
    if (this.selected === from || gone?.selected) this.selected = to;
    this.infos.delete(from);
    this.vanished.delete(from);
    this.serials.delete(from);
    for (const fn of this.renameListeners) fn(from, to);
  }

  /** Reads every board (or one) again and tells the views. */
  async refresh(port?: string): Promise<void> {
    const probe = await this.probe();
    const targets = port ? [port] : this.ports();
    await Promise.all(
      targets.map(async (p) => {
        try {
          this.infos.set(p, { port: p, virtual: this.virtualPorts.has(p), ...(await probe.read(p)) });
        } catch (err) {
          const problem = err instanceof Error ? err.message : String(err);
          this.infos.set(p, { ...this.info(p), problem });
        }
      }),
    );
    this.fire();
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
    this.renameListeners.clear();
    await Promise.all([...this.virtualPorts.values()].map((stop) => stop().catch(() => undefined)));
    this.virtualPorts.clear();
  }
}
