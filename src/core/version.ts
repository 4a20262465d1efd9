// Semantic versions: the board refuses downgrades, so host and device must order them alike.
// Hand-written rather than the semver package on purpose: the order that counts is the board's
// (device/ota/manifest.py compare()), and test/release-rules-device.test.ts holds the two equal.
import { OtaError } from './errors';

export interface Version {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated prerelease identifiers; empty for a release. */
  prerelease: string[];
  build: string[];
  /** The version as written in manifests: no leading `v`. */
  text: string;
}

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Parses `1.2.3`, `1.2.3-beta.1`, `1.2.3+build`, with an optional leading `v` (a tag). */
export function parseVersion(s: string): Version {
  const m = SEMVER.exec(s);
  if (!m) {
    throw new OtaError(
      'bad_version',
      `version ${JSON.stringify(s)} is not semver-like (expected MAJOR.MINOR.PATCH, e.g. 1.4.0 or 1.4.0-beta.1)`,
    );
  }
  const nums = [m[1], m[2], m[3]].map(Number);
  if (nums.some((n) => !Number.isSafeInteger(n))) {
    throw new OtaError('bad_version', `version ${JSON.stringify(s)} has a number too large`);
  }
  return {
    major: nums[0],
    minor: nums[1],
    patch: nums[2],
    prerelease: m[4] ? m[4].split('.') : [],
    build: m[5] ? m[5].split('.') : [],
    text: s.startsWith('v') ? s.slice(1) : s,
  };
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an) return -1; // numeric identifiers sort below alphanumeric ones
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Semver 2.0 precedence: negative, zero or positive. Build metadata is ignored. */
export function compareVersions(a: string | Version, b: string | Version): number {
  const va = typeof a === 'string' ? parseVersion(a) : a;
  const vb = typeof b === 'string' ? parseVersion(b) : b;
  const d = va.major - vb.major || va.minor - vb.minor || va.patch - vb.patch;
  if (d !== 0) return Math.sign(d);
  const pa = va.prerelease;
  const pb = vb.prerelease;
  if (pa.length === 0 || pb.length === 0) return pa.length === pb.length ? 0 : pa.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareIdentifiers(pa[i], pb[i]);
    if (c !== 0) return c;
  }
  return Math.sign(pa.length - pb.length);
}
