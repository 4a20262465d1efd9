/**
 * Finds serial ports that may be MicroPython boards.
 *
 *   await listBoards() -> BoardCandidate[]   // likely boards first, each named when its USB ID is known
 *   describeUsb('303a', '1001') -> 'Espressif ESP32-S3/C3/C6 (native USB)'
 *
 * serialport's Linux list spawns `udevadm`; where that fails (no udev in a container,
 * udevadm missing) the ports are read from /sys/class/tty instead. A port given by path
 * (`--port`, a pseudo-terminal) never goes through discovery.
 *
 * Virtual boards are listed too, with their USB identity: those on an in-process link (link.ts) and
 * those another process put on a pseudo-terminal (announced in virtualPortsDir(), as udev's
 * /dev/serial/by-id names USB ports). A board that left the bus (a native-USB reset) is found
 * again by its USB serial number, under whatever name it came back as:
 *
 *   await waitForBoard({ serialNumber, timeoutMs }) -> path
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SerialPort } from 'serialport';
import { OtaError } from '../errors';
import { listLinks, type LinkIdentity } from './link';

export interface BoardCandidate {
  path: string;
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
  serialNumber?: string;
  /** Board family guessed from the USB ID, when known. */
  name?: string;
  /** True when the USB ID is one MicroPython boards use. */
  likely: boolean;
}

/** USB IDs seen on MicroPython boards: exact vendor:product first, then whole vendors. */
const PRODUCTS: Record<string, string> = {
  '303a:1001': 'Espressif ESP32-S3/C3/C6 (native USB serial/JTAG)',
  '303a:4001': 'Espressif ESP32-S2/S3 (TinyUSB CDC)',
  '2e8a:0005': 'Raspberry Pi Pico / RP2040 (MicroPython)',
  '2e8a:000a': 'Raspberry Pi RP2040 (Pico SDK CDC)',
  '2e8a:000f': 'Raspberry Pi Pico 2 / RP2350',
  '10c4:ea60': 'ESP32 board with a Silicon Labs CP210x bridge',
  '1a86:7523': 'ESP32/ESP8266 board with a CH340 bridge',
  '1a86:55d4': 'ESP32 board with a CH9102 bridge',
  '0403:6001': 'Board with an FTDI FT232R bridge',
  '0403:6010': 'Board with an FTDI FT2232 bridge',
  '0403:6014': 'Board with an FTDI FT232H bridge',
  '0403:6015': 'Board with an FTDI FT-X bridge',
  'f055:9800': 'Pyboard (MicroPython)',
  '2341:0070': 'Arduino Nano ESP32',
  '2341:025e': 'Arduino Nano RP2040 Connect',
};
const VENDORS: Record<string, string> = {
  '303a': 'Espressif board',
  '2e8a': 'Raspberry Pi RP2040/RP2350 board',
  '10c4': 'Silicon Labs CP210x bridge',
  '1a86': 'WCH CH34x bridge',
  '0403': 'FTDI bridge',
  f055: 'MicroPython board',
  '239a': 'Adafruit board',
  '2341': 'Arduino board',
};

export function describeUsb(vendorId?: string, productId?: string): string | undefined {
  if (!vendorId) return undefined;
  const v = vendorId.toLowerCase();
  return PRODUCTS[`${v}:${(productId ?? '').toLowerCase()}`] ?? VENDORS[v];
}

function candidate(p: Omit<BoardCandidate, 'name' | 'likely'>): BoardCandidate {
  const name = describeUsb(p.vendorId, p.productId);
  return { ...p, ...(name ? { name } : {}), likely: name !== undefined };
}

async function readAttr(dir: string, name: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, name), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `device` is the USB interface (ttyACM) or the usb-serial port below it (ttyUSB); the
 * USB device holding idVendor/idProduct is the first ancestor that has them.
 */
async function usbDeviceDir(device: string): Promise<string | undefined> {
  let dir: string;
  try {
    dir = await realpath(device);
  } catch {
    return undefined;
  }
  for (let up = 0; up < 4; up++) {
    if (await readAttr(dir, 'idVendor')) return dir;
    dir = join(dir, '..');
  }
  return undefined;
}

/** Linux without udev: USB serial ports from sysfs (ttyUSB*, ttyACM*), with their USB IDs. */
export async function listFromSysfs(sysRoot = '/sys/class/tty', devRoot = '/dev'): Promise<BoardCandidate[]> {
  let names: string[];
  try {
    names = await readdir(sysRoot);
  } catch {
    return [];
  }
  const out: BoardCandidate[] = [];
  for (const name of names.filter((n) => /^tty(USB|ACM)\d+$/.test(n)).sort()) {
    const usbDir = await usbDeviceDir(join(sysRoot, name, 'device'));
    out.push(
      candidate({
        path: join(devRoot, name),
        ...(usbDir
          ? {
              vendorId: await readAttr(usbDir, 'idVendor'),
              productId: await readAttr(usbDir, 'idProduct'),
              manufacturer: await readAttr(usbDir, 'manufacturer'),
              serialNumber: await readAttr(usbDir, 'serial'),
            }
          : {}),
      }),
    );
  }
  return out;
}

