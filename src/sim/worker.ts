// The virtual board's CPU: MicroPython (WebAssembly) in a worker thread. Python code runs synchronously
// here; anything that must wait (sockets, sleeps) parks this thread on shared memory with Atomics.wait
// while the main thread does the I/O, so Python sees blocking calls as on a board.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Flash, FLASH_ROOT, type CutMode } from './flash';
import { boardModules } from './pymods';
import { esp32Module, partitionBridge } from './esp32';
import { translateErrnos } from './errno';
import { shareMemory } from './sharedmem';
import {
  CERT_VERIFY_FAILED,
  DATA_BYTES,
  INTERRUPTED,
  Slot,
  type ExecMode,
  type FromWorker,
  type HostCall,
  type ToWorker,
  type WorkerConfig,
} from './protocol';

/* eslint-disable @typescript-eslint/no-explicit-any -- the interpreter's JavaScript API is untyped */

const cfg = workerData as WorkerConfig;
const control = new Int32Array(cfg.control);
const shared = new Uint8Array(cfg.data);
const port = parentPort!;

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port.postMessage(msg, transfer ?? []);
}

// UART out: boards send "\r\n" for "\n" on the console.
let out: number[] = [];
let last = 0;
/** While set, printed bytes are a traceback for the run's result, not UART output. */
let errText: number[] | undefined;
function putByte(c: number): void {
  if (errText) {
    errText.push(c);
    return;
  }
  if (c === 10 && last !== 13) out.push(13);
  out.push(c);
  last = c;
  if (c === 10 || out.length >= 1024) flush();
}
function flush(): void {
  if (out.length === 0) return;
  const bytes = Uint8Array.from(out);
  out = [];
  post({ t: 'out', bytes }, [bytes.buffer]);
}

/** Stops this CPU for good: the main thread terminates the worker after a reset or a power cut. */
function halt(): never {
  for (;;) Atomics.wait(control, Slot.Halt, 0);
}

function interrupted(): boolean {
  if (Atomics.exchange(control, Slot.Interrupt, 0) !== 1) return false;
  clearInterrupt();
  return true;
}

function hostCall(call: HostCall, transfer: ArrayBuffer[] = []): number {
  const seq = (Atomics.add(control, Slot.CallSeq, 1) + 1) | 0;
  // The call before the output: by the time the host sees what the program printed (a prompt, a
  // request for data), the main thread knows the program is reading, as a board in its read loop is.
  post({ t: 'call', seq, call }, transfer);
  flush();
  // Only this call's own number ends the wait (docs/architecture.md, "Virtual board (`src/sim/`)"). The main thread
  // stores an answer, then notifies; when this thread sees the store first it goes on, and that notify
  // can land in its wait for the next call. Woken by it, the next call read the last result and the bytes
  // still in the data buffer (a send's 2 and "12" of a resolved "127.0.0.1": a status line read as
  // "12HTTP/1.1 200 OK").
  for (;;) {
    const done = Atomics.load(control, Slot.CallDone);
    if (done === seq) return Atomics.load(control, Slot.CallResult);
    Atomics.wait(control, Slot.CallDone, done);
  }
}

let memory: { buffer: ArrayBuffer | SharedArrayBuffer } | undefined;
/** 1 GB: the most the shared memory may grow to (the heap limit stops it far earlier). */
const MAX_PAGES = 16384;

/**
 * The words mp_sched_keyboard_interrupt() writes (word index, value, value when nothing is pending),
 * found by watching it once at boot. The main thread replays them on Ctrl-C, as the UART interrupt does.
 */
let kbdWrites: [number, number, number][] = [];

function findInterruptWrites(mp: any): void {
  if (!(memory?.buffer instanceof SharedArrayBuffer)) return;
  // Raise one KeyboardInterrupt first, so its traceback field is set and shows up among the writes.
  mp.registerJsModule('_board_kbd', { interrupt: () => mp._module._mp_sched_keyboard_interrupt() });
  mp.runPython(
    "import sys\ntry:\n    sys.modules.pop('_board_kbd').interrupt()\n    while True:\n        pass\nexcept KeyboardInterrupt:\n    pass\ndel sys",
  );
  const before = new Int32Array(memory.buffer.slice(0));
  mp._module._mp_sched_keyboard_interrupt();
  const now = new Int32Array(memory.buffer);
  const writes: [number, number, number][] = [];
  for (let i = 0; i < before.length && writes.length <= 8; i++) {
    // A pointer the call clears (the traceback) stays cleared; flags and the exception slot go back.
    if (before[i] !== now[i])
      writes.push([i, now[i], now[i] === 0 && Math.abs(before[i]) > 255 ? 0 : before[i]]);
  }
  for (const [i, , idle] of writes) now[i] = idle;
  // Non-zero first: the exception pointer must be in place before the "pending" flag is seen.
  if (writes.length >= 2 && writes.length <= 8)
    kbdWrites = writes.sort((a, b) => Number(b[1] !== 0) - Number(a[1] !== 0));
}

