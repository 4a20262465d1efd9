// TLS on the board (README "Threat model"): every HTTPS connection is verified the way MicroPython's
// mbedTLS ports verify (the virtual board's ssl: CA, host name, validity against the board's clock),
// against the roots the installer ships or the configured CA, with SPKI pinning and client
// certificates; `insecure` only when configured, and never a token over an unverified connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fx from './support/release-fixture';
import { missingService } from './support/service';
import { der, makePki, spkiPin, type Pair, type Pki } from './support/pki';
import { rootsFor, ROOTS_PATH } from '../src/core/tls-roots';

// The test CA and server certificates are made by openssl.
const noOpenssl = missingService(['openssl']);
if (noOpenssl) console.log(`# skipped: ${noOpenssl}`);
const T = { timeout: 60_000, skip: noOpenssl };
const cleanups: string[] = [];
let pki: Pki;
let rel: fx.Release;
let host: string;

before(async () => {
  if (noOpenssl) return;
  const dir = fx.tempDir('pki');
  cleanups.push(dir);
  pki = makePki(dir);
  rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'] });
  host = fx.tempDir('host');
  cleanups.push(rel.dir, host);
  fx.publishStatic(host, rel);
});
after(() => fx.cleanup(...cleanups));

interface Try {
  serverCert: Pair;
  tls?: Record<string, unknown>;
  /** Board files written before the run (CA files, client keys). */
  files?: Record<string, Buffer | string>;
  config?: Record<string, unknown>;
  /** Python run before ota.update() (to set the board's clock). */
  before?: string;
  clientCa?: Buffer;
}

