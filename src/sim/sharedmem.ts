// Rewrites the MicroPython WebAssembly module so its memory is imported and shared, letting the main
// thread raise KeyboardInterrupt (Ctrl-C) in code that never leaves the interpreter, such as
// `while True: pass`, by writing the interpreter's pending-exception state as its UART interrupt would.

/* eslint-disable @typescript-eslint/no-explicit-any -- WebAssembly types are not in the ES lib */

function readLeb(b: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function name(s: string): number[] {
  return [...leb(s.length), ...Buffer.from(s)];
}

/**
 * Returns the module with its own memory replaced by an imported shared one ("env"."memory"), and that
 * memory. Returns undefined for a module whose layout it does not recognise (the caller keeps the
 * original, and Ctrl-C falls back to restarting the interpreter).
 */
export function shareMemory(
  wasm: Uint8Array,
  maxPages: number,
): { wasm: Uint8Array; memory: any } | undefined {
  const sections: { id: number; body: Uint8Array }[] = [];
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos];
    const [size, start] = readLeb(wasm, pos + 1);
    sections.push({ id, body: wasm.subarray(start, start + size) });
    pos = start + size;
  }
  const mem = sections.find((s) => s.id === 5);
  const imports = sections.find((s) => s.id === 2);
  if (!mem || !imports) return undefined;
  const [count, p0] = readLeb(mem.body, 0);
  if (count !== 1) return undefined;
  const flags = mem.body[p0];
  const [minPages] = readLeb(mem.body, p0 + 1);
  if (flags !== 0 && flags !== 1) return undefined;
  const max = Math.max(minPages, maxPages);
  const [nImports, i0] = readLeb(imports.body, 0);
  const memoryImport = [...name('env'), ...name('memory'), 2, 3, ...leb(minPages), ...leb(max)];
  const newImports = Uint8Array.from([...leb(nImports + 1), ...imports.body.subarray(i0), ...memoryImport]);
  const out: number[] = [...wasm.subarray(0, 8)];
  for (const s of sections) {
    if (s.id === 5) continue;
    const body = s.id === 2 ? newImports : s.body;
    out.push(s.id, ...leb(body.length));
    for (let i = 0; i < body.length; i += 65536) out.push(...body.subarray(i, i + 65536));
  }
  const WA = (globalThis as any).WebAssembly;
  const memory = new WA.Memory({ initial: minPages, maximum: max, shared: true });
  return { wasm: Uint8Array.from(out), memory };
}
