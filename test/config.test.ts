// The board's configuration model (src/core/config.ts) against schemas/ota_config.schema.json: the
// validator and the schema (compiled by ajv) must accept and refuse exactly the same files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { checkOtaConfig, validateOtaConfig } from '../src/core/config';
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
