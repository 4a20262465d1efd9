// The Fleet view in the OTA sidebar, its commands and its status-bar summary. Thin: the model, the
// tree's shape, signing and the rollout rules are in src/core/fleet. The broker connection and the
// controller load on first use (dist/commands.js), so activation stays light.
import * as vscode from 'vscode';
import type { FleetConnection } from '../core/fleet/connection';
import type { FleetBoard } from '../core/fleet/model';
import { brokerUrlProblem, parseDocument, type RolloutDoc } from '../core/fleet/protocol';
import { printableLine } from '../core/printable';
import {
  boardSummary,
  fleetChildren,
  fleetStatusText,
  rolloutSummary,
  type FleetNode,
} from '../core/fleet/view';
import type { ReleasesTree } from './releases-tree';
import type { OtaOutput } from './output';

const nBoards = (n: number): string => `${n} board${n === 1 ? '' : 's'}`;

const SECRET = 'ota.fleet.password';

interface FleetSettings {
  broker: string;
  name: string;
  user: string;
  ca: string;
  key: string;
  source: string;
}

function settings(): FleetSettings {
  const c = vscode.workspace.getConfiguration('ota.fleet');
  return {
    broker: c.get<string>('broker', ''),
    name: c.get<string>('name', ''),
    user: c.get<string>('user', ''),
    ca: c.get<string>('ca', ''),
    key: c.get<string>('key', ''),
    source: c.get<string>('releaseSource', ''),
  };
}

class FleetTree implements vscode.TreeDataProvider<FleetNode> {
  private readonly changed = new vscode.EventEmitter<FleetNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  conn: FleetConnection | undefined;
  filter = '';
  private timer: NodeJS.Timeout | undefined;

  /** Coalesces a burst of board messages into one refresh (10 000 boards report at once). */
  refresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire(undefined);
    }, 300);
  }

  getChildren(node?: FleetNode): FleetNode[] {
    return this.conn ? fleetChildren(this.conn.model, node, this.filter) : [];
  }

  getTreeItem(node: FleetNode): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    if (node.kind === 'version') {
      const item = new vscode.TreeItem(printableLine(node.version), C.Expanded);
      item.id = `v:${node.version}`;
      item.description = `${nBoards(node.count)}, ${node.online} online${node.errors ? `, ${node.errors} with errors` : ''}`;
      item.iconPath = new vscode.ThemeIcon('tag');
      return item;
    }
    if (node.kind === 'group') {
      const item = new vscode.TreeItem(printableLine(node.group), C.Collapsed);
      item.id = `g:${node.version}:${node.group}`;
      item.description = `${nBoards(node.count)}, ${node.online} online`;
      item.iconPath = new vscode.ThemeIcon('folder');
      return item;
    }
    if (node.kind === 'page') {
      const item = new vscode.TreeItem(`boards ${node.from + 1}–${node.to}`, C.Collapsed);
      item.id = `p:${node.version}:${node.group}:${node.from}`;
      return item;
    }
    const b = this.conn?.model.get(node.id);
    const item = new vscode.TreeItem(node.id, C.None);
    item.id = `b:${node.id}`;
    item.contextValue = 'fleetBoard';
    if (b) {
      const s = boardSummary(b);
      item.description = s.description;
      item.tooltip = s.tooltip;
      item.iconPath = new vscode.ThemeIcon(
        b.error ? 'error' : !b.online ? 'debug-disconnect' : b.state === 'confirm_pending' ? 'watch' : 'pass',
      );
    }
    return item;
  }
}

