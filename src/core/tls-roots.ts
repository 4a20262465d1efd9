/**
 * The CA roots a board trusts by default (device/ota/tls.py reads them from `ota/roots.pem`, which the
 * installer writes): only the roots the release host needs, picked by subject from Node's bundled
 * Mozilla store, because every root costs the board RAM while it verifies a connection.
 */
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';

/** Where the installer puts the roots on the board (inside the updater's reserved folder). */
export const ROOTS_PATH = 'ota/roots.pem';

/**
 * api.github.com is served under Sectigo's USERTrust roots; release assets and raw files
 * (objects/release-assets.githubusercontent.com) under DigiCert's.
 */
export const GITHUB_ROOTS = [
  'USERTrust ECC Certification Authority',
  'USERTrust RSA Certification Authority',
  'DigiCert Global Root CA',
  'DigiCert Global Root G2',
] as const;

/** A static host's certificate authority is unknown: the roots behind most HTTPS hosting. */
export const WEB_ROOTS = [
  ...GITHUB_ROOTS,
  'ISRG Root X1', // Let's Encrypt
  'ISRG Root X2',
  'GTS Root R1', // Google Trust Services: Cloudflare, Firebase, Google Cloud
  'GTS Root R4',
  'Amazon Root CA 1', // S3, CloudFront
] as const;

function commonName(pem: string): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1];
}

/** PEM text of the named roots, in the order named; throws when Node's store lacks one. */
export function rootsPem(names: readonly string[]): string {
  const byName = new Map<string, string>();
  for (const pem of rootCertificates) {
    const cn = commonName(pem);
    if (cn && names.includes(cn)) byName.set(cn, pem);
  }
  return names
    .map((n) => {
      const pem = byName.get(n);
      if (!pem) throw new Error(`Node's CA store has no root named ${n}`);
      return `${pem.trim()}\n`;
    })
    .join('');
}

/** The roots a board with this ota_config.json needs to reach its release host. */
export function rootsFor(config: Record<string, unknown>): string {
  return rootsPem(config.source === 'github' ? GITHUB_ROOTS : WEB_ROOTS);
}
