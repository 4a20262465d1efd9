import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('ota with an unknown command exits 2 and names it', () => {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});

test('an unknown option or a stray argument is a bad_option error, never a stack trace', () => {
  for (const args of [
    ['info', '--prot', '/dev/ttyUSB0'],
    ['info', 'extra'],
    ['verify', '--jsn', 'm.json'],
  ]) {
    const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, /^ota: .*\(--help lists the options\) \[bad_option\]\n$/, args.join(' '));
  }
});
