// Install Updater refuses an invalid board configuration with every problem listed; the checker
// agrees with a full JSON Schema validator (Ajv) on the schema the editor also uses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { boardConfig } from '../src/core/board-config';
import { validateOtaConfig } from '../src/core/config-validate';
import { OtaError } from '../src/core/errors';

const schema = JSON.parse(
  readFileSync(join(__dirname, '../schemas/ota_config.schema.json'), 'utf8'),
) as object;

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
