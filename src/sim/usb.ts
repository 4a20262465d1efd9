// The virtual board on the host's "USB bus": a port that stays while the board runs, disappears
// when a native-USB board resets (BoardOptions.usbReset) and comes back, maybe under a new name,
// with the same USB serial number. exposeOnLink puts it on an in-process link (no OS support
// needed); ./pty puts it on a pseudo-terminal for outside tools.
import { linkPair, registerLink, LINK_PREFIX, type LinkIdentity } from '../core/serial/link';
import type { VirtualBoard } from './board';

/** A virtual board's port, as port listing shows a USB serial device. */
export interface BoardPort {
  /** The port's current name (a new one after a re-enumeration with rename). */
  readonly path: string;
  readonly serialNumber: string;
  /** Takes the port away; the board keeps running. */
  close(): Promise<void>;
}

/** What a virtual board reports: MicroPython's own USB IDs (TinyUSB CDC), its serial number. */
export function usbIdentity(board: VirtualBoard): LinkIdentity {
  return {
    serialNumber: board.serialNumber,
    vendorId: 'f055',
    productId: '9802',
    manufacturer: 'MicroPython (virtual board)',
  };
}

/**
 * Keeps a port for `board` while it is on the bus. `plug(name)` makes the port and returns its removal;
 * `nameFor(n)` names it after the n-th renaming re-enumeration.
 */
export async function followUsb(
  board: VirtualBoard,
  nameFor: (n: number) => string,
  plug: (name: string) => Promise<() => Promise<void>>,
): Promise<BoardPort> {
  let renames = 0;
  let path = nameFor(0);
  let unplug: (() => Promise<void>) | undefined = await plug(path);
  let chain = Promise.resolve();
  const step = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch(() => undefined);
  };
  const detach = () =>
    step(async () => {
      const u = unplug;
      unplug = undefined;
      await u?.();
    });
  const attach = (renamed: boolean) =>
    step(async () => {
      if (unplug) return;
      if (renamed) renames++;
      path = nameFor(renames);
      unplug = await plug(path);
      // The port is back under `path` only now (a pseudo-terminal's relay takes a moment to start).
      board.emit('usb-port', path);
    });
  board.on('usb-detach', detach);
  board.on('usb-attach', attach);
  return {
    get path() {
      return path;
    },
    serialNumber: board.serialNumber,
    async close() {
      board.off('usb-detach', detach);
      board.off('usb-attach', attach);
      await chain;
      const u = unplug;
      unplug = undefined;
      await u?.();
    },
  };
}

let counter = 0;

/**
 * Puts the board on an in-process link named `name` (default `link:virtual-<n>`): openBoard(port.path)
 * in this process talks to it over the same raw REPL bytes a serial port carries.
 */
export function exposeOnLink(board: VirtualBoard, name?: string): Promise<BoardPort> {
  const base = name ?? `${LINK_PREFIX}virtual-${++counter}`;
  return followUsb(
    board,
    (n) => (n ? `${base}-${n}` : base),
    async (linkName) =>
      registerLink(linkName, {
        ...usbIdentity(board),
        open: () => {
          const [host, device] = linkPair();
          const out = (chunk: Buffer): void => void device.write(chunk).catch(() => undefined);
          device.onData((chunk) => board.write(chunk));
          board.on('data', out);
          device.onClose(() => board.off('data', out));
          return host;
        },
      }),
  );
}
