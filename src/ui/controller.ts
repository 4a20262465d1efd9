// What every command shares: the output channel, the token, the boards, the views, the status
// bar and the local release host. Built at activation from light modules only; the heavy ones
// (serialport, Octokit, the virtual board, the HTTP server) load inside the commands that need them.
import * as vscode from 'vscode';
import { isErrorCode } from '../core/error-codes';
import { OtaError } from '../core/errors';
import { shortPortName } from '../core/event-text';
import type { ReleaseStatus } from '../core/release-channels';
import { BoardRegistry, type BoardProbe } from './boards';
import { Connections } from './connections';
import { DevicesTree } from './devices-tree';
import { BOARD_SCHEME, FilesTree } from './files-tree';
import { GitHubAuth } from './github-auth';
import { loadHeavy } from './load-heavy';
import { OtaOutput } from './output';
import { Redactor } from './redact';
import { ReleasesTree } from './releases-tree';
import { readSettings, STATE, workspaceRoot, type Settings } from './settings';
import { latestOf, UpdateStatus } from './update-status';

const PLUG_POLL_MS = 3000;

/** A release folder served from this machine by "Serve Releases Locally". */
export interface LocalHost {
  url: string;
  dir: string;
  close(): Promise<void>;
}

export class Controller implements vscode.Disposable {
  readonly redactor = new Redactor();
  readonly output = new OtaOutput(this.redactor);
  readonly auth: GitHubAuth;
  readonly boards: BoardRegistry;
  readonly connections: Connections;
  readonly devices: DevicesTree;
  readonly devicesView: vscode.TreeView<unknown>;
  readonly releases = new ReleasesTree();
  readonly files: FilesTree;
  readonly status: UpdateStatus;
  /** "Serving releases" while the local host runs; "Watching" while a console is streamed. */
  private readonly serveItem = vscode.window.createStatusBarItem(
    'ota.serve',
    vscode.StatusBarAlignment.Left,
    49,
  );
  private readonly watchItem = vscode.window.createStatusBarItem(
    'ota.watch',
    vscode.StatusBarAlignment.Left,
    48,
  );
  private readonly disposables: vscode.Disposable[] = [];
  private localHost: LocalHost | undefined;
  /** The project's version (highest v* tag), compared with releases when no board is connected. */
  private workspaceVersion: string | undefined;

