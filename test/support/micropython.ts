/**
 * Real MicroPython (the WebAssembly port) with the updater package from device/ copied into its
 * filesystem, for tests that hold host output against the device code itself.
 *
 *   const mp = await loadDeviceMicroPython();
 *   mp.put('/data/x.bin', bytes);
 *   mp.run('import ota.sig\nprint(...)')   // -> everything printed, as a string
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Emscripten {
  FS: {
    mkdirTree(path: string): void;
    writeFile(path: string, data: Uint8Array | string): void;
  };
  runPython(code: string): unknown;
}

export interface DeviceMicroPython {
  put(path: string, data: Uint8Array | string): void;
  run(code: string): string;
}

const PACKAGE = '@micropython/micropython-webassembly-pyscript';

export async function loadDeviceMicroPython(
  deviceDir = join(__dirname, '..', '..', 'device'),
): Promise<DeviceMicroPython> {
  let out = '';
  const mod = (await import(PACKAGE)) as {
    loadMicroPython(o: { stdout: (s: string) => void; linebuffer: boolean }): Promise<Emscripten>;
  };
  const mp = await mod.loadMicroPython({ stdout: (line) => (out += line + '\n'), linebuffer: true });
  const copy = (from: string, to: string) => {
    mp.FS.mkdirTree(to);
    for (const e of readdirSync(from, { withFileTypes: true })) {
      if (e.isDirectory()) copy(join(from, e.name), `${to}/${e.name}`);
      else if (e.name.endsWith('.py')) mp.FS.writeFile(`${to}/${e.name}`, readFileSync(join(from, e.name)));
    }
  };
  copy(deviceDir, '/lib');
  mp.runPython('import sys\nsys.path.insert(0, "/lib")');
  return {
    put(path, data) {
      mp.FS.mkdirTree(path.slice(0, path.lastIndexOf('/')) || '/');
      mp.FS.writeFile(path, data);
    },
    run(code) {
      out = '';
      mp.runPython(code);
      return out;
    },
  };
}
