// Certificates for the TLS tests, made with Debian's openssl on 127.0.0.1: a CA and a server
// certificate it signs (IP SAN 127.0.0.1), another CA, a server certificate for another name, a
// self-signed impostor, and a client certificate for mutual TLS. EC P-256 keys: quick to make.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

export interface Pair {
  cert: Buffer;
  key: Buffer;
}

export interface Pki {
  ca: Pair;
  otherCa: Pair;
  /** Signed by `ca` for IP 127.0.0.1. */
  server: Pair;
  /** Signed by `ca` for another host name only. */
  wrongName: Pair;
  /** Self-signed for 127.0.0.1: an impostor. */
  impostor: Pair;
  /** Signed by `otherCa` for 127.0.0.1. */
  otherServer: Pair;
  /** Signed by `ca`: the board's client certificate for mutual TLS. */
  client: Pair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** openssl req's options for a new EC P-256 key, unencrypted, written to `<name>.key`. */
const newKey = (name: string) => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  `${name}.key`,
];

/** `<name>.pem` and `<name>.key` in `dir`. */
const pairIn = (dir: string, name: string): Pair => ({
  cert: readFileSync(join(dir, `${name}.pem`)),
  key: readFileSync(join(dir, `${name}.key`)),
});

function selfSigned(dir: string, name: string, subj: string, ext: string[]): Pair {
  const exts = ext.flatMap((e) => ['-addext', e]);
  openssl(
    ['req', '-x509', ...newKey(name), '-days', '30', '-subj', subj, ...exts, '-out', `${name}.pem`],
    dir,
  );
  return pairIn(dir, name);
}

function issued(dir: string, name: string, subj: string, by: string, ext: string): Pair {
  openssl(['req', '-new', ...newKey(name), '-subj', subj, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext + '\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${by}.pem`,
      '-CAkey',
      `${by}.key`,
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
  return pairIn(dir, name);
}

export function makePki(dir: string): Pki {
  const caExt = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
  const ca = selfSigned(dir, 'ca', '/CN=OTA Test Root', caExt);
  const otherCa = selfSigned(dir, 'other-ca', '/CN=Someone Else Root', caExt);
  const ip = 'subjectAltName=IP:127.0.0.1';
  return {
    ca,
    otherCa,
    server: issued(dir, 'server', '/CN=127.0.0.1', 'ca', ip),
    wrongName: issued(
      dir,
      'wrong-name',
      '/CN=updates.example.com',
      'ca',
      'subjectAltName=DNS:updates.example.com',
    ),
    impostor: selfSigned(dir, 'impostor', '/CN=127.0.0.1', [ip]),
    otherServer: issued(dir, 'other-server', '/CN=127.0.0.1', 'other-ca', ip),
    client: issued(dir, 'client', '/CN=board-0001', 'ca', 'extendedKeyUsage=clientAuth'),
  };
}

/** What config tls.pin holds: SHA-256 (hex) of the certificate's SubjectPublicKeyInfo. */
export function spkiPin(certPem: Buffer): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/** A PEM certificate as DER bytes (what mbedTLS's cadata takes for a single certificate). */
export function der(certPem: Buffer): Buffer {
  return new X509Certificate(certPem).raw;
}

/**
 * A fetch that trusts `ca` for HTTPS (host code talking to a test server under the test CA), with
 * Node's https: the global fetch has no per-call CA option.
 */
export function trustingFetch(ca: Buffer): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:') return fetch(input, init);
    const body = init?.body == null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, { method: init?.method ?? 'GET', headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          const empty = [101, 204, 205, 304].includes(status);
          resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers: out }));
        });
      });
      req.on('error', reject);
      init?.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body);
    });
  };
}