export class FleetView implements vscode.Disposable {
  readonly tree = new FleetTree();
  private readonly view: vscode.TreeView<FleetNode>;
  private readonly status: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: OtaOutput,
    private readonly heavy: () => typeof import('./fleet-heavy'),
    private readonly releases?: ReleasesTree,
  ) {
    this.view = vscode.window.createTreeView('ota.fleet', {
      treeDataProvider: this.tree,
      showCollapseAll: true,
    });
    this.status = vscode.window.createStatusBarItem('ota.fleet', vscode.StatusBarAlignment.Left, 10);
    this.status.name = 'OTA Fleet';
    this.status.command = 'ota.fleet.focus';
    this.disposables.push(
      this.view,
      this.status,
      this.view.onDidChangeSelection((e) => this.showEvents(e.selection)),
      vscode.commands.registerCommand('ota.fleet.connect', () => this.connect(true)),
      vscode.commands.registerCommand('ota.fleet.filter', () => this.askFilter()),
      vscode.commands.registerCommand('ota.fleet.rollout', () => this.rollout()),
      ...(['check', 'confirm', 'rollback', 'reboot'] as const).map((cmd) =>
        vscode.commands.registerCommand(`ota.fleet.${cmd}`, (node?: FleetNode) => this.command(cmd, node)),
      ),
    );
  }

  /** Connects when a broker is configured; `ask`: prompts for what is missing. */
  async connect(ask = false): Promise<FleetConnection | undefined> {
    if (this.tree.conn) return this.tree.conn;
    const s = settings();
    const config = vscode.workspace.getConfiguration('ota.fleet');
    if (!s.broker || !s.name) {
      if (!ask) return undefined;
      const broker = await vscode.window.showInputBox({
        title: 'Fleet broker',
        prompt: 'mqtts://host:8883 (or mqtt:// on a trusted network)',
        value: s.broker || 'mqtts://',
        validateInput: (v) => brokerUrlProblem(v.trim()),
        ignoreFocusOut: true,
      });
      if (!broker) return undefined;
      const name = await vscode.window.showInputBox({
        title: 'Fleet name',
        prompt: 'the topic prefix ota/<name>/',
        value: s.name,
        ignoreFocusOut: true,
      });
      if (!name) return undefined;
      await config.update('broker', broker, vscode.ConfigurationTarget.Workspace);
      await config.update('name', name, vscode.ConfigurationTarget.Workspace);
      return this.connect(ask);
    }
    let password = await this.context.secrets.get(SECRET);
    if (ask && s.user && password === undefined) {
      password = await vscode.window.showInputBox({
        title: `Password of ${s.user} on ${s.broker}`,
        password: true,
        ignoreFocusOut: true,
      });
      if (password) await this.context.secrets.store(SECRET, password);
    }
    if (password) this.output.redactor.add(password);
    try {
      const h = this.heavy();
      const conn = await h.connectFleet({
        url: s.broker,
        fleet: s.name,
        user: s.user || undefined,
        password: password || undefined,
        ca: s.ca ? await h.readText(s.ca) : undefined,
        onWarning: (warning) => this.output.warn(warning),
      });
      this.tree.conn = conn;
      conn.model.on('board', () => this.changed());
      conn.model.on('event', (id: string, e: { ev: string; code?: unknown; msg?: unknown }) => {
        if (e.ev === 'error' || e.ev === 'rollback')
          this.output.info(`fleet ${id}: ${e.ev} ${JSON.stringify(e)}`);
      });
      conn.client.on('close', () => {
        if (this.tree.conn === conn) this.tree.conn = undefined;
        this.status.text = '$(debug-disconnect) Fleet: disconnected';
      });
      await conn.sync();
      this.output.info(`fleet ${s.name}: connected to ${s.broker}, ${conn.model.size} boards`);
      this.changed();
      return conn;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.output.error(`fleet: ${msg}`);
      if (ask) void vscode.window.showErrorMessage(`OTA Fleet: ${msg}`);
      return undefined;
    }
  }

  /** The rollout the boards follow (the retained document, unverified: for display only). */
  private rolloutDoc(): RolloutDoc | undefined {
    const conn = this.tree.conn;
    const raw = conn?.latest.get(conn.t.rollout);
    if (!conn || !raw?.length) return undefined;
    try {
      return parseDocument(raw) as unknown as RolloutDoc;
    } catch {
      return undefined;
    }
  }

  /** The rollout of `version` in words, for the Releases view. */
  private rolloutText(version: string): string | undefined {
    const doc = this.rolloutDoc();
    return doc?.version === version ? rolloutSummary(this.tree.conn!.model, doc).text : undefined;
  }

  private changed(): void {
    this.tree.refresh();
    const conn = this.tree.conn;
    if (!conn) return;
    if (this.releases) {
      this.releases.rollout = (v) => this.rolloutText(v);
      this.releases.refresh();
    }
    // The rollout under way, in the same words as the Releases view, beside the fleet's counts.
    const doc = this.rolloutDoc();
    const rollout = doc ? ` · ${doc.version} ${rolloutSummary(conn.model, doc).text}` : '';
    this.status.text = `$(radio-tower) ${fleetStatusText(conn.model).replace(/^Fleet: /, '')}${rollout}`;
    this.status.tooltip = 'OTA fleet: show the Fleet view';
    this.status.show();
  }

  private showEvents(sel: readonly FleetNode[]): void {
    const node = sel[0];
    const b = node?.kind === 'board' ? this.tree.conn?.model.get(node.id) : undefined;
    if (!b) return;
    this.output.info(`fleet board ${b.id}: ${boardSummary(b).description}`);
    for (const e of b.events) {
      const { ev, at, ...rest } = e;
      this.output.info(`  ${new Date(at).toISOString().slice(11, 19)} ${ev} ${JSON.stringify(rest)}`);
    }
    if (b.events.length === 0) this.output.info('  (no events since this window connected)');
    this.output.channel.show(true);
  }

  private async askFilter(): Promise<void> {
    const f = await vscode.window.showInputBox({
      title: 'Filter the Fleet view',
      prompt: 'board id, group, version, state, error words, online/offline (empty: all)',
      value: this.tree.filter,
    });
    if (f === undefined) return;
    this.tree.filter = f;
    this.view.description = f ? `filter: ${f}` : undefined;
    this.tree.refresh();
  }

  private async key(): Promise<string | undefined> {
    const s = settings();
    if (s.key) return s.key;
    const pick = await vscode.window.showOpenDialog({
      title: 'Release key (from ota keygen) to sign fleet commands',
      canSelectMany: false,
    });
    const path = pick?.[0]?.fsPath;
    if (path)
      await vscode.workspace
        .getConfiguration('ota.fleet')
        .update('key', path, vscode.ConfigurationTarget.Workspace);
    return path;
  }

  private async command(cmd: 'check' | 'confirm' | 'rollback' | 'reboot', node?: FleetNode): Promise<void> {
    const conn = await this.connect(true);
    const target = node ?? this.view.selection[0];
    if (!conn || target?.kind !== 'board') return;
    const keyPath = await this.key();
    if (!keyPath) return;
    try {
      const h = this.heavy();
      await conn.command(target.id, cmd, await h.readKeyFile(keyPath));
      this.output.info(`fleet: ${cmd} sent to ${target.id} (signed); it acts on its next check-in`);
    } catch (err) {
      void vscode.window.showErrorMessage(`OTA Fleet: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async rollout(): Promise<void> {
    const conn = await this.connect(true);
    if (!conn) return;
    const version = await vscode.window.showInputBox({
      title: 'Roll out release',
      prompt: 'version, e.g. 1.3.0',
      ignoreFocusOut: true,
    });
    if (!version) return;
    const percent = await vscode.window.showInputBox({
      title: `Roll out ${version}: what share of the fleet?`,
      prompt: 'percentage of the fleet (raising it later only adds boards)',
      value: '10',
      validateInput: (v) => (/^(100|[1-9]?\d)$/.test(v) ? undefined : 'a whole number from 0 to 100'),
    });
    if (percent === undefined) return;
    const groups = await vscode.window.showInputBox({
      title: `Roll out ${version}: which groups in any case?`,
      prompt: 'groups always included, comma-separated (optional)',
    });
    const keyPath = await this.key();
    if (!keyPath) return;
    const s = settings();
    const source =
      s.source ||
      (await vscode.window.showInputBox({
        title: `Where is ${version} published?`,
        prompt: 'static host URL (https://…) or GitHub owner/name; saved as ota.fleet.releaseSource',
        ignoreFocusOut: true,
      }));
    if (!source) return;
    if (!s.source)
      await vscode.workspace
        .getConfiguration('ota.fleet')
        .update('releaseSource', source, vscode.ConfigurationTarget.Workspace);
    try {
      const h = this.heavy();
      const ctl = new h.RolloutController(conn, await h.readKeyFile(keyPath));
      const state = await ctl.start(
        {
          version,
          percent: Number(percent),
          groups: groups
            ? groups
                .split(',')
                .map((g) => g.trim())
                .filter(Boolean)
            : undefined,
        },
        (v) => h.releaseExistsAt(source, v),
      );
      const p = ctl.progress();
      this.output.info(
        `fleet: rollout ${state.version} at ${state.steps[state.step]}% started: ${nBoards(p.targeted)} targeted`,
      );
      void vscode.window.showInformationMessage(
        `Rolling out ${version} to ${percent}% of the fleet (${nBoards(p.targeted)} now).`,
      );
      this.changed();
    } catch (err) {
      void vscode.window.showErrorMessage(`OTA Fleet: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** For the end-to-end test: the boards the view holds. */
  boards(): FleetBoard[] {
    return this.tree.conn?.model.boards ?? [];
  }

  dispose(): void {
    void this.tree.conn?.close();
    for (const d of this.disposables) d.dispose();
  }
}
