// The virtual board's network: board-side sockets against real servers on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { runBoard } from '../src/sim/board';
import { missingService } from './support/service';

const body = randomBytes(1024 * 1024);
let server: http.Server;
let port: number;

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

after(() => new Promise<void>((r) => server.close(() => r())));

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sim-net-'));
}

test('a board-side HTTP GET of 1 MB arrives intact, streamed to flash', { timeout: 30_000 }, async () => {
  const dir = tmp();
  const r = await runBoard({
    fsDir: dir,
    boot: false,
    code: `
import socket, hashlib, binascii, network
assert network.WLAN(network.STA_IF).isconnected()
addr = socket.getaddrinfo('localhost', ${port}, 0, socket.SOCK_STREAM)[0][-1]
s = socket.socket()
s.settimeout(5)
s.connect(addr)
s.sendall(b'GET /big HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')
status = s.readline()
while s.readline() != b'\\r\\n':
    pass
h = hashlib.sha256()
buf = bytearray(4096)
mv = memoryview(buf)
f = open('big.bin', 'wb')
while True:
    n = s.readinto(buf)
    if not n:
        break
    h.update(mv[:n])
    f.write(mv[:n])
f.close()
s.close()
print(status, binascii.hexlify(h.digest()).decode())
`,
  });
  assert.equal(r.error, undefined);
  assert.equal(r.output, `b'HTTP/1.1 200 OK\\r\\n' ${createHash('sha256').update(body).digest('hex')}\r\n`);
  assert.ok(fs.readFileSync(path.join(dir, 'big.bin')).equals(body));
});

test(
  'socket errors carry the errno numbers of a board: refused, timed out, reset',
  { timeout: 20_000 },
  async () => {
    const silent = net.createServer(() => undefined);
    const rude = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const r = await runBoard({
        fsDir: tmp(),
        boot: false,
        code: `
import socket, time
def err(f):
    try:
        f()
    except OSError as e:
        return e.args[0]
def refused():
    socket.socket().connect(('127.0.0.1', ${closedPort}))
def timeout():
    s = socket.socket()
    s.connect(('127.0.0.1', ${(silent.address() as net.AddressInfo).port}))
    s.settimeout(0.2)
    s.recv(10)
def reset():
    s = socket.socket()
    s.connect(('127.0.0.1', ${(rude.address() as net.AddressInfo).port}))
    s.write(b'x')
    time.sleep_ms(100)
    s.recv(10)
def nonblocking():
    s = socket.socket()
    s.connect(('127.0.0.1', ${(silent.address() as net.AddressInfo).port}))
    s.setblocking(False)
    s.recv(10)
print(err(refused), err(timeout), err(reset), err(nonblocking))
`,
      });
      assert.equal(r.error, undefined);
      assert.equal(r.output, '111 110 104 11\r\n');
    } finally {
      silent.close();
      rude.close();
    }
  },
);

test('time, machine and network modules answer as on a board', async () => {
  const r = await runBoard({
    fsDir: tmp(),
    boot: false,
    code: `
import time, machine, network
t0 = time.ticks_ms()
time.sleep_ms(50)
dt = time.ticks_diff(time.ticks_ms(), t0)
print(50 <= dt < 1000, time.localtime()[0] >= 2026, len(machine.unique_id()), machine.freq())
print(network.WLAN(network.STA_IF).ifconfig()[0], machine.reset_cause() == machine.PWRON_RESET)
`,
  });
  assert.equal(r.error, undefined);
  assert.equal(r.output, 'True True 6 240000000\r\n127.0.0.1 True\r\n');
});

test(
  'ssl: TLS over a board socket, with and without certificate checks',
  { timeout: 30_000, skip: missingService(['openssl']) },
  async () => {
    const dir = tmp();
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
    fs.writeFileSync(path.join(dir, 'ca.der'), new X509Certificate(cert).raw);
    const secure = https.createServer(
      { key: fs.readFileSync(path.join(dir, 'key.pem')), cert },
      (_req, res) => {
        res.end('over tls');
      },
    );
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    const tlsPort = (secure.address() as net.AddressInfo).port;
    try {
      const r = await runBoard({
        fsDir: dir,
        boot: false,
        code: `
import socket, ssl
def get(verify, ca=None):
    s = socket.socket()
    s.connect(('127.0.0.1', ${tlsPort}))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = verify
    if ca:
        ctx.load_verify_locations(cadata=ca)
    try:
        s = ctx.wrap_socket(s, server_hostname='localhost')
    except ValueError as e:
        # mbedTLS ports: a refused certificate is a ValueError with the verify text.
        s.close()
        return 'ValueError: ' + str(e).strip()
    s.write(b'GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')
    body = s.read().split(b'\\r\\n\\r\\n')[1]
    s.close()
    return body
print(get(ssl.CERT_NONE))
print(get(ssl.CERT_REQUIRED, open('ca.der', 'rb').read()))
print(get(ssl.CERT_REQUIRED))
`,
      });
      assert.equal(r.error, undefined);
      assert.equal(
        r.output,
        "b'over tls'\r\nb'over tls'\r\nValueError: The certificate is not correctly signed by the trusted CA\r\n",
      );
    } finally {
      secure.close();
    }
  },
);
