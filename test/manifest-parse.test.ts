import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest, serializeManifest } from '../src/core/manifest';
import { checkReleasePath } from '../src/core/paths';
import { compareVersions, parseVersion } from '../src/core/version';
import { OtaError } from '../src/core/errors';
import type { Manifest } from '../src/core/manifest-types';

const SHA1 = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const full: Manifest = {
  schema: 1,
  name: 'weather-station',
  version: '1.4.0',
  created: '2026-11-25T10:00:00Z',
  files: [{ path: 'main.py', size: 0, sha1: SHA1, sha256: SHA256 }],
  delete: ['old_driver.py'],
  keep: ['ota_config.json', 'secrets.json'],
  hooks: { post_update: 'main.py', rollback: 'main.py' },
  bundle: { name: 'weather-station-1.4.0.tar.gz', size: 9120, sha256: SHA256 },
  expires: '2027-05-25T10:00:00Z',
};

function code(fn: () => unknown, expected: string, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OtaError, String(err));
    assert.equal(err.code, expected, err.message);
    if (re) assert.match(err.message, re);
    return true;
  });
}

const json = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

test('a manifest survives serialize -> parse -> serialize byte for byte, keys in docs/protocols.md order', () => {
  const bytes = serializeManifest(full);
  assert.deepEqual(parseManifest(bytes), full);
  assert.ok(serializeManifest(parseManifest(bytes)).equals(bytes));
  // key order does not depend on how the object was built
  const shuffled = JSON.parse(JSON.stringify(full), (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
  );
  assert.ok(serializeManifest(shuffled).equals(bytes));
});

test('unknown keys are ignored; a higher schema is refused', () => {
  const m = parseManifest(json({ ...full, signer: 'x', files: [{ ...full.files[0], mode: 493 }] }));
  assert.deepEqual(m, full);
  code(() => parseManifest(json({ ...full, schema: 2 })), 'schema_unsupported', /schema 2 is newer/);
});

test('invalid manifests are refused with bad_manifest naming the field', () => {
  const f = full.files[0];
  const cases: [unknown, RegExp][] = [
    ['[1]', /manifest must be an object/],
    [{ ...full, schema: '1' }, /schema/],
    [{ ...full, version: 'one' }, /version "one"/],
    [{ ...full, files: {} }, /files must be an array/],
    [{ ...full, files: [{ ...f, path: '../x' }] }, /files\[0\]\.path.*\.\./],
    [{ ...full, files: [{ ...f, path: '.ota/state.json' }] }, /under \.ota/],
    [{ ...full, files: [{ ...f, size: -1 }] }, /files\[0\]\.size/],
    [{ ...full, files: [{ ...f, sha1: SHA1.toUpperCase() }] }, /files\[0\]\.sha1/],
    [{ ...full, files: [{ ...f, sha256: SHA1 }] }, /files\[0\]\.sha256/],
    [{ ...full, files: [f, f] }, /main\.py twice/],
    [{ ...full, created: 'yesterday' }, /created/],
    [{ ...full, delete: ['/abs'] }, /delete\[0\].*absolute/],
    [{ ...full, hooks: { rollback: 'a\\b' } }, /hooks\.rollback/],
    [{ ...full, bundle: { name: 'b', size: 1 } }, /bundle\.sha256/],
  ];
  for (const [value, re] of cases) {
    code(
      () => parseManifest(typeof value === 'string' ? Buffer.from(value) : json(value)),
      'bad_manifest',
      re,
    );
  }
  code(() => parseManifest(Buffer.from([0xff, 0x7b])), 'bad_manifest', /UTF-8 JSON/);
});

test('checkReleasePath accepts release paths and names the rule each bad one breaks', () => {
  for (const ok of ['main.py', 'lib/a/b.py', '.hidden', 'sub/.ota/x', 'café/☕.py'])
    assert.equal(checkReleasePath(ok), ok);
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['/main.py', /absolute/],
    ['C:/x', /absolute/],
    ['../x', /\.\./],
    ['a/../../x', /\.\./],
    ['a//b', /empty path segment/],
    ['a/', /empty path segment/],
    ['./a', /"\."/],
    ['a\\b', /backslash/],
    ['a\nb', /control/],
    ['a\x7fb', /control/],
    ['.ota/state.json', /\.ota/],
    ['.ota', /\.ota/],
  ];
  for (const [p, re] of bad) code(() => checkReleasePath(p), 'bad_path', re);
});

test('versions parse as semver and order with prereleases below releases', () => {
  assert.deepEqual(parseVersion('v1.2.3-beta.1+sha.5'), {
    major: 1,
    minor: 2,
    patch: 3,
    prerelease: ['beta', '1'],
    build: ['sha', '5'],
    text: '1.2.3-beta.1+sha.5',
  });
  const sorted = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.1',
    '1.2.0',
    '1.10.0',
    '2.0.0',
  ];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = 0; j < sorted.length; j++) {
      assert.equal(compareVersions(sorted[i], sorted[j]), Math.sign(i - j), `${sorted[i]} vs ${sorted[j]}`);
    }
  }
  assert.equal(compareVersions('1.0.0+a', '1.0.0+b'), 0);
  for (const bad of ['1.0', '1', '01.0.0', '1.0.0-', '1.0.0-01', 'latest', '', ' 1.0.0', '1.0.0.0']) {
    code(() => parseVersion(bad), 'bad_version', /semver-like/);
  }
});

test('schemas/manifest.schema.json accepts what the code writes and refuses the paths the code refuses', async () => {
  const { default: Ajv } = await import('ajv');
  const schema = JSON.parse(readFileSync(join(__dirname, '..', 'schemas', 'manifest.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true }).compile(schema);
  const ok = (m: unknown): boolean => validate(m) as boolean;
  assert.ok(ok(JSON.parse(serializeManifest(full).toString())), JSON.stringify(validate.errors));
  for (const p of ['main.py', 'lib/a/b.py', '.hidden', 'sub/.ota/x', 'café/☕.py', 'a..b']) {
    assert.ok(ok({ ...full, files: [{ ...full.files[0], path: p }] }), p);
    assert.doesNotThrow(() => checkReleasePath(p));
  }
  for (const p of [
    '',
    '/main.py',
    'C:/x',
    '../x',
    'a/../x',
    'a/..',
    'a//b',
    'a/',
    './a',
    'a/./b',
    'a\\b',
    'a\nb',
    '.ota/s',
    '.ota',
  ]) {
    assert.equal(ok({ ...full, files: [{ ...full.files[0], path: p }] }), false, JSON.stringify(p));
    assert.throws(() => checkReleasePath(p), JSON.stringify(p));
  }
  assert.equal(ok({ ...full, schema: 2 }), false);
  assert.equal(ok({ ...full, version: 'v1.0.0' }), false);
});
