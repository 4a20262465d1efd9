/**
 * The Fleet view's shape, without VS Code: versions -> groups -> boards, lazily (a node's children are
 * computed only when it is expanded) and paged (at most PAGE boards per node), filtered by text. The
 * extension maps these nodes to tree items; the fleet bench times them at 10 000 boards.
 *
 *   fleetChildren(model, node?, filter?) -> FleetNode[]
 *   boardSummary(b, now?) -> { description, tooltip }
 *   fleetStatusText(model) -> string      // the status-bar summary
 *   rolloutSummary(model, doc) -> { percent, paused, updated, failed, pending, text }
 */
import { printableLine } from '../printable';
import { compareVersions } from '../version';
import type { FleetBoard, FleetModel } from './model';
import { inRollout, type RolloutDoc } from './protocol';

export const PAGE = 200;

export type FleetNode =
  | { kind: 'version'; version: string; count: number; online: number; errors: number }
  | { kind: 'group'; version: string; group: string; count: number; online: number }
  | { kind: 'page'; version: string; group: string; from: number; to: number }
  | { kind: 'board'; id: string };

const NO_GROUP = '(no group)';

function matches(b: FleetBoard, f: string): boolean {
  if (!f) return true;
  return [b.id, b.group, b.app, b.state, b.error, b.online ? 'online' : 'offline', b.board]
    .filter((x): x is string => typeof x === 'string')
    .some((x) => x.toLowerCase().includes(f));
}

function byVersionDesc(a: string, b: string): number {
  try {
    return compareVersions(b, a);
  } catch {
    return a < b ? 1 : a > b ? -1 : 0;
  }
}

export function fleetChildren(model: FleetModel, node?: FleetNode, filter = ''): FleetNode[] {
  const f = filter.trim().toLowerCase();
  const boards = (version: string, group?: string): FleetBoard[] =>
    model.boards.filter(
      (b) =>
        (b.app ?? 'unknown') === version &&
        (group === undefined || (b.group ?? NO_GROUP) === group) &&
        matches(b, f),
    );
  if (!node) {
    const acc = new Map<string, { count: number; online: number; errors: number }>();
    for (const b of model.boards) {
      if (!matches(b, f)) continue;
      const v = b.app ?? 'unknown';
      const a = acc.get(v) ?? { count: 0, online: 0, errors: 0 };
      a.count++;
      if (b.online) a.online++;
      if (b.error) a.errors++;
      acc.set(v, a);
    }
    return [...acc.entries()]
      .sort(([a], [b]) => byVersionDesc(a, b))
      .map(([version, a]) => ({ kind: 'version', version, ...a }));
  }
  if (node.kind === 'version') {
    const acc = new Map<string, { count: number; online: number }>();
    for (const b of boards(node.version)) {
      const g = b.group ?? NO_GROUP;
      const a = acc.get(g) ?? { count: 0, online: 0 };
      a.count++;
      if (b.online) a.online++;
      acc.set(g, a);
    }
    return [...acc.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([group, a]) => ({ kind: 'group', version: node.version, group, ...a }));
  }
  if (node.kind === 'group' || node.kind === 'page') {
    const list = boards(node.version, node.group).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const from = node.kind === 'page' ? node.from : 0;
    const to = node.kind === 'page' ? node.to : list.length;
    const slice = list.slice(from, to);
    if (slice.length <= PAGE) return slice.map((b) => ({ kind: 'board', id: b.id }));
    const pages: FleetNode[] = [];
    const size = Math.max(PAGE, Math.ceil(slice.length / PAGE));
    for (let i = 0; i < slice.length; i += size) {
      pages.push({
        kind: 'page',
        version: node.version,
        group: node.group,
        from: from + i,
        to: from + Math.min(i + size, slice.length),
      });
    }
    return pages;
  }
  return [];
}

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 90
    ? `${s}s ago`
    : s < 5400
      ? `${Math.round(s / 60)}m ago`
      : s < 172800
        ? `${Math.round(s / 3600)}h ago`
        : `${Math.round(s / 86400)}d ago`;
}

export function boardSummary(b: FleetBoard, now = Date.now()): { description: string; tooltip: string } {
  const description = [
    b.online ? 'online' : 'offline',
    b.state ?? '?',
    b.reported ? `checked ${ago(b.reported, now)}` : 'not reported yet',
    b.error ? `⚠ ${b.error}` : '',
  ]
    .filter(Boolean)
    .map(printableLine) // a board's words, one line each: it cannot forge a row or steer a terminal
    .join(' · ');
  const rows: [string, unknown][] = [
    ['board', b.id],
    ['group', b.group ?? '-'],
    ['app version', b.app ?? '?'],
    ['MicroPython', b.micropython ?? '?'],
    ['hardware', b.board ?? '?'],
    ['OTA state', b.state ?? '?'],
    ['channel', b.channel ?? '-'],
    ['last check', b.reported ? `${new Date(b.reported).toISOString()} (${ago(b.reported, now)})` : '-'],
    ['last result', b.result ?? '-'],
    ['last error', b.error ?? 'none'],
    ['rolled back from', b.bad ?? '-'],
    ['free flash', b.free !== undefined ? `${Math.round(b.free / 1024)} KB` : '?'],
    ['power', b.mode === 'mains' ? 'mains (stays connected)' : 'battery (checks in)'],
  ];
  return { description, tooltip: rows.map(([k, v]) => `${k}: ${printableLine(String(v))}`).join('\n') };
}

export function fleetStatusText(model: FleetModel): string {
  const s = model.summary();
  if (s.boards === 0) return 'Fleet: no boards';
  const top = Object.entries(s.versions).sort(([a], [b]) => byVersionDesc(a, b))[0];
  return `Fleet: ${s.boards} boards, ${s.online} online, ${top[1]} on ${top[0]}${s.errors ? `, ${s.errors} failed` : ''}`;
}

/** A rollout's counts as the boards report them (the Releases view shows them beside the release). */
export function rolloutSummary(
  model: FleetModel,
  doc: Pick<RolloutDoc, 'version' | 'percent' | 'groups' | 'devices' | 'paused'> & { aborted?: boolean },
): { percent: number; paused: boolean; updated: number; failed: number; pending: number; text: string } {
  let updated = 0;
  let failed = 0;
  let pending = 0;
  for (const b of model.boards) {
    if (b.bad === doc.version || (b.app !== doc.version && b.result === 'error')) failed++;
    else if (b.app === doc.version) updated++;
    else if (!doc.aborted && inRollout(b.id, b.group, doc)) pending++;
  }
  const state = doc.aborted ? 'aborted' : doc.paused ? 'paused' : `${doc.percent}%`;
  return {
    percent: doc.percent,
    paused: doc.paused,
    updated,
    failed,
    pending,
    text: `rollout ${state}: ${updated} updated / ${failed} failed / ${pending} pending`,
  };
}
