// Install Updater refuses an invalid board configuration with every problem listed, before any
// board is touched (the rules themselves: src/core/config.ts, held to the schema by config.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boardConfig } from '../src/core/board-config';
import { OtaError } from '../src/core/errors';

describe('boardConfig', () => {
  it('refuses an invalid configuration with every problem listed', () => {
    assert.throws(
      () => boardConfig({ source: 'static', url: 'ftp://host', retries: -1 }),
      (err: unknown) =>
        err instanceof OtaError &&
        err.code === 'bad_config' &&
        /nothing was written to the board/.test(err.message) &&
        /url: must be an http:\/\/ or https:\/\/ URL/.test(err.message) &&
        /retries: must be a whole number of at least 0/.test(err.message),
    );
    assert.throws(() => boardConfig({ source: 'static' }), /url: is required when source is static/);
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
      /wifi\.ssid/,
    );
  });
});
