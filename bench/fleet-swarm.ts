// Light protocol-level boards for `npm run bench fleet`: raw TCP sockets speaking MQTT 3.1.1 as
// device/ota/fleet.py does (persistent session, last will, retained status, cmd + rollout subscriptions,
// QoS 1 acknowledged), no WebAssembly. Runs in its own process so the host's memory is the host's alone.
// argv: <host> <port> <user> <password> <fleet> <count>. stdin: "events <k>" | "quit". stdout: JSON lines.
import { connect, type Socket } from 'node:net';

const [host, portS, user, password, fleet, countS] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);
const pre = `ota/${fleet}/`;

function str(s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function packet(op: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let d = n & 0x7f;
    n >>= 7;
    if (n) d |= 0x80;
    len.push(d);
  } while (n);
  return Buffer.concat([Buffer.from([op, ...len]), body]);
}

function status(id: string, online: boolean): Buffer {
  return Buffer.from(
    JSON.stringify({
      id,
      online,
      group: `g${id.length % 7}`,
      app: '1.0.0',
      micropython: '1.27.0',
      board: 'esp32',
      state: 'idle',
      channel: null,
      checked: Math.floor(Date.now() / 1000),
      result: 'none',
      free: 812_000,
      uptime: 12,
      mode: 'mains',
    }),
  );
}

interface Board {
  id: string;
  sock: Socket;
  buf: Buffer;
  rollout: boolean;
}

const boards: Board[] = [];
let rollouts = 0;
let firstRollout = 0;

function onData(b: Board, d: Buffer): void {
  b.buf = b.buf.length ? Buffer.concat([b.buf, d]) : d;
  for (;;) {
    if (b.buf.length < 2) return;
    let len = 0;
    let mul = 1;
    let i = 1;
    for (; i < 5; i++) {
      if (i >= b.buf.length) return;
      len += (b.buf[i] & 0x7f) * mul;
      mul *= 128;
      if (!(b.buf[i] & 0x80)) break;
    }
    const start = i + 1;
    if (b.buf.length < start + len) return;
    const op = b.buf[0];
    const body = b.buf.subarray(start, start + len);
    b.buf = b.buf.subarray(start + len);
    if ((op & 0xf0) === 0x30) {
      const tl = body.readUInt16BE(0);
      const topic = body.subarray(2, 2 + tl).toString();
      const qos = (op >> 1) & 3;
      if (qos) b.sock.write(Buffer.from([0x40, 2, body[2 + tl], body[3 + tl]]));
      if (topic === `${pre}rollout` && !b.rollout) {
        b.rollout = true;
        if (++rollouts === 1) firstRollout = Date.now();
        if (rollouts === count) out({ rollout: Date.now(), first: firstRollout });
      }
    }
  }
}

function out(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function start(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = `sim${String(i).padStart(5, '0')}`;
    const sock = connect({ host, port });
    const b: Board = { id, sock, buf: Buffer.alloc(0), rollout: false };
    boards.push(b);
    sock.setNoDelay(true);
    sock.once('error', reject);
    let connacked = false;
    sock.on('data', (d) => {
      if (!connacked) {
        connacked = true;
        if (d[0] !== 0x20 || d[3] !== 0) return reject(new Error(`CONNACK ${d.toString('hex')}`));
        const sub = Buffer.concat([
          Buffer.from([0, 1]),
          str(`${pre}devices/${id}/cmd`),
          Buffer.from([1]),
          str(`${pre}rollout`),
          Buffer.from([1]),
        ]);
        sock.write(packet(0x82, sub));
        sock.write(packet(0x31, Buffer.concat([str(`${pre}devices/${id}/status`), status(id, true)])));
        resolve();
        if (d.length > 4) onData(b, d.subarray(4));
        return;
      }
      onData(b, d);
    });
    const will = status(id, false);
    const flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04; // user, password, will retain, will QoS 1, will; persistent session
    const body = Buffer.concat([
      str('MQTT'),
      Buffer.from([4, flags, 0, 240]),
      str(`ota-${id}`),
      str(`${pre}devices/${id}/status`),
      str(will),
      str(user),
      str(password),
    ]);
    sock.write(packet(0x10, body));
  });
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const batch = 250;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, k) => start(i + k)));
  }
  out({ connected: Date.now(), seconds: (Date.now() - t0) / 1000 });
  process.stdin.setEncoding('utf8');
  let pending = '';
  process.stdin.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      const [cmd, arg] = line.split(' ');
      if (cmd === 'events') {
        const k = Number(arg);
        const t = Date.now();
        for (const b of boards) {
          for (let j = 0; j < k; j++) {
            const e = JSON.stringify({ ev: 'progress', file: 'main.py', done: j * 1024, total: k * 1024 });
            b.sock.write(packet(0x30, Buffer.concat([str(`${pre}devices/${b.id}/events`), Buffer.from(e)])));
          }
        }
        out({ sent: boards.length * k, at: t });
      } else if (cmd === 'quit') {
        for (const b of boards) b.sock.end(Buffer.from([0xe0, 0]));
        setTimeout(() => process.exit(0), 500);
      }
    }
  });
}

main().catch((err: unknown) => {
  out({ error: String(err) });
  process.exit(1);
});
