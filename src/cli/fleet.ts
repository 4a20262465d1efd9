// `ota fleet`: the fleet on an MQTT broker from scripts and CI. Only presentation; rules are in core/fleet.
import { readFile } from 'node:fs/promises';
import { OtaError } from '../core/errors';
import { readKeyFile, type KeyFile } from '../core/keys';
import { connectFleet, type FleetConnection } from '../core/fleet/connection';
import type { FleetBoard } from '../core/fleet/model';
import { COMMANDS, type CommandName } from '../core/fleet/protocol';
import {
  publishRolloutAsset,
  releaseExists,
  writeRolloutFile,
  type ReleaseHost,
} from '../core/fleet/release';
import {
  parseDuration,
  parseMaxFailures,
  parseSteps,
  RolloutController,
  type RolloutState,
} from '../core/fleet/rollout';
import { parseCommand, untilStopped } from './common';

export const summary = 'see the boards in the field and roll releases out in stages (MQTT)';

const help = `usage: ota fleet status [--json]
       ota fleet watch
       ota fleet rollout <version> --percent N [--groups a,b] [--devices id,id]
                         [--max-failures 5%] [--step 10,50,100 --soak 30m] [--detach]
       ota fleet pause | resume <version> | abort <version>
       ota fleet check | confirm | rollback | reboot <board id>

Connects to the fleet's broker (any MQTT 3.1.1 broker) and reads the boards'
retained statuses. Commands and the rollout document are signed with the
release key; boards refuse anything else. A rollout runs here until it is
done or paused (--detach: start it and leave); the controller's state lives
in the broker, so \`ota fleet watch --key …\` anywhere carries it on. resume
and abort name the version of the rollout under way: a state replayed
through the broker (another version) is refused, never signed.

  --broker <url>        mqtt://host:port or mqtts://host:port (OTA_FLEET_BROKER)
  --fleet <name>        fleet name, the topic prefix ota/<name>/ (OTA_FLEET_NAME)
  --user <u>            broker user (OTA_FLEET_USER)
  --password <p>        broker password (OTA_FLEET_PASSWORD; prefer the variable)
  --ca <file>           CA certificate (PEM) of an mqtts broker (OTA_FLEET_CA)
  --key <keyfile>       release key from \`ota keygen\`, to sign (OTA_KEY)
  --source <url>        static host the release is published on (rollout: checks the
                        version exists; with --dir also writes rollout.json there)
  --repo <owner/name>   GitHub repository the release is published in (GITHUB_TOKEN,
                        GITHUB_API_URL); the rollout also goes there as rollout.json
  --dir <folder>        static-host folder: write rollout.json beside latest.json
  --json                status: one JSON document`;

const options = {
  broker: { type: 'string' },
  fleet: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  ca: { type: 'string' },
  key: { type: 'string' },
  source: { type: 'string' },
  repo: { type: 'string' },
  dir: { type: 'string' },
  json: { type: 'boolean' },
  percent: { type: 'string' },
  groups: { type: 'string' },
  devices: { type: 'string' },
  'max-failures': { type: 'string' },
  step: { type: 'string' },
  soak: { type: 'string' },
  detach: { type: 'boolean' },
} as const;

type Values = {
  [K in keyof typeof options]?: (typeof options)[K]['type'] extends 'boolean' ? boolean : string;
};

function need(v: string | undefined, what: string, env: string): string {
  const x = v ?? process.env[env];
  if (!x) throw new OtaError('bad_option', `${what} is needed (--${what} or ${env})`);
  return x;
}

async function connect(v: Values): Promise<FleetConnection> {
  const ca = v.ca ?? process.env.OTA_FLEET_CA;
  const conn = await connectFleet({
    url: need(v.broker, 'broker', 'OTA_FLEET_BROKER'),
    fleet: need(v.fleet, 'fleet', 'OTA_FLEET_NAME'),
    user: v.user ?? process.env.OTA_FLEET_USER,
    password: v.password ?? process.env.OTA_FLEET_PASSWORD,
    ca: ca ? await readFile(ca, 'utf8') : undefined,
    onWarning: (warning) => console.error(`warning: ${warning}`),
  });
  await conn.sync();
  return conn;
}

