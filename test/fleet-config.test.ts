// Configure Device's fleet section: the broker URL rule (one rule for the input box, the host's
// connection and, through the schema, Install Updater), and the password that reaches the board
// only at install, never the stored configuration.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boardConfig } from '../src/core/board-config';
import { validateOtaConfig } from '../src/core/config';
import { brokerUrlProblem } from '../src/core/fleet/protocol';
import { connectFleet } from '../src/core/fleet/connection';

describe('broker URL', () => {
  it('takes mqtt:// and mqtts:// with a host and an optional port', () => {
    for (const url of [
      'mqtt://127.0.0.1:1883',
      'mqtts://broker.example.com:8883',
      'mqtt://pi.local',
      'mqtts://b.example.com/',
    ]) {
      assert.equal(brokerUrlProblem(url), undefined, url);
      const cfg = { source: 'static', url: 'http://h', fleet: { broker: url, name: 'greenhouse' } };
      assert.deepEqual(validateOtaConfig(cfg), [], url);
    }
  });

  it('refuses every other shape with a message that says what to write', () => {
    const cases: [string, RegExp][] = [
      ['tcp://broker:1883', /must start with mqtt:\/\/ or mqtts:\/\//],
      ['ws://broker:8080', /must start with mqtt:\/\/ or mqtts:\/\//],
      ['broker.example.com:1883', /must be mqtt:\/\/host:port or mqtts:\/\/host:port/],
      ['mqtt://', /needs a host name/],
      ['mqtt://:1883', /needs a host name/],
      ['mqtt://user:secret@broker:1883', /No user or password in the URL/],
      ['mqtt://[::1]:1883', /IPv6 address is not supported by the board/],
      ['mqtt://broker:0', /port 0 is not between 1 and 65535/],
      ['mqtt://broker:70000', /port 70000 is not between 1 and 65535/],
      ['mqtt://broker:port', /needs a host name/],
      ['mqtts://broker:8883/ota', /nothing after the port/],
      ['mqtt://broker:1883?x=1', /nothing after the port/],
    ];
    for (const [url, why] of cases) {
      assert.match(brokerUrlProblem(url) ?? '(accepted)', why, url);
      // The schema (Install Updater's check) refuses it too: nothing wrong reaches a board.
      const cfg = { source: 'static', url: 'http://h', fleet: { broker: url, name: 'greenhouse' } };
      assert.notDeepEqual(validateOtaConfig(cfg), [], url);
    }
  });

  it("is the host connection's rule too", async () => {
    await assert.rejects(
      connectFleet({ url: 'mqtt://u:p@127.0.0.1:1', fleet: 'greenhouse' }),
      (err: Error) => {
        assert.match(err.message, /No user or password in the URL/);
        assert.equal((err as { code?: string }).code, 'fleet_bad_url');
        return true;
      },
    );
  });
});

describe('fleet password', () => {
  const stored = {
    source: 'static',
    url: 'http://10.0.0.2:8080',
    fleet: {
      broker: 'mqtts://b.example.com:8883',
      name: 'greenhouse',
      user: 'boards',
      tls: { ca: 'ota/roots.pem' },
    },
  };

  it('joins the fleet section only in the configuration written to the board', () => {
    const board = boardConfig(stored, undefined, 's3cret') as unknown as { fleet: Record<string, unknown> };
    assert.equal(board.fleet.password, 's3cret');
    assert.equal(board.fleet.user, 'boards');
    assert.equal(
      (stored.fleet as Record<string, unknown>).password,
      undefined,
      'the stored config is unchanged',
    );
  });

  it('is not invented for a configuration without a fleet', () => {
    const board = boardConfig(
      { source: 'static', url: 'http://h' },
      undefined,
      's3cret',
    ) as unknown as Record<string, unknown>;
    assert.equal(board.fleet, undefined);
  });
});