/**
 * The word holding micropython.kbd_intr()'s character (mp_interrupt_char), found at boot as the one that
 * follows a few kbd_intr calls. The UART side reads it, so kbd_intr(-1) makes Ctrl-C data, as on a board.
 */
let charWord = -1;

function findInterruptChar(mp: any): void {
  if (!(memory?.buffer instanceof SharedArrayBuffer)) return;
  const now = () => new Int32Array(memory!.buffer);
  let found: number[] | undefined;
  for (const c of [90, 60, 33, 77]) {
    mp.runPython(`import micropython\nmicropython.kbd_intr(${c})\ndel micropython`);
    const words = now();
    if (found) found = found.filter((i) => words[i] === c);
    else {
      found = [];
      for (let i = 0; i < words.length; i++) if (words[i] === c) found.push(i);
    }
  }
  // A scratch word can follow the calls too: the variable keeps its value across unrelated code.
  mp.runPython('import json\njson.dumps([1, "a", {"b": 2.5}])\ndel json');
  const words = now();
  found = found?.filter((i) => words[i] === 77);
  if (found?.length === 1) charWord = found[0];
}

/**
 * Where the wasm build keeps its count of calls in progress from JavaScript (external_call_depth). It
 * collects garbage only when that count returns to 0, i.e. never while Python code runs. Found at boot
 * as the one word that reads 0, 1 and 2 at nesting depths 0, 1 and 2.
 */
let depthWord = -1;

function findCallDepth(mp: any): void {
  if (!(memory?.buffer instanceof SharedArrayBuffer)) return;
  const copy = (): Int32Array => new Int32Array(memory!.buffer.slice(0));
  const top = copy();
  let one: Int32Array | undefined;
  let two: Int32Array | undefined;
  mp.registerJsModule('_board_depth', {
    one: () => {
      one = copy();
      mp.runPython("__import__('_board_depth').two()");
    },
    two: () => {
      two = copy();
    },
  });
  mp.runPython("import sys\nsys.modules['_board_depth'].one()\nsys.modules.pop('_board_depth')\ndel sys");
  if (!one || !two) return;
  const found: number[] = [];
  const n = Math.min(top.length, one.length, two.length);
  for (let i = 0; i < n && found.length < 2; i++) {
    if (top[i] === 0 && one[i] === 1 && two[i] === 2) found.push(i);
  }
  if (found.length === 1) depthWord = found[0];
}

/**
 * gc.collect() from Python: a real collection now, as on a board. The count of calls in progress is set
 * to 0 for a nested empty run, whose end then collects, tracing the interpreter's roots and the Python
 * stack (every running frame). C code between here and Python holds no objects of its own when
 * gc.collect() is called from Python code, which is the case this serves.
 */
function collectGarbage(mp: any): void {
  if (depthWord < 0) return;
  const words = new Int32Array(memory!.buffer);
  const depth = words[depthWord];
  words[depthWord] = 0;
  try {
    mp.runPython('');
  } finally {
    words[depthWord] = depth;
  }
}

/** Drops a Ctrl-C the interpreter has not acted on yet (between runs, or one already raised by a host call). */
function clearInterrupt(): void {
  if (kbdWrites.length === 0) return;
  const now = new Int32Array(memory!.buffer);
  for (const [i, , idle] of kbdWrites) Atomics.store(now, i, idle);
}
/** Once set, the WebAssembly memory cannot grow: the heap limit is in force. */
let memoryFixed = false;
let capturedErr = '';
/** The next run's file name and source, fetched by the Python runner inside its own try block. */
let pendingName = '';
let pendingSource = '';
/** C heap left free for the JavaScript glue (source text of a run, proxies); less than the Python heap. */
let glueBytes = 0;

/**
 * Caps the Python heap at its initial size. The wasm build grows its heap by allocating a new area of at
 * least the current heap size from the C heap when an allocation fails; with the memory fixed and the C
 * heap filled up to a margin smaller than that, growth fails and MemoryError is raised as on a board.
 */
