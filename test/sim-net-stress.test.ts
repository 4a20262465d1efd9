// The virtual board's socket bridge under load: many sequential short connections from the board's real
// HTTP client (device/ota/http.py) to a real server on 127.0.0.1, every answer checked byte for byte.
//
// Every host call is answered with a store, then a notify. When the main thread is preempted between the
// two, the worker can see the store, go on, and meet that notify in its wait for the next call: it then
// read the last call's result and the stale data buffer (a status line read as "12HTTP/1.1 200 OK": the
// 2 of a send and "12" of a resolved "127.0.0.1"). These tests deliver every notify a second time, late, as
// that preemption does, so the race shows on any machine instead of once in four loaded runs.
// SIM_NET_STRESS=<requests> runs the HTTP test longer (25000: about a minute on this machine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import { gzipSync } from 'node:zlib';
import { runBoard, VirtualBoard, type RunResult } from '../src/sim/board';
import { makePki } from './support/pki';

const realNotify = Atomics.notify;

/** Every notify also comes again on the next turn of the event loop: a late notify, as under preemption. */
function lateNotifies(): void {
  Atomics.notify = ((ta: Int32Array, index: number, count?: number): number => {
    setImmediate(() => realNotify(ta, index, count));
    return realNotify(ta, index, count);
  }) as typeof Atomics.notify;
}

before(lateNotifies);
after(() => {
  Atomics.notify = realNotify;
});

function boardDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-net-stress-'));
  fs.cpSync(path.join(__dirname, '..', 'device', 'ota'), path.join(dir, 'ota'), { recursive: true });
  return dir;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** Runs `code(port)` on a fresh board (no boot) while an echo server listens on 127.0.0.1:`port`. */
async function onBoardWithEcho(
  code: (port: number) => string,
  opts: Omit<Parameters<typeof runBoard>[0], 'fsDir' | 'code' | 'boot'>,
): Promise<RunResult> {
  const echo = net.createServer((s) => s.on('data', (d) => s.write(d)));
  const port = await listen(echo);
  try {
    return await runBoard({ fsDir: boardDir(), boot: false, ...opts, code: code(port) });
  } finally {
    echo.close();
  }
}

test('every host call gets its own answer: sends, name lookups and echoed reads, 1500 rounds', async () => {
  const r = await onBoardWithEcho(
    (port) => `
import gc, socket
s = socket.socket()
s.settimeout(5)
s.connect(socket.getaddrinfo('127.0.0.1', ${port})[0][-1])
bad = []
for i in range(1500):
    if i % 50 == 0:
        gc.collect()
    n = 1 + i % 40
    msg = (b'%d:' % i + b'x' * n)[:n]
    if s.send(msg) != n:
        bad.append(('send', i))
    if socket.getaddrinfo('localhost', 80)[0][-1][0] != '127.0.0.1':
        bad.append(('resolve', i))
    got = b''
    while len(got) < n:
        got += s.recv(n - len(got))
    if got != msg:
        bad.append(('recv', i, got))
s.close()
print(len(bad), bad[:3])
`,
    { timeoutMs: 60_000 },
  );
  assert.equal(r.error, undefined);
  assert.equal(r.output, '0 []\r\n');
});

