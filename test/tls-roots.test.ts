// The CA roots the installer ships to boards (src/core/tls-roots.ts): picked by subject from Node's
// Mozilla store, only those the release host needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { GITHUB_ROOTS, rootsFor, rootsPem, WEB_ROOTS } from '../src/core/tls-roots';

function subjects(pem: string): string[] {
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return certs.map((c) => {
    const x = new X509Certificate(c);
    assert.ok(x.ca, 'a CA certificate');
    assert.equal(x.subject, x.issuer, 'a self-signed root');
    return /CN=([^\n]*)/.exec(x.subject)![1];
  });
}

test('a GitHub board gets exactly the GitHub roots (Sectigo USERTrust for the API, DigiCert for assets)', () => {
  assert.deepEqual(subjects(rootsFor({ source: 'github', repo: 'me/app' })), [...GITHUB_ROOTS]);
});

test('a static host gets the common web roots, the GitHub ones among them', () => {
  const names = subjects(rootsFor({ source: 'static', url: 'https://example.com' }));
  assert.deepEqual(names, [...WEB_ROOTS]);
  for (const n of GITHUB_ROOTS) assert.ok(names.includes(n));
});

test('a root missing from the store is an error, not a silently smaller bundle', () => {
  assert.throws(() => rootsPem(['No Such Root CA']), /No Such Root CA/);
});
