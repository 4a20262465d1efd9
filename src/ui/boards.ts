// The boards the Devices view shows: ports found by listing (USB), ports named in
// settings, and virtual boards started from the editor; plus what each one reports.
import * as vscode from 'vscode';

export interface BoardInfo {
  port: string;
  virtual: boolean;
  board?: string;
  micropython?: string;
  appVersion?: string;
  otaState?: string;
  channel?: string;
  freeFlash?: number;
  /** Why the board could not be read (busy, no updater, …). */
  problem?: string;
}

/** What the registry needs from the core: listing ports and reading one board. */
export interface BoardProbe {
  list(): Promise<string[]>;
  read(port: string): Promise<Omit<BoardInfo, 'port' | 'virtual'>>;
}

export class BoardRegistry implements vscode.Disposable {
  private readonly infos = new Map<string, BoardInfo>();
  private readonly virtualPorts = new Map<string, () => Promise<void>>();
  private listed: string[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  /** The board commands act on when none is given. */
  selected: string | undefined;

  constructor(
    private readonly probe: () => Promise<BoardProbe>,
    private readonly configured: () => string[],
  ) {}

  ports(): string[] {
    return [...new Set([...this.virtualPorts.keys(), ...this.configured(), ...this.listed])];
  }

  info(port: string): BoardInfo {
    return this.infos.get(port) ?? { port, virtual: this.virtualPorts.has(port) };
  }

  isVirtual(port: string): boolean {
    return this.virtualPorts.has(port);
  }

  addVirtual(port: string, stop: () => Promise<void>): void {
    this.virtualPorts.set(port, stop);
    this.selected ??= port;
    this.changed.fire();
  }

  /** Re-lists ports (plug/unplug); returns the ports that appeared, and tells the views of any change. */
  async rescan(): Promise<string[]> {
    const probe = await this.probe();
    const before = new Set(this.ports());
    this.listed = await probe.list().catch(() => this.listed);
    const now = this.ports();
    for (const port of this.infos.keys()) if (!now.includes(port)) this.infos.delete(port);
    if (this.selected && !now.includes(this.selected)) this.selected = undefined;
    const added = now.filter((p) => !before.has(p));
    if (added.length || now.length !== before.size) this.changed.fire();
    return added;
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
    this.changed.fire();
  }

  async dispose(): Promise<void> {
    this.changed.dispose();
    await Promise.all([...this.virtualPorts.values()].map((stop) => stop().catch(() => undefined)));
    this.virtualPorts.clear();
  }
}