function fixHeap(mp: any): void {
  const malloc = mp._module._malloc as (n: number) => number;
  glueBytes = Math.min(cfg.heapKb - 8, 200) * 1024;
  // Taken while the memory can still grow: a big Python heap can leave the initial memory without room
  // for it, and the glue's malloc then answers 0 and writes strings and results at address 0 (the bottom
  // of the C stack), which corrupted the interpreter (a 16 MB heap crashed on its second connect).
  const margin = malloc(glueBytes);
  memoryFixed = true;
  if (margin === 0) throw new Error(`no room for the interpreter's ${glueBytes} bytes of glue memory`);
  for (let size = 16 * 1024 * 1024; size >= 64; size >>= 1) while (malloc(size) !== 0);
  mp._module._free(margin);
}
function heap(): Uint8Array {
  return new Uint8Array(memory!.buffer);
}

async function loadInterpreter(): Promise<any> {
  // Keep the instance's memory so host calls can read and write Python buffers in place.
  const wasm = (globalThis as any).WebAssembly;
  const instantiate = wasm.instantiate;
  wasm.instantiate = async (binary: unknown, imports?: Record<string, Record<string, unknown>>) => {
    if (imports?.env?.__syscall_openat) {
      translateErrnos(imports);
      const resize = imports.env.emscripten_resize_heap as (n: number) => number;
      imports.env.emscripten_resize_heap = (n: number) => (memoryFixed ? 0 : resize(n));
      const shared = shareMemory(new Uint8Array(binary as ArrayBuffer), MAX_PAGES);
      if (shared) {
        imports.env.memory = shared.memory;
        binary = shared.wasm;
      }
    }
    const result = await instantiate(binary, imports);
    const exports = (result.instance ?? result).exports;
    if (exports?.mp_js_init) memory = exports.memory;
    return result;
  };
  const require = createRequire(__filename);
  const entry = require.resolve('@micropython/micropython-webassembly-pyscript');
  const { loadMicroPython } = await import(pathToFileURL(entry).href);
  return loadMicroPython({
    heapsize: cfg.heapKb * 1024,
    linebuffer: false,
    stdout: (bytes: Uint8Array) => bytes.forEach(putByte),
    // Never the host process's own stdin: readStdin() below puts the UART there.
    stdin: () => null,
  });
}

/**
 * sys.stdin reads the UART, as on a board: a read of n bytes is one host call that blocks until all n have
 * come (a board's C loop pulls them from its receive ring as they arrive). Ctrl-C ends it early.
 */
function readStdin(mp: any): void {
  const stream = mp.FS.getStream(0);
  stream.stream_ops = {
    ...stream.stream_ops,
    read(_s: unknown, buffer: Int8Array, offset: number, length: number): number {
      const n = hostCall({ op: 'stdin', max: Math.min(length, DATA_BYTES) });
      if (n <= 0) return 0;
      buffer.set(new Int8Array(shared.buffer, 0, n), offset);
      return n;
    },
  };
}

const SEXTET = new Int8Array(256).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries())
  SEXTET[c.charCodeAt(0)] = i;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Counts one flash step (a mutation, or a block write on LittleFS/FAT); at cfg.cutAt, how it lands. */
function step(): 'full' | CutMode {
  const n = Atomics.add(control, Slot.Mutations, 1) + 1;
  return cfg.cutAt > 0 && n >= cfg.cutAt ? cfg.cutMode : 'full';
}

function cut(): never {
  flush();
  post({ t: 'cut' });
  halt();
}

/** Counts one whole mutation (partition writes); the power is cut right after it at cfg.cutAt. */
function mutated(): void {
  if (step() !== 'full') cut();
}

