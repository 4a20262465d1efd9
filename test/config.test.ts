// The board's configuration model (src/core/config.ts) against schemas/ota_config.schema.json: the
// validator and the schema (compiled by ajv) must accept and refuse exactly the same files.
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { checkOtaConfig, validateOtaConfig } from '../src/core/config';
import { boardConfig } from '../src/core/board-config';
import { OtaError } from '../src/core/errors';

const schema = JSON.parse(readFileSync(join(__dirname, '..', 'schemas', 'ota_config.schema.json'), 'utf8'));
const ajvValid = new Ajv({ strict: false }).compile(schema);

const key = { alg: 'rsa-sha256', id: '3f2a9c0d1e4b5a67', key: 'AQAB' };
const VALID: object[] = [
  { source: 'static', url: 'http://127.0.0.1:8080/' },
  { source: 'static', url: 'https://host/ota', keys: [key], confirm_boots: 1, allow_downgrade: false },
  { source: 'github', repo: 'octo/app' },
  { source: 'github', repo: 'octo/app', api: 'https://ghe.example/api/v3', token: 't', channel: 'beta' },
  { source: 'github', repo: 'octo/app', channel: 'tag', tag: 'v1.0.0' },
  { source: 'github', repo: 'octo/app', channel: 'developer', branch: 'dev', paths: ['lib/'] },
  { source: 'static', url: 'http://h/', wifi: { ssid: 'net' }, timeout: 0.5, retries: 0 },
  { source: 'static', url: 'http://h/', wifi: { ssid: 'net', password: 'pw', hidden: true }, future_key: 1 },
];
const INVALID: [object | unknown, string][] = [
  [[1, 2], '/'],
  [{}, '/source'],
  [{ source: 'ftp', url: 'http://h/' }, '/source'],
  [{ source: { type: 'static', url: 'http://h/' } }, '/source'],
  [{ source: 'static' }, '/url'],
  [{ source: 'static', url: 'ftp://h/' }, '/url'],
  [{ source: 'github' }, '/repo'],
  [{ source: 'github', repo: 'octo' }, '/repo'],
  [{ source: 'github', repo: 'octo/app/x' }, '/repo'],
  [{ source: 'github', repo: 'octo/app', api: 'api.github.com' }, '/api'],
  [{ source: 'github', repo: 'octo/app', token: 5 }, '/token'],
  [{ source: 'github', repo: 'octo/app', channel: 'nightly' }, '/channel'],
  [{ source: 'github', repo: 'octo/app', channel: 'tag' }, '/tag'],
  [{ source: 'github', repo: 'octo/app', channel: 'tag', tag: '' }, '/tag'],
  [{ source: 'github', repo: 'octo/app', paths: 'lib/' }, '/paths'],
  [{ source: 'static', url: 'http://h/', keys: key }, '/keys'],
  [{ source: 'static', url: 'http://h/', keys: [{ ...key, alg: 'md5' }] }, '/keys/0/alg'],
  [{ source: 'static', url: 'http://h/', keys: [{ ...key, id: '' }] }, '/keys/0/id'],
  [{ source: 'static', url: 'http://h/', keys: [{ alg: 'ed25519', id: 'a' }] }, '/keys/0/key'],
  [{ source: 'static', url: 'http://h/', keys: [{ ...key, secret: 'x' }] }, '/keys/0/secret'],
  [{ source: 'static', url: 'http://h/', allow_downgrade: 'yes' }, '/allow_downgrade'],
  [{ source: 'static', url: 'http://h/', confirm_boots: 0 }, '/confirm_boots'],
  [{ source: 'static', url: 'http://h/', confirm_boots: 1.5 }, '/confirm_boots'],
  [{ source: 'static', url: 'http://h/', wifi: 'net' }, '/wifi'],
  [{ source: 'static', url: 'http://h/', wifi: { password: 'pw' } }, '/wifi/ssid'],
  [{ source: 'static', url: 'http://h/', timeout: 0 }, '/timeout'],
  [{ source: 'static', url: 'http://h/', retries: -1 }, '/retries'],
];

test('every valid configuration passes both the schema and validateOtaConfig', () => {
  for (const c of VALID) {
    assert.equal(
      ajvValid(c),
      true,
      `schema refuses ${JSON.stringify(c)}: ${JSON.stringify(ajvValid.errors)}`,
    );
    assert.deepEqual(validateOtaConfig(c), [], JSON.stringify(c));
  }
});