  constructor(readonly context: vscode.ExtensionContext) {
    this.auth = new GitHubAuth(context.secrets, this.redactor);
    this.connections = new Connections(
      this.output,
      () => this.settings().baudRate,
      () => this.watchesChanged(),
    );
    this.boards = new BoardRegistry(
      (): Promise<BoardProbe> => Promise.resolve(loadHeavy().boardProbe(this)),
      () => this.settings().serialPorts,
    );
    this.devices = new DevicesTree(this.boards, (port) => this.connections.isWatching(port));
    this.status = new UpdateStatus(
      async () => void (await this.checkForUpdates(false)),
      () => this.settings().checkIntervalMinutes * 60_000,
    );
    this.files = new FilesTree(this);
    this.boards.onDidChange(() => {
      this.showStatus();
      this.files.refresh();
    });
    this.devicesView = vscode.window.createTreeView('ota.devices', { treeDataProvider: this.devices });
    this.serveItem.name = 'OTA release host';
    this.watchItem.name = 'OTA watch';
    // Boards come and go with USB cables: re-list while the view is on screen, read only newcomers.
    const poll = setInterval(() => {
      if (this.devicesView.visible) void this.rescanAndRead();
    }, PLUG_POLL_MS);
    this.disposables.push({ dispose: () => clearInterval(poll) });
    this.disposables.push(
      this.output,
      this.status,
      this.serveItem,
      this.watchItem,
      this.devicesView,
      vscode.window.createTreeView('ota.releases', { treeDataProvider: this.releases }),
      vscode.window.createTreeView('ota.files', { treeDataProvider: this.files }),
      vscode.workspace.registerTextDocumentContentProvider(BOARD_SCHEME, this.files),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ota')) void this.status.run();
      }),
    );
  }

  /** The settings, with what Configure Device stored for this workspace on top. */
  settings(): Settings {
    return readSettings(this.deviceConfig());
  }

  /** The board configuration Configure Device stored (workspace state: no file in the project). */
  deviceConfig(): Record<string, unknown> | undefined {
    return this.context.workspaceState.get<Record<string, unknown>>(STATE.deviceConfig);
  }

  async setDeviceConfig(config: Record<string, unknown>): Promise<void> {
    await this.context.workspaceState.update(STATE.deviceConfig, config);
    await vscode.commands.executeCommand('setContext', 'ota.configured', true);
    void this.status.run();
  }

  /** The release host this machine serves, if any. */
  served(): LocalHost | undefined {
    return this.localHost;
  }

  setServed(host: LocalHost | undefined): void {
    this.localHost = host;
    if (host) {
      this.serveItem.text = `$(radio-tower) Serving releases ${new URL(host.url).host}`;
      this.serveItem.tooltip = `Serving ${host.dir} at ${host.url} for boards.\nClick to stop.`;
      this.serveItem.command = 'ota.stopServing';
      this.serveItem.show();
    } else this.serveItem.hide();
    void vscode.commands.executeCommand('setContext', 'ota.serving', Boolean(host));
    void this.status.run();
  }

  private watchesChanged(): void {
    const ports = this.connections.watched();
    if (ports.length) {
      this.watchItem.text = `$(eye) Watching ${ports.map(shortPortName).join(', ')}`;
      this.watchItem.tooltip = `The board's console streams into the MicroPython OTA output.\nClick to stop watching.`;
      this.watchItem.command = { title: 'Stop Watching', command: 'ota.stopWatching', arguments: [ports[0]] };
      this.watchItem.show();
    } else this.watchItem.hide();
    void vscode.commands.executeCommand('setContext', 'ota.watching', ports.length > 0);
    this.devices.refresh();
  }

  async rescanAndRead(): Promise<void> {
    const added = await this.boards.rescan();
    await Promise.all(added.map((p) => this.boards.refresh(p)));
  }

  /** The project folder a release is built from. */
  projectDir(): string {
    const root = workspaceRoot();
    if (!root) throw new OtaError('no_workspace', 'Open the folder of your MicroPython project first.');
    return vscode.Uri.joinPath(root, this.settings().projectDir).fsPath;
  }

  /** The board a command acts on: the one given (tree node or path), the selected one, or a pick. */
  async board(arg?: unknown): Promise<string> {
    if (typeof arg === 'string') return arg;
    if (arg && typeof arg === 'object' && 'port' in arg && typeof arg.port === 'string') return arg.port;
    if (this.boards.selected) return this.boards.selected;
    const ports = this.boards.ports();
    if (ports.length === 1) return ports[0];
    const { selectPort } = loadHeavy();
    const port = await selectPort(this);
    if (!port) throw new OtaError('no_board', 'No board selected.');
    return port;
  }

  /** Fetches the releases for the Releases view and the status bar; the view says why when there are none. */
  async checkForUpdates(interactive: boolean, signIn = false): Promise<ReleaseStatus> {
    const { loadReleases } = loadHeavy();
    let status: ReleaseStatus;
    try {
      status = await loadReleases(this, interactive, signIn);
    } catch (err) {
      if (interactive) throw err;
      const message = err instanceof Error ? err.message : String(err);
      status = { state: 'error', host: '', code: (err as { code?: string }).code ?? 'error', message };
    }
    this.releases.set(status, this.localHost?.url);
    if (status.state !== 'ok') {
      this.output.warn(`Releases: ${status.message}`);
      this.showStatus();
      if (status.state === 'unreachable') throw new OtaError('unreachable', status.message);
      if (status.state === 'error')
        throw new OtaError(isErrorCode(status.code) ? status.code : 'http_status', status.message);
      return status;
    }
    if (this.boards.ports().length === 0 && workspaceRoot()) {
      this.workspaceVersion = await loadHeavy().workspaceVersion(this.projectDir());
    }
    this.showStatus();
    return status;
  }

  showStatus(): void {
    const { channel } = this.settings();
    const port = this.boards.selected ?? this.boards.ports()[0];
    const current = port ? this.boards.info(port).appVersion : this.workspaceVersion;
    this.status.show(
      latestOf(this.releases.all(), channel),
      current,
      port ? shortPortName(port) : 'the workspace',
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    void this.localHost?.close();
    void this.connections.dispose();
    void this.boards.dispose();
  }
}