function bridge(mp: any): Record<string, unknown> {
  const hashes = new Map<number, Hash>();
  let nextHash = 1;
  return {
    ...(cfg.partitions && cfg.running ? partitionBridge(cfg.partitions, cfg.running, heap, mutated) : {}),
    sleep_ms(ms: number): number {
      flush();
      const until = Date.now() + Math.max(0, ms);
      for (;;) {
        if (interrupted()) return INTERRUPTED;
        const left = until - Date.now();
        if (left <= 0) return 0;
        Atomics.wait(control, Slot.Wake, 0, Math.min(left, 50));
      }
    },
    reset(soft: boolean): void {
      flush();
      post({ t: 'reset', soft });
      halt();
    },
    reset_cause: () => cfg.resetCause,
    collect: () => collectGarbage(mp),
    source: () => [pendingName, pendingSource],
    err(on: boolean): void {
      errText = on ? [] : errText;
      if (!on) capturedErr = Buffer.from(errText ?? []).toString('utf8');
      if (!on) errText = undefined;
    },
    urandom: (n: number) => new Uint8Array(randomBytes(n)),
    sha1_new(): number {
      hashes.set(nextHash, createHash('sha1'));
      return nextHash++;
    },
    sha1_update(h: number, addr: number, n: number): void {
      hashes.get(h)!.update(heap().subarray(addr, addr + n));
    },
    sha1_digest(h: number): Uint8Array {
      const d = hashes.get(h)!.digest();
      hashes.delete(h);
      return new Uint8Array(d);
    },
    // binascii's C code (modbinascii.c), working on the Python buffers in place.
    b64_decode(src: number, n: number, dst: number): number {
      const h = heap();
      let shift = 0;
      let nbits = 0;
      let hadPad = false;
      let k = 0;
      for (let i = src; i < src + n; i++) {
        const c = h[i];
        if (c === 0x3d) {
          if (nbits === 2 || (nbits === 4 && hadPad)) {
            nbits = 0;
            break;
          }
          hadPad = true;
        }
        const v = SEXTET[c];
        if (v < 0) continue;
        hadPad = false;
        shift = ((shift << 6) | v) & 0xffffff;
        nbits += 6;
        if (nbits >= 8) {
          nbits -= 8;
          h[dst + k++] = (shift >> nbits) & 0xff;
        }
      }
      return nbits ? -1 : k;
    },
    b64_encode(src: number, n: number, dst: number, newline: boolean): void {
      const h = heap();
      const text = Buffer.from(h.subarray(src, src + n)).toString('base64');
      h.set(Buffer.from(text, 'latin1'), dst);
      if (newline) h[dst + text.length] = 10;
    },
    hexlify(src: number, n: number, dst: number, sep: number): void {
      const h = heap();
      let k = dst;
      for (let i = src; i < src + n; i++) {
        if (sep >= 0 && i > src) h[k++] = sep;
        h[k++] = HEX[h[i] >> 4];
        h[k++] = HEX[h[i] & 15];
      }
    },
    // A string: a JavaScript number above 2**31 may not reach Python as an int.
    crc32: (src: number, n: number, value: number): string =>
      String(zlib.crc32(heap().subarray(src, src + n), value >>> 0)),
    resolve(host: string): string {
      const n = hostCall({ op: 'resolve', host });
      return n > 0 ? Buffer.from(shared.subarray(0, n)).toString() : '';
    },
    sock_connect(host: string, port: number, timeoutMs: number): number {
      return interrupted() ? INTERRUPTED : hostCall({ op: 'connect', host, port, timeoutMs });
    },
    sock_send(sock: number, addr: number, n: number, timeoutMs: number): number {
      if (interrupted()) return INTERRUPTED;
      const bytes = heap().slice(addr, addr + Math.min(n, DATA_BYTES));
      return hostCall({ op: 'send', sock, bytes, timeoutMs }, [bytes.buffer]);
    },
    sock_recv(sock: number, addr: number, max: number, timeoutMs: number, line: boolean): number {
      if (interrupted()) return INTERRUPTED;
      const n = hostCall({ op: 'recv', sock, max: Math.min(max, DATA_BYTES), timeoutMs, line });
      if (n > 0) heap().set(shared.subarray(0, n), addr);
      return n;
    },
    // A number (0, or a negative errno), or mbedTLS's verify text when the certificate is refused.
    sock_tls(
      sock: number,
      host: string,
      verify: boolean,
      now: number,
      ca: number,
      caLen: number,
      cert: number,
      certLen: number,
      key: number,
      keyLen: number,
    ): number | string {
      if (interrupted()) return INTERRUPTED;
      const bytes = (addr: number, n: number): Uint8Array | undefined =>
        n > 0 ? heap().slice(addr, addr + n) : undefined;
      const call = {
        op: 'tls' as const,
        sock,
        host,
        verify,
        now,
        ca: bytes(ca, caLen),
        cert: bytes(cert, certLen),
        key: bytes(key, keyLen),
      };
      const r = hostCall(
        call,
        [call.ca, call.cert, call.key].flatMap((b) => (b ? [b.buffer as ArrayBuffer] : [])),
      );
      if (r !== CERT_VERIFY_FAILED) return r;
      const end = shared.indexOf(0);
      return Buffer.from(shared.subarray(0, end < 0 ? 0 : end)).toString();
    },
    sock_peercert(sock: number, addr: number, max: number): number {
      const n = hostCall({ op: 'peercert', sock });
      if (n > 0) heap().set(shared.subarray(0, Math.min(n, max)), addr);
      return Math.min(n, max);
    },
    sock_close(sock: number): void {
      hostCall({ op: 'close', sock });
    },
  };
}

