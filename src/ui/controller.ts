// What every command shares: the output channel, the token, the boards, the views
// and the status bar. Built at activation from light modules only; the heavy ones
// (serialport, Octokit, the virtual board) load inside the commands that need them.
import * as vscode from 'vscode';
import { OtaError } from '../core/errors';
import { BoardRegistry, type BoardProbe } from './boards';
import { Connections } from './connections';
import { DevicesTree } from './devices-tree';
import { GitHubAuth } from './github-auth';
import { loadHeavy } from './load-heavy';
import { OtaOutput } from './output';
import { Redactor } from './redact';
import { ReleasesTree } from './releases-tree';
import { readSettings, workspaceRoot } from './settings';
import { latestOf, UpdateStatus } from './update-status';

const PLUG_POLL_MS = 3000;

export class Controller implements vscode.Disposable {
  readonly redactor = new Redactor();
  readonly output = new OtaOutput(this.redactor);
  readonly auth: GitHubAuth;
  readonly boards: BoardRegistry;
  readonly connections: Connections;
  readonly devices: DevicesTree;
  readonly devicesView: vscode.TreeView<unknown>;
  readonly releases = new ReleasesTree();
  readonly status: UpdateStatus;
  private readonly disposables: vscode.Disposable[] = [];
  /** The project's version (highest v* tag), compared with releases when no board is connected. */
  private workspaceVersion: string | undefined;

  constructor(readonly context: vscode.ExtensionContext) {
    this.auth = new GitHubAuth(context.secrets, this.redactor);
    this.connections = new Connections(this.output, () => readSettings().baudRate);
    this.boards = new BoardRegistry(
      (): Promise<BoardProbe> => Promise.resolve(loadHeavy().boardProbe(this)),
      () => readSettings().serialPorts,
    );
    this.devices = new DevicesTree(this.boards);
    this.status = new UpdateStatus(
      () => this.checkForUpdates(false),
      () => readSettings().checkIntervalMinutes * 60_000,
    );
    this.boards.onDidChange(() => this.showStatus());
    this.devicesView = vscode.window.createTreeView('ota.devices', { treeDataProvider: this.devices });
    // Boards come and go with USB cables: re-list while the view is on screen, read only newcomers.
    const poll = setInterval(() => {
      if (this.devicesView.visible) void this.rescanAndRead();
    }, PLUG_POLL_MS);
    this.disposables.push({ dispose: () => clearInterval(poll) });
    this.disposables.push(
      this.output,
      this.status,
      this.devicesView,
      vscode.window.registerTreeDataProvider('ota.releases', this.releases),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ota')) void this.status.run();
      }),
    );
  }

  async rescanAndRead(): Promise<void> {
    const added = await this.boards.rescan();
    await Promise.all(added.map((p) => this.boards.refresh(p)));
  }

  /** The project folder a release is built from. */
  projectDir(): string {
    const root = workspaceRoot();
    if (!root) throw new OtaError('no_workspace', 'Open the folder of your MicroPython project first.');
    return vscode.Uri.joinPath(root, readSettings().projectDir).fsPath;
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

  /** Fetches the releases for the Releases view and the status bar. */
  async checkForUpdates(interactive: boolean): Promise<void> {
    const { loadReleases } = loadHeavy();
    try {
      this.releases.set(await loadReleases(this, interactive));
    } catch (err) {
      this.releases.set(this.releases.all().slice(), err instanceof Error ? err.message : String(err));
      if (interactive) throw err;
      this.output.error(err instanceof Error ? err.message : String(err));
      throw err;
    }
    if (this.boards.ports().length === 0) {
      const root = workspaceRoot();
      this.workspaceVersion = root ? await loadHeavy().workspaceVersion(this.projectDir()) : undefined;
    }
    this.showStatus();
  }

  showStatus(): void {
    const { channel } = readSettings();
    const port = this.boards.selected ?? this.boards.ports()[0];
    const current = port ? this.boards.info(port).appVersion : this.workspaceVersion;
    this.status.show(
      latestOf(this.releases.all(), channel),
      current,
      port ? port.split('/').pop()! : 'the workspace',
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    void this.connections.dispose();
    void this.boards.dispose();
  }
}
