// Power-cut sweeps at the block level (docs/updater-swap.md): an update, a fresh install or a rollback is
// cut at block write k (dropped or torn) on a FAT or LittleFS flash model; then the board boots, hashes
// every app file by SHA-256 on the board itself, updates again, lets the app write 32 KB and hashes
// again. A point passes when both hashings show one release whole and the last one is the release the
// board must end on. Shared by test/device-powercut-*.test.ts (sampled) and bench/powercut (every point).
import { cpSync, rmSync } from 'node:fs';
import type { CutMode, FsModel } from '../../src/sim/flash';
import * as fx from './release-fixture';

export interface FsCase {
  name: string;
  fs: FsModel;
  sectorSize?: number;
}
export const FS_CASES: FsCase[] = [
  { name: 'fat512', fs: 'fat', sectorSize: 512 },
  { name: 'fat4096', fs: 'fat', sectorSize: 4096 },
  { name: 'littlefs', fs: 'littlefs' },
];
export type Scenario = 'update' | 'fresh' | 'rollback';
export const SCENARIOS: Scenario[] = ['update', 'fresh', 'rollback'];
export const MODES: CutMode[] = ['drop', 'tear'];

const SKIP = [...fx.NOT_APP, 'rb_ran.txt', 'appdata.bin'];
const FILES = {
  ...fx.APP_1_1_0,
  'ota_hooks/rb.py': 'f = open("rb_ran.txt", "w")\nf.write("yes")\nf.close()\n',
};
const TREES = {
  old: fx.hashFiles(fx.APP_1_0_0),
  new: fx.hashFiles({ ...FILES, 'settings.json': fx.APP_1_0_0['settings.json'] }),
  none: {},
  fresh: fx.hashFiles(FILES),
};

/** Runs on the board: version.json's version and path -> SHA-256 of every app file it can see. */
const CHECK = `
import os, hashlib, binascii, json, gc, sys
# After ota.update() in this same REPL its modules still fill the heap (a board resets after an
# update): they go before the listing, which is the test's, not the updater's.
for _m in [m for m in sys.modules if m == 'ota' or m.startswith('ota.')]:
    del sys.modules[_m]
gc.collect()
def _h(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            h.update(b)
    return binascii.hexlify(h.digest()).decode()
def _t(d, out):
    for e in os.ilistdir(d if d else '/'):
        p = d + '/' + e[0] if d else e[0]
        if not d and e[0] in ${JSON.stringify(SKIP)}:
            continue
        if e[1] & 0x4000:
            _t(p, out)
        else:
            out[p] = _h(p)
    return out
def _v():
    try:
        with open('version.json') as f:
            return json.load(f)['version']
    except Exception as e:
        return repr(e)
print('TREE ' + json.dumps({'v': _v(), 't': _t('', {})}))
`;
const APP_WRITES = `
f = open('appdata.bin', 'wb')
for i in range(32):
    f.write(bytes([i]) * 1024)
f.close()
`;
const UPDATE = 'import ota\nota.update()\n';
const ROLLBACK = 'import ota\nota.rollback()\n';

type Seen = { v: string; t: Record<string, string> };

function trees(output: string): Seen[] {
  return output
    .split(/\r?\n/)
    .filter((l) => l.startsWith('TREE '))
    .map((l) => JSON.parse(l.slice(5)) as Seen);
}

/** Which release a board shows, or undefined when it is neither, whole. */
function which(s: Seen, fresh: boolean): 'old' | 'new' | undefined {
  const same = (t: Record<string, string>): boolean =>
    JSON.stringify(Object.entries(s.t).sort()) === JSON.stringify(Object.entries(t).sort());
  if (fresh) {
    if (same(TREES.none) && s.v.includes('Error')) return 'old';
    if (same(TREES.fresh) && s.v === '1.1.0') return 'new';
    return undefined;
  }
  if (same(TREES.old) && s.v === '1.0.0') return 'old';
  if (same(TREES.new) && s.v === '1.1.0') return 'new';
  return undefined;
}

export class Sweeper {
  private srv: fx.StaticServer | undefined;
  private readonly cleanups: string[] = [];
  private readonly templates = new Map<Scenario, string>();
  private readonly totals = new Map<Scenario, number>();

  constructor(private readonly fsc: FsCase) {}