async function attempt(
  t: Try,
): Promise<{ codes: string[]; output: string; fsDir: string; requests: number }> {
  const srv = await fx.serveFolder(host, undefined, {
    cert: t.serverCert.cert,
    key: t.serverCert.key,
    ...(t.clientCa ? { ca: t.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const fsDir = fx.makeBoard(
    { source: 'static', url: srv.url, retries: 0, timeout: 3, ...(t.tls ? { tls: t.tls } : {}), ...t.config },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(fsDir);
  writeFileSync(join(fsDir, ROOTS_PATH), rootsFor({ source: 'static' }));
  for (const [p, b] of Object.entries(t.files ?? {})) writeFileSync(join(fsDir, p), b);
  try {
    const r = await fx.runBoard({ fsDir, code: `${t.before ?? ''}\nimport ota\nprint(ota.update(False))\n` });
    assert.equal(r.error, undefined, r.output);
    return { codes: fx.errorCodes(r.output), output: r.output, fsDir, requests: srv.requests.length };
  } finally {
    await srv.close();
  }
}

function version(fsDir: string): string {
  return JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version;
}

function errorMsg(output: string): string {
  return String(fx.eventsOf(output).find((e) => e.ev === 'error')?.msg ?? '');
}

test('the configured CA (PEM file) verifies the server: the update installs', T, async () => {
  const r = await attempt({
    serverCert: pki.server,
    tls: { ca: 'ca.pem' },
    files: { 'ca.pem': pki.ca.cert },
  });
  assert.deepEqual(r.codes, [], r.output);
  assert.equal(version(r.fsDir), '1.1.0');
});

test('the CA as one DER certificate (cadata as mbedTLS takes it) verifies too', T, async () => {
  const r = await attempt({
    serverCert: pki.server,
    tls: { ca: 'ca.der' },
    files: { 'ca.der': der(pki.ca.cert) },
  });
  assert.deepEqual(r.codes, [], r.output);
  assert.equal(version(r.fsDir), '1.1.0');
});

test('another CA: refused with tls_verify and mbedTLS verify text, nothing requested', T, async () => {
  const r = await attempt({
    serverCert: pki.otherServer,
    tls: { ca: 'ca.pem' },
    files: { 'ca.pem': pki.ca.cert },
  });
  assert.deepEqual(r.codes, ['tls_verify'], r.output);
  assert.match(errorMsg(r.output), /not correctly signed by the trusted CA/);
  assert.equal(r.requests, 0);
  assert.equal(version(r.fsDir), '1.0.0');
});

test('a certificate for another host name: refused with tls_verify', T, async () => {
  const r = await attempt({
    serverCert: pki.wrongName,
    tls: { ca: 'ca.pem' },
    files: { 'ca.pem': pki.ca.cert },
  });
  assert.deepEqual(r.codes, ['tls_verify'], r.output);
  assert.match(errorMsg(r.output), /Common Name \(CN\) does not match/);
  assert.equal(r.requests, 0);
});

test('default trust is the shipped roots: a self-signed impostor is refused', T, async () => {
  const r = await attempt({ serverCert: pki.impostor });
  assert.deepEqual(r.codes, ['tls_verify'], r.output);
  assert.equal(r.requests, 0);
  assert.equal(version(r.fsDir), '1.0.0');
});

test('a pinned public key: the pinned self-signed server is accepted, another key is not', T, async () => {
  const ok = await attempt({ serverCert: pki.impostor, tls: { pin: spkiPin(pki.impostor.cert) } });
  assert.deepEqual(ok.codes, [], ok.output);
  assert.equal(version(ok.fsDir), '1.1.0');
  // CA-valid certificate, but not the pinned key.
  const bad = await attempt({
    serverCert: pki.server,
    tls: { ca: 'ca.pem', pin: [spkiPin(pki.impostor.cert)] },
    files: { 'ca.pem': pki.ca.cert },
  });
  assert.deepEqual(bad.codes, ['tls_pin'], bad.output);
  assert.equal(bad.requests, 0, 'nothing is sent before the pin matched');
  assert.equal(version(bad.fsDir), '1.0.0');
});

test('mutual TLS: the board presents its client certificate; without one the server refuses', T, async () => {
  const files = { 'ca.pem': pki.ca.cert, 'client.pem': pki.client.cert, 'client.key': pki.client.key };
  const ok = await attempt({
    serverCert: pki.server,
    clientCa: pki.ca.cert,
    tls: { ca: 'ca.pem', cert: 'client.pem', key: 'client.key' },
    files,
  });
  assert.deepEqual(ok.codes, [], ok.output);
  assert.equal(version(ok.fsDir), '1.1.0');
  const without = await attempt({
    serverCert: pki.server,
    clientCa: pki.ca.cert,
    tls: { ca: 'ca.pem' },
    files,
  });
  assert.notDeepEqual(without.codes, [], without.output);
  assert.ok(['tls', 'network'].includes(without.codes[0]), without.output);
  assert.equal(version(without.fsDir), '1.0.0');
});

test('insecure is explicit and logged: the impostor is accepted with a warning', T, async () => {
  const r = await attempt({ serverCert: pki.impostor, tls: { insecure: true } });
  assert.deepEqual(r.codes, [], r.output);
  const warn = fx.eventsOf(r.output).filter((e) => e.ev === 'warning');
  assert.deepEqual(
    warn.map((e) => e.code),
    ['tls_insecure'],
    r.output,
  );
});

test(
  'the clock: a board whose clock was never set verifies after NTP; without NTP it cannot',
  T,
  async () => {
    const unset = 'import machine\nmachine.RTC().datetime((2000, 1, 1, 5, 0, 0, 0, 0))';
    const files = { 'ca.pem': pki.ca.cert };
    const noNtp = await attempt({
      serverCert: pki.server,
      tls: { ca: 'ca.pem' },
      files,
      config: { ntp: false },
      before: unset,
    });
    assert.deepEqual(noNtp.codes, ['tls_verify'], noNtp.output);
    assert.match(errorMsg(noNtp.output), /validity starts in the future/);
    const ntp = await attempt({ serverCert: pki.server, tls: { ca: 'ca.pem' }, files, before: unset });
    assert.deepEqual(ntp.codes, [], ntp.output);
    assert.equal(version(ntp.fsDir), '1.1.0');
  },
);

test(
  "the board's ssl: CERT_REQUIRED by default, ValueError for a refused certificate, OSError otherwise",
  T,
  async () => {
    const srv = await fx.serveFolder(host, undefined, {
      cert: pki.otherServer.cert,
      key: pki.otherServer.key,
    });
    const port = new URL(srv.url).port;
    const fsDir = fx.makeBoard({ source: 'static', url: srv.url }, {}, undefined);
    cleanups.push(fsDir);
    writeFileSync(join(fsDir, 'ca.pem'), pki.ca.cert);
    try {
      const r = await fx.runBoard({
        fsDir,
        boot: false,
        code: [
          'import socket, ssl',
          'def conn():',
          `    s = socket.socket()`,
          `    s.connect(socket.getaddrinfo('127.0.0.1', ${port})[0][-1])`,
          '    return s',
          'ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)',
          'print("mode", ctx.verify_mode == ssl.CERT_REQUIRED)',
          'ctx.load_verify_locations(cadata=open("ca.pem", "rb").read())',
          'try:',
          '    ctx.wrap_socket(conn(), server_hostname="127.0.0.1")',
          'except ValueError as e:',
          '    print("ValueError", e)',
          'try:',
          '    ctx.wrap_socket(conn())',
          'except ValueError as e:',
          '    print("no hostname ValueError")',
          'bad = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)',
          'try:',
          '    bad.load_verify_locations(cadata=b"not a certificate")',
          '    bad.wrap_socket(conn(), server_hostname="127.0.0.1")',
          'except OSError as e:',
          '    print("OSError")',
        ].join('\n'),
      });
      const out = r.output.replace(/\r/g, '');
      assert.match(out, /mode True/);
      assert.match(out, /ValueError The certificate is not correctly signed by the trusted CA/);
      assert.match(out, /no hostname ValueError/);
      assert.match(out, /OSError/);
    } finally {
      await srv.close();
    }
  },
);

/** A GitHub-source board with a token, pointed at an impostor API that records what reaches it. */
async function tokenAttempt(
  tlsCfg?: Record<string, unknown>,
  plain = false,
): Promise<{ codes: string[]; output: string; auth: unknown[]; requests: number }> {
  const srv = await fx.serveFolder(
    host,
    undefined,
    plain ? undefined : { cert: pki.impostor.cert, key: pki.impostor.key },
  );
  const fsDir = fx.makeBoard(
    {
      source: 'github',
      repo: 'me/app',
      api: srv.url,
      token: 'ghp_secret',
      retries: 0,
      timeout: 3,
      ...(tlsCfg ? { tls: tlsCfg } : {}),
    },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(fsDir);
  writeFileSync(join(fsDir, ROOTS_PATH), rootsFor({ source: 'github' }));
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.update(False))\n' });
    return {
      codes: fx.errorCodes(r.output),
      output: r.output,
      auth: srv.requests.map((q) => q.headers.authorization).filter((a) => a !== undefined),
      requests: srv.requests.length,
    };
  } finally {
    await srv.close();
  }
}

test('an impostor API with a self-signed certificate never receives the token', T, async () => {
  const r = await tokenAttempt();
  assert.deepEqual(r.codes, ['tls_verify'], r.output);
  assert.equal(r.requests, 0);
  // insecure mode: still no token over the unverified connection.
  const insecure = await tokenAttempt({ insecure: true });
  assert.deepEqual(insecure.codes, ['token_unverified'], insecure.output);
  assert.deepEqual(insecure.auth, []);
  // plain HTTP is unverified too.
  const plain = await tokenAttempt(undefined, true);
  assert.deepEqual(plain.codes, ['token_unverified'], plain.output);
  assert.deepEqual(plain.auth, []);
});

test('tls config mistakes are config errors, before any connection', T, async () => {
  for (const tlsCfg of [
    { ca: 'missing.pem' },
    { pin: 'abc' },
    { cert: 'c.pem' },
    { insecure: 'yes', ca: 7 },
  ]) {
    const r = await attempt({ serverCert: pki.server, tls: tlsCfg });
    assert.deepEqual(r.codes, ['bad_config'], `${JSON.stringify(tlsCfg)}: ${r.output}`);
    assert.equal(r.requests, 0);
  }
});

test('an HTTPS answer redirecting to plain HTTP is refused: redirect_downgrade', T, async () => {
  const srv = await fx.serveFolder(
    host,
    (req, res, rec) => {
      if (!req.url?.endsWith('/main.py')) return false;
      rec.status = 302;
      res.writeHead(302, { location: `http://127.0.0.1:9${req.url}`, 'content-length': '0' });
      res.end();
      return true;
    },
    { cert: pki.server.cert, key: pki.server.key },
  );
  const fsDir = fx.makeBoard(
    { source: 'static', url: srv.url, retries: 0, timeout: 3, tls: { ca: 'ota/ca.pem' } },
    fx.APP_1_0_0,
    '1.0.0',
  );
  cleanups.push(fsDir);
  writeFileSync(join(fsDir, 'ota', 'ca.pem'), pki.ca.cert);
  try {
    const r = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.update(False))\n' });
    assert.deepEqual(fx.errorCodes(r.output), ['redirect_downgrade'], r.output);
    assert.equal(version(fsDir), '1.0.0');
  } finally {
    await srv.close();
  }
});
