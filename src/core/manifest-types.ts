// The release manifest, schema 1, exactly as docs/protocols.md fixes it.

export const MANIFEST_SCHEMA = 1;

export interface ManifestFile {
  /** Relative, `/`-separated, never absolute, never `..`, never under `.ota/`. */
  path: string;
  size: number;
  /** Git blob SHA-1: sha1('blob ' + size + '\0' + bytes), equal to `git hash-object`. */
  sha1: string;
  sha256: string;
}

export interface ManifestBundle {
  name: string;
  size: number;
  sha256: string;
}

/** An ESP32 app image for the board's next OTA partition (a file beside the manifest). */
export interface ManifestFirmware {
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  schema: number;
  name: string;
  version: string;
  created: string;
  files: ManifestFile[];
  delete?: string[];
  keep?: string[];
  hooks?: { post_update?: string; rollback?: string };
  bundle?: ManifestBundle;
  firmware?: ManifestFirmware;
  expires?: string;
}

/** Detached signature, `manifest.json.sig`, over the exact published bytes of manifest.json. */
export interface ManifestSignature {
  alg: 'hmac-sha256' | 'rsa-sha256' | 'ed25519';
  key: string;
  sig: string;
}