  private opts(): { fs: FsModel; sectorSize?: number } {
    return { fs: this.fsc.fs, sectorSize: this.fsc.sectorSize };
  }

  async setup(): Promise<void> {
    const rel = await fx.makeRelease('1.1.0', FILES, {
      delete: ['old.py'],
      keep: ['settings.json'],
      hooks: { post_update: 'ota_hooks/post.py', rollback: 'ota_hooks/rb.py' },
    });
    const host = fx.tempDir('host');
    this.cleanups.push(rel.dir, host);
    fx.publishStatic(host, rel);
    this.srv = await fx.serveFolder(host);
    const cfg = { source: 'static', url: this.srv.url };
    const update = fx.makeBoard(cfg, fx.APP_1_0_0, '1.0.0');
    const fresh = fx.makeBoard(cfg, {}, undefined);
    const updated = this.copy(update);
    const r = await fx.runBoard({ fsDir: updated, ...this.opts(), code: 'import ota\nota.update(False)\n' });
    if (fx.errorCodes(r.output).length) throw new Error(`template update failed: ${r.output}`);
    this.cleanups.push(update, fresh);
    this.templates.set('update', update).set('fresh', fresh).set('rollback', updated);
    for (const s of SCENARIOS) {
      const full = await fx.runBoard({ fsDir: this.copy(this.templates.get(s)!), ...this.run(s) });
      if (full.error || full.powerCut) throw new Error(`${s} without a cut failed: ${full.output}`);
      this.totals.set(s, full.mutations);
    }
  }

  /** Block writes of the whole scenario, boot included: the cut points are 1..total. */
  total(s: Scenario): number {
    return this.totals.get(s)!;
  }

  private run(s: Scenario): { code: string; boot: boolean } {
    return s === 'rollback' ? { code: ROLLBACK, boot: false } : { code: UPDATE, boot: true };
  }

  private copy(template: string): string {
    const d = fx.tempDir('cut');
    this.cleanups.push(d, `${d}.fsmeta.json`);
    cpSync(template, d, { recursive: true });
    return d;
  }

  /** One cut point; resolves to what the board held after the cut, or rejects with what broke. */
  async point(s: Scenario, mode: CutMode, k: number): Promise<'old' | 'new'> {
    const fsDir = this.copy(this.templates.get(s)!);
    try {
      await fx.runBoard({ fsDir, ...this.opts(), ...this.run(s), cutAfterMutations: k, cutMode: mode });
      // Boot, hash, update again (the swap finishes in place), the app writes 32 KB, hash again.
      const code = `${CHECK}\nimport ota\nota.update(False)\n${APP_WRITES}\n${CHECK}`;
      const r = await fx.runBoard({ fsDir, ...this.opts(), code });
      const where = `${this.fsc.name} ${s} ${mode} k=${k}/${this.total(s)}`;
      const seen = trees(r.output);
      if (r.error || seen.length !== 2) throw new Error(`${where}: ${r.error ?? ''}\n${r.output}`);
      const first = which(seen[0], s === 'fresh');
      if (!first) throw new Error(`${where}: after boot neither release whole: ${JSON.stringify(seen[0])}`);
      const last = which(seen[1], s === 'fresh');
      const want = s === 'rollback' ? first : 'new';
      if (last !== want)
        throw new Error(
          `${where}: after the next update and 32 KB of app data: ${JSON.stringify(seen[1])}\n${r.output}`,
        );
      const errors = fx.errorCodes(r.output);
      if (errors.length) throw new Error(`${where}: the next update failed: ${r.output}`);
      return first;
    } finally {
      rmSync(fsDir, { recursive: true, force: true });
      rmSync(`${fsDir}.fsmeta.json`, { force: true });
    }
  }

  /** k values for a sample of about n points spread over 1..total (deterministic). */
  sample(s: Scenario, n: number, salt = 0): number[] {
    const total = this.total(s);
    if (n >= total) return [...Array(total).keys()].map((i) => i + 1);
    const stride = total / n;
    return [...Array(n).keys()].map((i) => 1 + Math.floor(i * stride + ((salt * 7 + i * 3) % stride)));
  }

  async close(): Promise<void> {
    await this.srv?.close();
    fx.cleanup(...this.cleanups);
  }
}