async function key(v: Values): Promise<KeyFile> {
  return readKeyFile(need(v.key, 'key', 'OTA_KEY'));
}

function ago(ms: number): string {
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function boardLine(b: FleetBoard): string {
  const parts = [
    b.id.padEnd(16),
    (b.online ? 'online' : 'offline').padEnd(8),
    (b.app ?? '?').padEnd(10),
    (b.state ?? '?').padEnd(16),
    (b.group ?? '-').padEnd(10),
    b.reported ? `checked ${ago(b.reported)}` : 'never reported',
  ];
  if (b.free !== undefined) parts.push(`free ${Math.round(b.free / 1024)} KB`);
  if (b.error) parts.push(`error: ${b.error}`);
  return parts.join(' ');
}

function rolloutLine(
  s: RolloutState,
  p: { targeted: number; updated: number; failed: number; pending: number },
): string {
  return (
    `rollout ${s.version}: ${s.status}${s.reason ? ` (${s.reason})` : ''}, ${s.steps[s.step]}%` +
    (s.steps.length > 1 ? ` (step ${s.step + 1}/${s.steps.length})` : '') +
    `, ${p.updated} updated / ${p.failed} failed / ${p.pending} pending of ${p.targeted}`
  );
}

function releaseHost(v: Values): ReleaseHost {
  if (v.source) return { url: v.source };
  if (v.repo) return { repo: v.repo, token: process.env.GITHUB_TOKEN, apiUrl: process.env.GITHUB_API_URL };
  throw new OtaError(
    'bad_option',
    'rollout needs --source <url> or --repo <owner/name> to check the release exists',
  );
}

const list = (s: string | undefined): string[] | undefined =>
  s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);

/** Where else the signed rollout goes: rollout.json in --dir, and as an asset of the GitHub release. */
function mirror(v: Values, version: string | undefined): ((signed: Buffer) => Promise<unknown>) | undefined {
  const outs: ((signed: Buffer) => Promise<unknown>)[] = [];
  if (v.dir) outs.push((signed) => writeRolloutFile(v.dir!, signed));
  if (v.repo && version) {
    const repo = v.repo;
    outs.push((signed) =>
      publishRolloutAsset(
        { repo, token: process.env.GITHUB_TOKEN, apiUrl: process.env.GITHUB_API_URL },
        version,
        signed,
      ),
    );
  }
  if (!outs.length) return undefined;
  return async (signed) => {
    for (const o of outs) await o(signed);
  };
}

