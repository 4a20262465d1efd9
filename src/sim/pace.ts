// A UART's pace: bytes leave no faster than the baud rate allows (10 bits a byte: start, 8 data, stop),
// so a virtual board at 115200 baud moves about 11.5 KB/s each way, as a USB-UART bridge does.

/** How often queued bytes are let through; the credit is counted from real elapsed time, so the rate holds. */
const TICK_MS = 2;

export class Pacer {
  private queue: { bytes: Buffer; end: boolean }[] = [];
  private credit = 0;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly bytesPerMs: number;

  /** `deliver(bytes, end)`: end is true when `bytes` finish one push (one write by the sender). */
  constructor(
    baud: number,
    private readonly deliver: (bytes: Buffer, end: boolean) => void,
  ) {
    this.bytesPerMs = baud / 10 / 1000;
  }

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.queue.push({ bytes, end: true });
    if (!this.timer) {
      this.last = performance.now();
      this.credit = 0;
      this.timer = setTimeout(() => this.tick(), TICK_MS);
    }
  }

  /** Bytes waiting on the wire. */
  get pending(): number {
    return this.queue.reduce((n, q) => n + q.bytes.length, 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }

  private tick(): void {
    this.timer = undefined;
    const now = performance.now();
    this.credit += (now - this.last) * this.bytesPerMs;
    this.last = now;
    while (this.queue.length && this.credit >= 1) {
      const q = this.queue[0];
      const n = Math.min(q.bytes.length, Math.floor(this.credit));
      this.credit -= n;
      const part = q.bytes.subarray(0, n);
      q.bytes = q.bytes.subarray(n);
      const end = q.bytes.length === 0;
      if (end) this.queue.shift();
      this.deliver(part, end && q.end);
    }
    if (this.queue.length) this.timer = setTimeout(() => this.tick(), TICK_MS);
  }
}
