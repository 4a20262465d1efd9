// Messages and shared-memory layout between the board (main thread) and its interpreter (worker thread).
import type { PartitionTable } from './partitions';
import type { CutMode, FsModel } from './flash';

/** Int32 slots of the shared control buffer. */
export const Slot = {
  /**
   * The number of the host call answered last (see CallSeq). The worker waits until it reads its own
   * call's number here: a wake-up alone proves nothing, since the main thread's notify for one answer can
   * land in the worker's wait for the next call.
   */
  CallDone: 0,
  /** Result of a host call: >= 0 success (often a byte count), < 0 a negated errno. */
  CallResult: 1,
  /** 1 when Ctrl-C arrived and the interpreter has not yet raised KeyboardInterrupt. */
  Interrupt: 2,
  /** Filesystem mutations over the board's whole life (across reboots). */
  Mutations: 3,
  /** Waited on by time.sleep so Ctrl-C can cut a sleep short. */
  Wake: 4,
  /** Never notified: the worker parks here after a power cut or reset until it is terminated. */
  Halt: 5,
  /**
   * The last host-call number handed out, over the board's whole life: a call of a later boot never shares
   * a number with one an earlier interpreter was still waiting on.
   */
  CallSeq: 6,
} as const;
export const CONTROL_SLOTS = 8;
/** Bytes the main thread can hand the worker per host call (socket reads). */
export const DATA_BYTES = 64 * 1024;

/** mbedTLS's MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: what a board's ssl raises for a certificate it refuses. */
export const CERT_VERIFY_FAILED = -9984;
/** A host call answered with this was cut short by Ctrl-C: the Python side raises KeyboardInterrupt. */
export const INTERRUPTED = -1000;

export interface WorkerConfig {
  fsDir: string;
  flashKb: number;
  heapKb: number;
  sha1: boolean;
  /** Total step count at which the power is cut, or 0 for never, and how that step lands. */
  cutAt: number;
  cutMode: CutMode;
  /** Filesystem model of the flash (./flash). */
  fs: FsModel;
  sectorSize: number;
  /** machine.reset_cause() after this boot. */
  resetCause: number;
  /** OTA partitions (the esp32 module) and the one the bootloader started, when the board has them. */
  partitions?: PartitionTable;
  running?: string;
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export type ExecMode = 'file' | 'single' | 'script';

export type ToWorker = { t: 'exec'; id: number; code: string; mode: ExecMode };

export type HostCall =
  | { op: 'connect'; host: string; port: number; timeoutMs: number }
  | { op: 'send'; sock: number; bytes: Uint8Array; timeoutMs: number }
  | { op: 'recv'; sock: number; max: number; timeoutMs: number; line: boolean }
  /** now: the board's clock (seconds since 1970), what certificate validity is checked against. */
  | {
      op: 'tls';
      sock: number;
      host: string;
      verify: boolean;
      now: number;
      ca?: Uint8Array;
      cert?: Uint8Array;
      key?: Uint8Array;
    }
  /** The server certificate (DER) of a TLS socket. */
  | { op: 'peercert'; sock: number }
  | { op: 'close'; sock: number }
  /** Python reading `max` bytes of sys.stdin: answered once they have all come from the UART. */
  | { op: 'stdin'; max: number }
  | { op: 'resolve'; host: string };

export type FromWorker =
  /** interrupt: the interpreter's shared memory and the (word, value, idle value) writes that raise Ctrl-C. */
  | {
      t: 'ready';
      /** charWord: the word holding kbd_intr's character, or -1. */
      interrupt?: { memory: SharedArrayBuffer; writes: [number, number, number][]; charWord: number };
    }
  | { t: 'out'; bytes: Uint8Array }
  /** kind: ok, exception (text is the traceback), exit (SystemExit: the REPL soft-reboots). */
  | { t: 'done'; id: number; kind: 'ok' | 'exception' | 'exit'; text: string }
  | { t: 'reset'; soft: boolean }
  | { t: 'cut' }
  /** seq: the call's number, written to Slot.CallDone with its answer. */
  | { t: 'call'; seq: number; call: HostCall }
  | { t: 'fatal'; message: string };

/** machine.reset_cause() values as on ESP32 ports, where machine.reset() reports SOFT_RESET. */
export const ResetCause = { PowerOn: 1, Soft: 5 } as const;