/** Runs the controller until the rollout is done, paused or aborted, or until Ctrl-C. */
async function drive(ctl: RolloutController, stopWhenSettled: boolean): Promise<void> {
  let stop = false;
  const stopped = untilStopped(undefined).then(() => (stop = true));
  void stopped;
  while (!stop) {
    const line = await ctl.tick();
    if (line) console.log(line);
    const s = ctl.state;
    if (stopWhenSettled && s && s.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, help, options, true);
  if (!parsed) return 0;
  const v = parsed.values as Values;
  const [sub, arg, ...rest] = parsed.positionals;
  if (rest.length)
    throw new OtaError('bad_option', `unexpected ${rest.join(' ')} (--help lists the options)`);
  if (!sub) throw new OtaError('bad_option', 'ota fleet needs a subcommand (--help lists them)');

  if ((COMMANDS as readonly string[]).includes(sub)) {
    if (!arg) throw new OtaError('bad_option', `ota fleet ${sub} needs a board id`);
    const k = await key(v);
    const conn = await connect(v);
    try {
      if (!conn.model.get(arg))
        console.error(`note: board ${arg} has never reported; the command waits for it`);
      const doc = await conn.command(arg, sub as CommandName, k);
      console.log(`sent ${sub} to ${arg} (signed, ts ${doc.ts}); it acts on its next check-in`);
    } finally {
      await conn.close();
    }
    return 0;
  }

  const conn = await connect(v);
  try {
    switch (sub) {
      case 'status': {
        const k = v.key ?? process.env.OTA_KEY;
        const ctl = k ? new RolloutController(conn, await readKeyFile(k)) : undefined;
        const s = conn.model.summary();
        if (v.json) {
          console.log(
            JSON.stringify({
              summary: s,
              boards: conn.model.boards.map(({ events: _e, ...b }) => b),
              rollout: ctl?.state ? { ...ctl.state, progress: ctl.progress() } : undefined,
            }),
          );
          return 0;
        }
        console.log(
          `${s.boards} boards, ${s.online} online, ${s.errors} with errors, ${s.pending} waiting for confirmation`,
        );
        for (const [version, boards] of [...conn.model.byVersion()].sort()) {
          console.log(`\n${version} (${boards.length})`);
          for (const b of boards) console.log(`  ${boardLine(b)}`);
        }
        if (ctl?.state) console.log(`\n${rolloutLine(ctl.state, ctl.progress())}`);
        const why = ctl?.stale() ?? ctl?.rejected;
        if (why) console.log(`\nwarning: ${why}`);
        return 0;
      }
      case 'watch': {
        const k = v.key ?? process.env.OTA_KEY;
        conn.model.on('event', (id: string, e: { ev: string }) => {
          const { ev, at: _at, ...rest } = e as { ev: string; at: number };
          console.log(`${new Date().toISOString()} ${id} ${ev} ${JSON.stringify(rest)}`);
        });
        conn.model.on('board', (b: FleetBoard) => {
          if (b.events.length === 0 || !b.online) console.log(`${new Date().toISOString()} ${boardLine(b)}`);
        });
        if (k) {
          const ctl = new RolloutController(conn, await readKeyFile(k));
          if (ctl.state) console.log(rolloutLine(ctl.state, ctl.progress()));
          await drive(ctl, false);
        } else {
          await untilStopped(undefined);
        }
        return 0;
      }
      case 'rollout': {
        if (!arg) throw new OtaError('bad_option', 'ota fleet rollout needs a version');
        const host = releaseHost(v);
        const ctl = new RolloutController(conn, await key(v), { mirror: mirror(v, arg) });
        const s = await ctl.start(
          {
            version: arg,
            percent: v.percent !== undefined ? Number(v.percent) : undefined,
            steps: v.step ? parseSteps(v.step) : undefined,
            soakMs: v.soak ? parseDuration(v.soak) : undefined,
            groups: list(v.groups),
            devices: list(v.devices),
            maxFailures: v['max-failures'] ? parseMaxFailures(v['max-failures']) : undefined,
          },
          (ver) => releaseExists(host, ver),
        );
        console.log(rolloutLine(s, ctl.progress()));
        if (v.dir) console.log(`wrote ${v.dir}/rollout.json`);
        if (!v.detach) await drive(ctl, true);
        return ctl.state?.status === 'paused' ? 1 : 0;
      }
      case 'pause':
      case 'resume':
      case 'abort': {
        if (sub !== 'pause' && !arg)
          throw new OtaError('bad_option', `ota fleet ${sub} needs the version of the rollout under way`);
        if (sub === 'pause' && arg)
          throw new OtaError('bad_option', `unexpected ${arg} (--help lists the options)`);
        const probe = new RolloutController(conn, await key(v));
        const ctl = new RolloutController(conn, probe.key, { mirror: mirror(v, probe.state?.version) });
        if (sub === 'abort') {
          const ids = await ctl.abort(arg);
          console.log(
            `aborted; ${ids.length} boards go back to their previous release${ids.length ? `: ${ids.join(', ')}` : ''}`,
          );
        } else {
          const s = sub === 'pause' ? await ctl.pause() : await ctl.resume(arg);
          console.log(rolloutLine(s, ctl.progress()));
        }
        return 0;
      }
      default:
        throw new OtaError('bad_option', `unknown subcommand ${sub} (--help lists them)`);
    }
  } finally {
    await conn.close();
  }
}
