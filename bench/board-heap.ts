// The board-heap measurement the updater and fleet benches share: one update on a virtual board
// with a sampler that wraps gc.collect and the updater's event function, so it sees the live heap
// at each event (after a collection) and the heap in use just before each collection the updater
// makes (live + garbage: what the path needs), against the idle heap with `modules` imported.
import * as fx from '../test/support/release-fixture';

/** What an unsigned update from a static host imports before its first event: the idle baseline. */
export const UPDATE_PATH = [
  'ota.log',
  'ota.fsx',
  'ota.sha1',
  'ota.http',
  'ota.manifest',
  'ota.journal',
  'ota.source',
  'ota.fetch',
  'ota.updater',
  'ota.reserved',
  'ota.tls',
  'ota.clock',
];

const SAMPLER = `
import gc, sys
_peak = {'progress': 0, 'all': 0, 'raw': 0}
_collect = gc.collect
def _gc():
    m = gc.mem_alloc()
    if m > _peak['raw']:
        _peak['raw'] = m
    _collect()
gc.collect = _gc
_ev = sys.modules['ota.log'].ev
def _sample(name, **kw):
    _gc()
    m = gc.mem_alloc()
    _peak['all'] = max(_peak['all'], m)
    if name == 'progress':
        _peak['progress'] = max(_peak['progress'], m)
    _ev(name, **kw)
for _n in list(sys.modules):
    if _n.startswith('ota.') and hasattr(sys.modules[_n], 'ev'):
        sys.modules[_n].ev = _sample
sys.modules['ota.log'].ev = _sample
`;

/** Bytes of heap, each peak above `idle`. */
export interface UpdateHeap {
  idle: number;
  /** Highest live heap while files streamed (progress events). */
  progress: number;
  /** Highest live heap over the whole update. */
  all: number;
  /** Highest heap in use (live + garbage) just before a collection. */
  raw: number;
  /** The board's output, for a caller that checks more than success. */
  output: string;
}

/** Runs `ota.update(reset=False)` on the board in fsDir with the sampler; throws unless it succeeds. */
export async function updateHeap(opts: {
  fsDir: string;
  modules: string[];
  flashKb?: number;
}): Promise<UpdateHeap> {
  const code = [
    'import ota',
    `import ${opts.modules.join(', ')}`,
    SAMPLER,
    '_collect()',
    'idle = gc.mem_alloc()',
    'v = ota.update(reset=False)',
    '_gc()',
    'print("HEAP", idle, _peak["progress"], _peak["all"], _peak["raw"], v)',
  ].join('\n');
  const r = await fx.runBoard({ fsDir: opts.fsDir, flashKb: opts.flashKb, code, timeoutMs: 120_000 });
  const m = /HEAP (\d+) (\d+) (\d+) (\d+) (\S+)/.exec(r.output);
  if (!m || m[5] === 'None') throw new Error(`update failed: ${r.output}${r.error ?? ''}`);
  const [idle, progress, all, raw] = m.slice(1, 5).map(Number) as [number, number, number, number];
  return { idle, progress: Math.max(0, progress - idle), all: all - idle, raw: raw - idle, output: r.output };
}

const AT_START = `
import gc, sys
def _fits(n):
    # One trial in its own frame: the caller's value stack would keep a stale pointer to the block
    # (the GC scans it conservatively), so a later, larger trial would fail on room still free.
    try:
        bytearray(n)
        return True
    except MemoryError:
        return False
def _largest():
    # The largest block the heap can give now: what the bundle's 33 KB window needs in one piece.
    lo, hi = 0, gc.mem_free() // 16 + 1
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        gc.collect()
        if _fits(mid * 16):
            lo = mid
        else:
            hi = mid
    gc.collect()
    return lo * 16
_ev = sys.modules['ota.log'].ev
def _at(name, **kw):
    if name == 'start':
        gc.collect()
        print("DLSTEP", gc.mem_free(), _largest())
    _ev(name, **kw)
for _n in list(sys.modules):
    if _n.startswith('ota.') and hasattr(sys.modules[_n], 'ev'):
        sys.modules[_n].ev = _at
sys.modules['ota.log'].ev = _at
import ota.updater
_w0 = ota.updater._window
def _w():
    # Where the window is asked for (a bundle only): what decides between the bundle and file by file.
    gc.collect()
    print("WINDOW", gc.mem_free(), _largest())
    return _w0()
ota.updater._window = _w
`;

/** The heap at the download step (the updater's `start` event, just before the bundle's window). */
export interface DownloadStep {
  /** gc.mem_free() after a collection. */
  free: number;
  /** The largest single block the heap could give (to 16 B). */
  largest: number;
  /** The same two where the updater asks for the bundle's window (absent when no bundle is used). */
  window?: { free: number; largest: number };
  output: string;
}

/** Runs `ota.update(reset=False)` on the board in fsDir and reads its heap at the download step. */
export async function downloadStep(opts: { fsDir: string; heapKb?: number }): Promise<DownloadStep> {
  const code = [
    'import ota',
    'import ota.updater',
    AT_START,
    'print("RESULT", ota.update(reset=False))',
  ].join('\n');
  const heap = opts.heapKb ? { heapKb: opts.heapKb } : {}; // absent: the standard board
  const r = await fx.runBoard({ fsDir: opts.fsDir, ...heap, code, timeoutMs: 120_000 });
  const m = /DLSTEP (\d+) (\d+)/.exec(r.output);
  if (!m || /RESULT None/.test(r.output)) throw new Error(`update failed: ${r.output}${r.error ?? ''}`);
  const w = /WINDOW (\d+) (\d+)/.exec(r.output);
  const window = w ? { free: Number(w[1]), largest: Number(w[2]) } : undefined;
  return { free: Number(m[1]), largest: Number(m[2]), window, output: r.output };
}