/** Freezes the board's modules into sys.modules and mounts the flash at "/"; leaves __main__ clean. */
function installModules(mp: any): void {
  const FS = mp.FS;
  FS.mkdir('/frozen');
  const mods: Record<string, string> = {
    ...boardModules({ sha1: cfg.sha1 }),
    ...(cfg.partitions ? { esp32: esp32Module } : {}),
  };
  // Board flavours of built-in modules load under another name, then take the built-in's place.
  const shadowed = ['time', 'hashlib', 'gc', 'os', 'binascii'];
  const files = Object.keys(mods).map((name) => (shadowed.includes(name) ? `_board_${name}` : name));
  for (const [name, src] of Object.entries(mods)) {
    FS.writeFile(`/frozen/${shadowed.includes(name) ? `_board_${name}` : name}.py`, src);
  }
  mp.runPython(`
import sys
sys.path.insert(0, '/frozen')
for _n in ${JSON.stringify(files)}:
    __import__(_n)
for _n in ${JSON.stringify(shadowed)}:
    sys.modules[_n] = sys.modules.pop('_board_' + _n)
    sys.modules['u' + _n] = sys.modules[_n]
sys.path.pop(0)
sys.modules['_board_exec'].g = globals()
_n = __import__('os')
_n.umount('/')
_n.mount(_n.VfsPosix('${FLASH_ROOT}'), '/')
_n.chdir('/')
del _n, sys
`);
}

function exec(run: (kind: number) => number, id: number, code: string, mode: ExecMode) {
  let kind: 'ok' | 'exception' | 'exit' = 'ok';
  let text = '';
  capturedErr = '';
  clearInterrupt();
  // As pyexec does before every run: Ctrl-C interrupts until the program says otherwise.
  if (charWord >= 0) Atomics.store(new Int32Array(memory!.buffer), charWord, 3);
  if (Buffer.byteLength(code) > glueBytes - 16 * 1024) {
    // The board could not hold this source: refuse it before the interpreter's C heap runs dry.
    kind = 'exception';
    text = 'MemoryError: source too large\n';
  } else {
    try {
      pendingName = mode === 'script' ? code : '<stdin>';
      pendingSource = mode === 'script' ? '' : code;
      const r = run(mode === 'file' ? 0 : mode === 'single' ? 1 : 2);
      clearInterrupt();
      pendingSource = '';
      if (r === 1) {
        kind = 'exception';
        text = capturedErr;
      } else if (r === 2) kind = 'exit';
    } catch (e: any) {
      kind = 'exception';
      text = e?.name === 'PythonError' ? String(e.message) : String(e?.stack ?? e);
    }
  }
  // Frames inside the board's own modules stand for C code on a real board, which shows none.
  text = text.replace(/ {2}File "\/frozen\/[^\n]*\n/g, '');
  flush();
  post({ t: 'done', id, kind, text: text.replace(/\r?\n/g, '\r\n') });
}

async function main(): Promise<void> {
  const mp = await loadInterpreter();
  const flash = new Flash(
    mp.FS,
    cfg.fsDir,
    cfg.flashKb,
    { step, cut },
    { fs: cfg.fs, sectorSize: cfg.sectorSize },
  );
  flash.install();
  readStdin(mp);
  mp.registerJsModule('_board', bridge(mp));
  installModules(mp);
  findInterruptWrites(mp);
  findInterruptChar(mp);
  findCallDepth(mp);
  const run = mp.pyimport('_board_exec').run;
  fixHeap(mp);
  port.on('message', (msg: ToWorker) => {
    if (msg.t === 'exec') exec(run, msg.id, msg.code, msg.mode);
  });
  post({
    t: 'ready',
    interrupt: kbdWrites.length
      ? { memory: memory!.buffer as unknown as SharedArrayBuffer, writes: kbdWrites, charWord }
      : undefined,
  });
}

main().catch((e: unknown) => {
  flush();
  post({ t: 'fatal', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
});