test('sequential HTTP requests from the board: whole, chunked, gzip and cut-short answers arrive intact', async () => {
  const requests = Number(process.env.SIM_NET_STRESS ?? 400);
  const big = Buffer.alloc(20_000, 'A');
  let served = 0;
  const server = http.createServer((req, res) => {
    served++;
    const [, kind, n] = (req.url ?? '').split('/');
    const own = Buffer.from(`body of ${n}\n`);
    if (kind === 'chunked' || kind === 'chunked-cut') {
      // 18-byte chunks ("12" size lines), written one by one: the tail arrives after the board stops reading.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(own);
      let left = 30;
      const more = (): void => {
        if (left-- > 0 && !res.destroyed) {
          res.write(Buffer.alloc(18, 'B'));
          setImmediate(more);
        } else res.end();
      };
      more();
    } else if (kind === 'gz') {
      const gz = gzipSync(own);
      res.writeHead(200, { 'content-length': gz.length, 'content-encoding': 'gzip' });
      res.end(gz);
    } else if (kind === 'cut') {
      res.writeHead(200, { 'content-length': own.length + big.length });
      res.end(Buffer.concat([own, big]));
    } else {
      res.writeHead(200, { 'content-length': own.length });
      res.end(own);
    }
  });
  const port = await listen(server);
  try {
    const r = await runBoard({
      fsDir: boardDir(),
      boot: false,
      timeoutMs: 30_000 + requests * 50,
      code: `
import gc, deflate
from ota import http
kinds = ('whole', 'chunked', 'cut', 'gz', 'chunked-cut')
bad = []
buf = bytearray(64)
for i in range(${requests}):
    k = kinds[i % len(kinds)]
    if i % 10 == 0:
        gc.collect()
    own = b'body of %d\\n' % i
    try:
        # A gzip answer is taken only when asked for (http.py refuses an encoding nobody asked for).
        h = {'Accept-Encoding': 'gzip'} if k == 'gz' else None
        r = http.request('http://127.0.0.1:${port}/%s/%d' % (k, i), headers=h, timeout=5)
        if k == 'whole':
            body = r.read_all(1000)
        elif k == 'chunked':
            body = r.read_all(1000)[: len(own)]
        elif k == 'gz':
            n = deflate.DeflateIO(r, deflate.GZIP, 9).readinto(buf)
            body = bytes(buf[:n])
        else:
            # A bounded read, then close with the rest of the answer still coming (as http.py's callers do).
            n = r.readinto(memoryview(buf)[: len(own)])
            body = bytes(buf[:n])
        r.close()
        if r.status != 200 or body != own:
            bad.append((i, k, r.status, body[:20]))
    except Exception as e:
        bad.append((i, k, repr(e)[:60]))
print(len(bad), bad[:3])
`,
    });
    assert.equal(r.error, undefined);
    assert.equal(r.output, '0 []\r\n');
    assert.equal(served, requests);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a reset mid-download leaks nothing into the next boot: the old socket is closed, new ones get their own bytes', async () => {
  const dir = boardDir();
  let oldClosed!: () => void;
  const closed = new Promise<void>((r) => (oldClosed = r));
  // Streams "OLD" for as long as the connection lasts: any of it in the next boot is a leak.
  const streamer = net.createServer((s) => {
    const timer = setInterval(() => s.write('OLD'.repeat(100)), 1);
    s.on('close', () => {
      clearInterval(timer);
      oldClosed();
    });
    s.on('error', () => undefined);
  });
  const answer = net.createServer((s) => s.end('NEW'));
  const oldPort = await listen(streamer);
  const newPort = await listen(answer);
  const board = VirtualBoard.create({ fsDir: dir }, true);
  const out: Buffer[] = [];
  board.on('data', (c: Buffer) => out.push(c));
  try {
    await board.powerUp(false);
    const first = await board.execRaw(`
import socket, machine
s = socket.socket()
s.connect(('127.0.0.1', ${oldPort}))
s.settimeout(5)
assert s.recv(50).startswith(b'OLD')
machine.reset()
`);
    assert.equal(first.kind, 'stopped');
    await board.settled();
    await closed; // the reset dropped the host side of the socket the program never closed
    const second = await board.execRaw(`
import gc, socket
got = []
for i in range(20):
    s = socket.socket()
    s.settimeout(5)
    s.connect(('127.0.0.1', ${newPort}))
    got.append(s.read())
    gc.collect()
    s.close()
print(set(got))
`);
    assert.equal(second.kind, 'ok', second.text);
    await board.settled();
  } finally {
    await board.stop();
    streamer.close();
    answer.close();
  }
  assert.match(Buffer.concat(out).toString(), /\{b'NEW'\}\r\n$/);
});

test('Ctrl-C in a blocking read: the bytes that come after it wait for the next read', async () => {
  let peer!: net.Socket;
  const server = net.createServer((s) => (peer = s));
  const connected = new Promise((r) => server.once('connection', r));
  const port = await listen(server);
  const board = await VirtualBoard.start({ fsDir: boardDir() });
  let out = '';
  board.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const until = async (end: string): Promise<string> => {
    const deadline = Date.now() + 10_000;
    while (!out.endsWith(end) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const text = out;
    out = '';
    return text;
  };
  try {
    board.write('\x01');
    await until('>');
    board.write(
      `import socket\ns = socket.socket()\ns.connect(('127.0.0.1', ${port}))\nprint('go')\ns.recv(10)\x04`,
    );
    await connected;
    await until('go\r\n');
    board.write('\x03');
    assert.match(await until('\x04>'), /KeyboardInterrupt/);
    // Handed to the kernel before the next read starts: on loopback they are then in the board's socket.
    await new Promise((r) => peer.write('hello', r));
    board.write('s.settimeout(5)\nprint(s.recv(10))\x04');
    assert.equal(await until('\x04>'), "OKb'hello'\r\n\x04\x04>");
  } finally {
    await board.stop();
    server.close();
  }
});

test('a board with a 16 MB heap keeps room for the bridge: names and reads come back whole', async () => {
  const r = await onBoardWithEcho(
    (port) => `
import socket
got = set()
for i in range(20):
    s = socket.socket()
    s.settimeout(5)
    s.connect(socket.getaddrinfo('localhost', ${port})[0][-1])
    s.send(b'ping %d' % i)
    got.add(s.recv(20) == b'ping %d' % i)
    s.close()
print(got)
`,
    { heapKb: 16 * 1024 },
  );
  assert.equal(r.error, undefined);
  assert.equal(r.output, '{True}\r\n');
});

test('UDP: the bridge has no datagrams, so a datagram socket is refused (EOPNOTSUPP), never made a TCP stream', async () => {
  const r = await runBoard({
    fsDir: boardDir(),
    boot: false,
    code: `
import socket, ntptime, time
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
except OSError as e:
    print(e.args[0])
ntptime.settime()
print(time.localtime()[0] >= 2026)
`,
  });
  assert.equal(r.error, undefined);
  assert.equal(r.output, '95\r\nTrue\r\n');
});

test('TLS over the bridge: sequential verified HTTPS requests, some cut short, each gets its own body', async () => {
  const dir = boardDir();
  const pki = makePki(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-net-stress-pki-')));
  fs.writeFileSync(path.join(dir, 'ca.pem'), pki.ca.cert);
  const big = Buffer.alloc(30_000, 'T');
  const server = https.createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
    const [, kind, n] = (req.url ?? '').split('/');
    const own = Buffer.from(`secret ${n}\n`);
    const body = kind === 'cut' ? Buffer.concat([own, big]) : own;
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  const port = await listen(server);
  try {
    const r = await runBoard({
      fsDir: dir,
      boot: false,
      timeoutMs: 60_000,
      code: `
import gc
from ota import http
from ota.tls import Trust
trust = Trust({'ca': 'ca.pem'})
bad = []
buf = bytearray(64)
for i in range(40):
    gc.collect()
    k = ('whole', 'cut')[i % 2]
    own = b'secret %d\\n' % i
    r = http.request('https://127.0.0.1:${port}/%s/%d' % (k, i), timeout=5, trust=trust)
    n = r.readinto(memoryview(buf)[: len(own)])
    r.close()
    if r.status != 200 or bytes(buf[:n]) != own:
        bad.append((i, k, r.status, bytes(buf[:n])))
print(len(bad), bad[:3])
`,
    });
    assert.equal(r.error, undefined);
    assert.equal(r.output, '0 []\r\n');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
