import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ota = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });

test('ota with an unknown command exits 2 and names it', () => {
  const r = ota('frobnicate');
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'ota: unknown command "frobnicate" (ota --help lists the commands) [bad_option]\n');
});

test('an unknown option or a stray argument is a usage error (exit 2), never a stack trace', () => {
  for (const args of [
    ['info', '--prot', '/dev/ttyUSB0'],
    ['info', 'extra'],
    ['verify', '--jsn', 'm.json'],
  ]) {
    const r = ota(...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^ota: .*\(--help lists the options\) \[bad_option\]\n$/, args.join(' '));
  }
});

test('ota --help lists every command with a summary and the exit codes; each command has its help', () => {
  const r = ota('--help');
  assert.equal(r.status, 0);
  assert.ok(r.stdout.endsWith('\n'));
  const names = [...r.stdout.matchAll(/^ {2}([a-z]+) {2,}(\S.*)$/gm)].map((m) => m[1]);
  for (const n of ['demo', 'manifest', 'bundle', 'verify', 'publish', 'info', 'push', 'watch', 'sim']) {
    assert.ok(names.includes(n), `${n} listed`);
  }
  assert.match(
    r.stdout,
    /exit codes:\n {2}0 +success\n {2}1 .*\n.*\n {2}2 +usage error.*\n {2}130 +interrupted/,
  );
  for (const name of names) {
    const h = ota(name, '--help');
    assert.equal(h.status, 0, name);
    assert.match(h.stdout, new RegExp(`^usage: ota ${name}\\b`), name);
    assert.ok(h.stdout.endsWith('\n') && !h.stdout.endsWith('\n\n'), `${name} --help ends with one newline`);
    assert.equal(ota('help', name).stdout, h.stdout, `ota help ${name}`);
  }
  const none = ota();
  assert.equal(none.status, 2, 'no command is a usage error');
  assert.match(none.stderr, /^ota: .*\n\nusage: ota <command>/);
});

test('ota --version prints the package version', () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = ota(flag);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `ota ${version}\n`);
  }
});
