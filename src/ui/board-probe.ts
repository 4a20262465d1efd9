// Reads ports and board facts through the serial core (loads serialport on first use).
import { OtaError } from '../core/errors';
import { releaseNotice } from '../core/journal-states';
import { listBoards } from '../core/serial/discover';
import type { BoardInfo, BoardProbe } from './boards';
import type { Controller } from './controller';

function field(value: unknown, key: string): string | undefined {
  if (value && typeof value === 'object' && key in value) {
    const v = (value as Record<string, unknown>)[key];
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

/** The channel from the board's ota_config.json, reading nothing else of it (it may hold secrets). */
function channelOf(configBytes: Buffer | undefined): string | undefined {
  if (!configBytes) return undefined;
  try {
    const cfg = JSON.parse(configBytes.toString('utf8')) as Record<string, unknown>;
    const channel = field(cfg, 'channel') ?? 'stable';
    return channel === 'tag' ? `tag ${field(cfg, 'tag') ?? '?'}` : channel;
  } catch {
    return 'invalid ota_config.json';
  }
}

/** An OCI board's own reference from its ota_config.json (no secret: the password is apart). */
function ociRefOf(configBytes: Buffer | undefined): string | undefined {
  try {
    const cfg = configBytes && (JSON.parse(configBytes.toString('utf8')) as Record<string, unknown>);
    return field(cfg, 'source') === 'oci' ? field(cfg, 'ref') : undefined;
  } catch {
    return undefined;
  }
}

export function boardProbe(ctl: Controller): BoardProbe {
  return {
    async list() {
      return (await listBoards())
        .filter((b) => b.likely)
        .map((b) => ({ path: b.path, serialNumber: b.serialNumber }));
    },
    read(port): Promise<Omit<BoardInfo, 'port' | 'virtual'>> {
      return ctl.connections.use(port, async (board) => {
        const facts = await board.info();
        const config = await board.read('/ota_config.json').catch((err: unknown) => {
          if (err instanceof OtaError && err.code === 'not_found') return undefined;
          throw err;
        });
        const state = field(facts.otaState, 'state');
        const appVersion = field(facts.versionJson, 'version');
        return {
          board: facts.machine || facts.platform,
          micropython: facts.version,
          appVersion,
          notice: releaseNotice(facts.otaState, appVersion),
          otaState: state ?? (config ? 'idle' : 'no updater'),
          channel: channelOf(config),
          releaseRef: ociRefOf(config),
          freeFlash: facts.fsFree ?? undefined,
        };
      });
    },
  };
}
