// The virtual board's costs, against baselines measured in the same run:
// - a board-side 1 MB HTTP GET streamed to flash (socket calls parked on shared memory, the flash written
//   through to the host folder) against Node itself fetching the same body into a file;
// - a power-on (new worker, interpreter, flash load, boot.py) against starting a bare Node worker thread.
import { mkdtempSync, rmSync, createWriteStream } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { runBoard } from '../src/sim/board';

const SAMPLES = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function nodeGet(port: number, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/big' }, (res) => {
      res.pipe(createWriteStream(file)).on('finish', resolve).on('error', reject);
    });
  });
}

const GET = (port: number) => `
import socket
s = socket.socket()
s.connect(('127.0.0.1', ${port}))
s.write(b'GET /big HTTP/1.0\\r\\n\\r\\n')
while s.readline() != b'\\r\\n':
    pass
buf = bytearray(4096)
f = open('big.bin', 'wb')
while True:
    n = s.readinto(buf)
    if not n:
        break
    f.write(memoryview(buf)[:n])
f.close()
s.close()
`;

export async function run(): Promise<void> {
  const body = randomBytes(1024 * 1024);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'sim-bench-'));
  try {
    const boardGet: number[] = [];
    const hostGet: number[] = [];
    const boot: number[] = [];
    const bareWorker: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      hostGet.push(await time(() => nodeGet(port, join(dir, 'host.bin'))));
      const idle = await time(() => runBoard({ fsDir: dir, boot: false, code: 'pass' }));
      boot.push(idle);
      const total = await time(() => runBoard({ fsDir: dir, boot: false, code: GET(port) }));
      boardGet.push(total - idle);
      bareWorker.push(
        await time(async () => {
          const w = new Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true });
          await new Promise((r) => w.once('message', r));
          await w.terminate();
        }),
      );
    }
    const g = median(boardGet);
    const h = median(hostGet);
    console.log(
      `1 MB GET to flash: board ${g.toFixed(0)} ms = ${(g / h).toFixed(1)}x Node's own GET to a file (${h.toFixed(0)} ms)`,
    );
    const b = median(boot);
    const w = median(bareWorker);
    console.log(
      `power-on to idle: ${b.toFixed(0)} ms = ${(b / w).toFixed(1)}x starting a bare worker thread (${w.toFixed(0)} ms)`,
    );
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