test('every invalid configuration fails both, and the problem names the key', () => {
  for (const [c, keyName] of INVALID) {
    assert.equal(ajvValid(c), false, `schema accepts ${JSON.stringify(c)}`);
    const problems = validateOtaConfig(c);
    assert.ok(
      problems.some((p) => p.startsWith(keyName)),
      `${JSON.stringify(c)}: ${JSON.stringify(problems)} names no ${keyName}`,
    );
  }
});

test('checkOtaConfig throws bad_config listing every problem', () => {
  assert.throws(
    () => checkOtaConfig({ source: 'github', channel: 'tag' }, 'cfg.json'),
    (e: unknown) =>
      e instanceof OtaError &&
      e.code === 'bad_config' &&
      /^cfg\.json: /.test(e.message) &&
      /\/repo is required/.test(e.message) &&
      /\/tag is required/.test(e.message),
  );
});

// Install Updater refuses an invalid board configuration with every problem listed; the checker
// agrees with a full JSON Schema validator (Ajv) on the schema the editor also uses.
const CASES: unknown[] = [
  { source: 'static', url: 'http://127.0.0.1:8080' },
  { source: 'github', repo: 'lab/weather', channel: 'developer', branch: 'main', paths: ['lib/'] },
  { source: 'github', repo: 'lab/weather', channel: 'tag', tag: 'v1.0.0', confirm_boots: 2, timeout: 2.5 },
  { source: 'github', repo: 'lab/weather', keys: [{ alg: 'ed25519', id: 'k1', key: 'AAAA' }] },
  {},
  { source: 'ftp' },
  { source: 'static' },
  { source: 'static', url: 'ftp://x' },
  { source: 'github' },
  { source: 'github', repo: 'no-slash' },
  { source: 'github', repo: 'a/b', channel: 'tag' },
  { source: 'github', repo: 'a/b', channel: 'nightly' },
  { source: 'github', repo: 'a/b', tag: '' },
  { source: 'github', repo: 'a/b', keys: [{ alg: 'md5', id: '', key: 'x', extra: 1 }] },
  { source: 'github', repo: 'a/b', keys: 'k1' },
  { source: 'static', url: 'http://h', confirm_boots: 0, retries: 1.5, timeout: 0 },
  { source: 'static', url: 'http://h', allow_downgrade: 'yes', paths: [1] },
  { source: 'static', url: 'http://h', wifi: { password: 'p' } },
  [],
  'static',
  null,
];

describe('validateOtaConfig', () => {
  it('agrees with Ajv on valid and invalid configurations', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    for (const c of CASES) {
      const ours = validateOtaConfig(c);
      assert.equal(ours.length === 0, validate(c), `${JSON.stringify(c)}: ${ours.join('; ')}`);
    }
  });

  it('names each problem with its path and why', () => {
    assert.deepEqual(validateOtaConfig({ source: 'static' }), ['/url is required (source is "static")']);
    const many = validateOtaConfig({
      source: 'github',
      repo: 'a/b',
      channel: 'tag',
      confirm_boots: 0,
      retries: 'x',
    });
    assert.deepEqual(many, [
      '/confirm_boots must be at least 1',
      '/retries must be an integer, not "x"',
      '/tag is required (channel is "tag")',
    ]);
    assert.match(
      validateOtaConfig({ source: 'ftp' })[0],
      /^\/source must be one of "github", "static", "oci", not "ftp"$/,
    );
  });
});

describe('boardConfig', () => {
  it('refuses an invalid configuration with every problem listed, before any board is touched', () => {
    assert.throws(
      () => boardConfig({ source: 'static', url: 'ftp://host', retries: -1 }),
      (err: unknown) =>
        err instanceof OtaError &&
        err.code === 'bad_config' &&
        /nothing was written to the board/.test(err.message) &&
        /\/url "ftp:\/\/host" does not match/.test(err.message) &&
        /\/retries must be at least 0/.test(err.message),
    );
  });

  it('refuses a project that was never configured, and adds the Wi-Fi to a valid one', () => {
    assert.throws(
      () => boardConfig(undefined),
      (e: unknown) => e instanceof OtaError && e.code === 'no_config',
    );
    assert.deepEqual(boardConfig({ source: 'static', url: 'http://h' }, { ssid: 's', password: 'p' }), {
      source: 'static',
      url: 'http://h',
      wifi: { ssid: 's', password: 'p' },
    });
    assert.throws(
      () => boardConfig({ source: 'static', url: 'http://h' }, { ssid: 5 } as never),
      /wifi\/ssid/,
    );
  });
});