/** Where a process that puts a virtual board on a pseudo-terminal announces it (one JSON file per port). */
/**
 * Where pseudo-terminal boards are announced: one folder per machine, or OTA_PORTS_DIR (the test
 * runner gives each test process its own, so a test lists only the boards it started).
 */
export function virtualPortsDir(): string {
  return process.env.OTA_PORTS_DIR || join(tmpdir(), 'micropython-ota-ports');
}

/** Announces a virtual board's pseudo-terminal to port listing in every process; returns the withdrawal. */
export function announcePort(path: string, id: LinkIdentity): () => void {
  const dir = virtualPortsDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}-${basename(path)}.json`);
  writeFileSync(file, JSON.stringify({ ...id, path, pid: process.pid }));
  return () => rmSync(file, { force: true });
}

function alive(pid: unknown): boolean {
  try {
    return typeof pid === 'number' && process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Announced pseudo-terminals whose process still runs and whose path still exists. */
async function listAnnounced(): Promise<BoardCandidate[]> {
  const dir = virtualPortsDir();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: BoardCandidate[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      const a = JSON.parse(await readFile(join(dir, name), 'utf8')) as LinkIdentity & {
        path: string;
        pid: number;
      };
      if (!alive(a.pid)) {
        // Left behind by a process that died without withdrawing it.
        rmSync(join(dir, name), { force: true });
        continue;
      }
      await realpath(a.path);
      out.push(candidate(identity(a)));
    } catch {
      // Gone between listing and reading, or a stale entry: not a port.
    }
  }
  return out;
}

function identity(a: LinkIdentity & { path: string }): Omit<BoardCandidate, 'name' | 'likely'> {
  return {
    path: a.path,
    vendorId: a.vendorId,
    productId: a.productId,
    manufacturer: a.manufacturer,
    serialNumber: a.serialNumber,
  };
}

/** The USB serial number of the port at `path`, when port listing knows it. */
export async function serialNumberOf(path: string): Promise<string | undefined> {
  const link = listLinks().find((l) => l.path === path);
  if (link) return link.serialNumber;
  const real = await realpath(path).catch(() => path);
  const same = async (b: BoardCandidate) =>
    b.path === path || (await realpath(b.path).catch(() => b.path)) === real;
  // Virtual boards' ptys first: no need to ask udev about them.
  for (const b of await listAnnounced()) if (await same(b)) return b.serialNumber;
  for (const b of await listBoards()) if (await same(b)) return b.serialNumber;
  return undefined;
}

/**
 * Waits for a board to be on the bus: by USB serial number (under whatever port name it came back
 * as), else by its old path. Fails with 'board_gone' after timeoutMs.
 */
export async function waitForBoard(opts: {
  serialNumber?: string;
  path: string;
  timeoutMs: number;
  pollMs?: number;
}): Promise<string> {
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    const boards = await listBoards();
    const found = opts.serialNumber
      ? boards.find((b) => b.serialNumber === opts.serialNumber)
      : boards.find((b) => b.path === opts.path);
    if (found) return found.path;
    if (
      !opts.serialNumber &&
      (await realpath(opts.path).then(
        () => true,
        () => false,
      ))
    )
      return opts.path;
    if (Date.now() >= until) {
      const which = opts.serialNumber ? `with USB serial number ${opts.serialNumber}` : `on ${opts.path}`;
      throw new OtaError(
        'board_gone',
        `the board ${which} did not come back within ${Math.round(opts.timeoutMs / 1000)} s ` +
          `(unplugged, held in its bootloader, or crashed at boot?)`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}

export async function listBoards(): Promise<BoardCandidate[]> {
  let ports: BoardCandidate[];
  try {
    ports = (await SerialPort.list()).map((p) =>
      candidate({
        path: p.path,
        vendorId: p.vendorId,
        productId: p.productId,
        manufacturer: p.manufacturer,
        serialNumber: p.serialNumber,
      }),
    );
  } catch {
    // serialport could not list (udevadm missing or failing): fall back where we can.
    ports = process.platform === 'linux' ? await listFromSysfs() : [];
  }
  ports.push(...listLinks().map((l) => candidate(identity(l))), ...(await listAnnounced()));
  return ports.sort((a, b) => Number(b.likely) - Number(a.likely) || a.path.localeCompare(b.path));
}
