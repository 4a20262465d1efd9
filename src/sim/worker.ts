// The virtual board's CPU: MicroPython (WebAssembly) in a worker thread. Python code runs synchronously
// here; anything that must wait (sockets, sleeps) parks this thread on shared memory with Atomics.wait
// while the main thread does the I/O, so Python sees blocking calls as on a board.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Flash, FLASH_ROOT } from './flash';
import { boardModules } from './pymods';
import { translateErrnos } from './errno';
import {
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
function putByte(c: number): void {
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
  return Atomics.exchange(control, Slot.Interrupt, 0) === 1;
}

function hostCall(call: HostCall, transfer: ArrayBuffer[] = []): number {
  flush();
  Atomics.store(control, Slot.CallDone, 0);
  post({ t: 'call', call }, transfer);
  Atomics.wait(control, Slot.CallDone, 0);
  return Atomics.load(control, Slot.CallResult);
}

let memory: { buffer: ArrayBuffer } | undefined;
/** Once set, the WebAssembly memory cannot grow: the heap limit is in force. */
let memoryFixed = false;
/** C heap left free for the JavaScript glue (source text of a run, proxies); less than the Python heap. */
let glueBytes = 0;

/**
 * Caps the Python heap at its initial size. The wasm build grows its heap by allocating a new area of at
 * least the current heap size from the C heap when an allocation fails; with the memory fixed and the C
 * heap filled up to a margin smaller than that, growth fails and MemoryError is raised as on a board.
 */
function fixHeap(mp: any): void {
  memoryFixed = true;
  const malloc = mp._module._malloc as (n: number) => number;
  glueBytes = Math.min(128 * 1024, cfg.heapKb * 512);
  const margin = malloc(glueBytes);
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
  });
}

function bridge(): Record<string, unknown> {
  const hashes = new Map<number, Hash>();
  let nextHash = 1;
  return {
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
    sock_close(sock: number): void {
      hostCall({ op: 'close', sock });
    },
  };
}

function installModules(mp: any): void {
  const FS = mp.FS;
  FS.mkdir('/frozen');
  const mods = boardModules({ sha1: cfg.sha1 });
  const shadowed = ['time', 'hashlib', 'gc', 'os'];
  for (const [name, src] of Object.entries(mods)) {
    const file = shadowed.includes(name) ? `_board_${name}` : name;
    FS.writeFile(`/frozen/${file}.py`, src);
  }
  mp.runPython(`
import sys
sys.path.insert(0, '/frozen')
${Object.keys(mods)
  .map((name) => (shadowed.includes(name) ? `import _board_${name}` : `import ${name}`))
  .join('\n')}
for _n in ${JSON.stringify(shadowed)}:
    sys.modules[_n] = sys.modules.pop('_board_' + _n)
    sys.modules['u' + _n] = sys.modules[_n]
del _n
sys.path.pop(0)
import os
os.umount('/')
os.mount(os.VfsPosix('${FLASH_ROOT}'), '/')
os.chdir('/')
del os, sys
`);
}

const RUN_COMPILED = 'del _board_src\ntry:\n    exec(_board_code)\nfinally:\n    del _board_code';

function exec(mp: any, id: number, code: string, mode: ExecMode): void {
  let kind: 'ok' | 'exception' | 'exit' = 'ok';
  let text = '';
  // Compiled input goes through a global so no quoting is needed; it is removed before user code can see it.
  const viaGlobal = (stmt: string): void => {
    mp.globals.set('_board_src', code);
    mp.runPython(`_board_code = compile(_board_src, ${stmt})\n${RUN_COMPILED}`);
  };
  try {
    if (Buffer.byteLength(code) > glueBytes / 2) {
      // The board could not hold this source: refuse it before the interpreter's C heap runs dry.
      throw {
        name: 'PythonError',
        type: 'MemoryError',
        message: 'Traceback (most recent call last):\nMemoryError: source too large\n',
      };
    }
    if (mode === 'file') mp.runPython(code);
    else if (mode === 'single') viaGlobal("'<stdin>', 'single'");
    else if (mp.FS.analyzePath(`${FLASH_ROOT}/${code}`).exists) {
      mp.globals.set('_board_src', code);
      mp.runPython(`_board_code = compile(open(_board_src).read(), _board_src, 'exec')\n${RUN_COMPILED}`);
    }
  } catch (e: any) {
    if (e?.name === 'PythonError' && e.type === 'SystemExit') {
      kind = 'exit';
    } else {
      kind = 'exception';
      const message = e?.name === 'PythonError' ? String(e.message) : String(e?.stack ?? e);
      // The helper line that ran compiled input is not the user's frame: drop it as a board would not show it.
      text =
        mode === 'file'
          ? message
          : message.replace(/^(Traceback[^\n]*\n) {2}File "<stdin>", line 4, in <module>\n/, '$1');
    }
  }
  // Frames inside the board's own modules stand for C code on a real board, which shows none.
  text = text.replace(/ {2}File "\/frozen\/[^\n]*\n/g, '');
  flush();
  post({ t: 'done', id, kind, text: text.replace(/\r?\n/g, '\r\n') });
}

async function main(): Promise<void> {
  const mp = await loadInterpreter();
  const flash = new Flash(mp.FS, cfg.fsDir, cfg.flashKb, {
    mutated() {
      const n = Atomics.add(control, Slot.Mutations, 1) + 1;
      if (cfg.cutAt > 0 && n >= cfg.cutAt) {
        flush();
        post({ t: 'cut' });
        halt();
      }
    },
  });
  flash.install();
  mp.registerJsModule('_board', bridge());
  installModules(mp);
  fixHeap(mp);
  port.on('message', (msg: ToWorker) => {
    if (msg.t === 'exec') exec(mp, msg.id, msg.code, msg.mode);
  });
  post({ t: 'ready' });
}

main().catch((e: unknown) => {
  flush();
  post({ t: 'fatal', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
});
