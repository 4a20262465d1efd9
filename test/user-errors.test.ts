// Every failure a user can meet comes back as words naming the host, and the fixes to offer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtaError } from '../src/core/errors';
import { BoardException } from '../src/core/serial/raw-repl';
import { boardErrorContext, explainBoardEvent, explainError, isLocalUrl } from '../src/core/user-errors';

const LOCAL = { source: 'static' as const, host: 'http://127.0.0.1:8080' };

describe('explainError', () => {
  it('translates a board without the updater into "not installed" with Install', () => {
    const err = new BoardException(
      [
        'Traceback (most recent call last):',
        '  File "<stdin>", line 1, in <module>',
        "ImportError: no module named 'ota'",
      ].join('\n'),
    );
    const a = explainError(err, LOCAL);
    assert.equal(a.code, 'no_updater');
    assert.match(a.message, /updater is not installed on this board/);
    assert.deepEqual(a.fixes, ['install']);
  });

  it('calls a board missing one updater module an incomplete install, with Install', () => {
    const a = explainBoardEvent(
      { code: 'internal', msg: 'ImportError("no module named \'ota.reserved\'",)' },
      LOCAL,
    );
    assert.equal(a.code, 'no_updater');
    assert.match(
      a.message,
      /updater on this board is incomplete \(no module named 'ota\.reserved'\): install it again/,
    );
    assert.deepEqual(a.fixes, ['install', 'output']);
  });

  it('on the command line, the URL from the board config, and no editor command in the message', () => {
    const config = Buffer.from(
      JSON.stringify({
        source: 'static',
        url: 'http://127.0.0.1:8080',
        token: 'secret',
        wifi: { ssid: 'x', password: 'p' },
      }),
    );
    const ctx = { ...boardErrorContext(config), commandLine: true };
    assert.deepEqual(ctx, {
      onBoard: true,
      source: 'static',
      host: 'http://127.0.0.1:8080',
      commandLine: true,
    });
    const a = explainBoardEvent({ code: 'network', msg: '[Errno 111] ECONNREFUSED' }, ctx);
    assert.equal(a.message, 'The board cannot reach http://127.0.0.1:8080: connection refused.');
    assert.deepEqual(a.fixes, ['serve', 'configure', 'output']);
    assert.deepEqual(boardErrorContext(Buffer.from(JSON.stringify({ source: 'github', repo: 'a/b' }))), {
      onBoard: true,
      source: 'github',
      host: 'https://api.github.com',
    });
    assert.deepEqual(boardErrorContext(undefined), { onBoard: true });
    assert.deepEqual(boardErrorContext(Buffer.from('not json')), { onBoard: true });
  });

  it('a newer release waiting behind an unconfirmed one offers to confirm it', () => {
    const a = explainBoardEvent({
      code: 'board_busy',
      msg: 'state is confirm_pending: confirm or roll back first',
    });
    assert.equal(a.code, 'board_busy');
    assert.match(a.message, /^A newer release waits: the release the board runs is not confirmed yet/);
    assert.deepEqual(a.fixes, ['confirm']);
    // Told again from its own words (the CLI explains the error it threw), it stays the same.
    assert.deepEqual(explainError(new OtaError('board_busy', a.message)).fixes, ['confirm']);
    // Another busy board (a command running) is not this.
    assert.notDeepEqual(explainBoardEvent({ code: 'board_busy', msg: 'state is swapping' }).fixes, [
      'confirm',
    ]);
  });

  it('names the URL a board could not reach and offers to serve a local host', () => {
    const a = explainBoardEvent({ code: 'network', msg: '[Errno 111] ECONNREFUSED' }, LOCAL);
    assert.equal(
      a.message,
      'The board cannot reach http://127.0.0.1:8080: connection refused. Start the host with Serve Releases Locally.',
    );
    assert.deepEqual(a.fixes, ['serve', 'configure', 'output']);
    const remote = explainBoardEvent(
      { code: 'io', msg: '[Errno 113] EHOSTUNREACH' },
      { source: 'static', host: 'https://releases.example.com' },
    );
    assert.match(
      remote.message,
      /^The board cannot reach https:\/\/releases\.example\.com: no route to the host\. Check/,
    );
    assert.deepEqual(remote.fixes, ['configure', 'output']);
  });

  it('names the URL of a host-side network failure', () => {
    const a = explainError(new OtaError('network', 'listing releases: cannot reach GitHub (fetch failed)'), {
      source: 'github',
      host: 'https://ghe.example.com/api/v3',
    });
    assert.match(a.message, /^Cannot reach https:\/\/ghe\.example\.com\/api\/v3: /);
    assert.deepEqual(a.fixes, ['configure', 'token', 'output']);
  });

  it('sends configuration, token, sign-in and signing-key problems to their fix', () => {
    assert.deepEqual(explainError(new OtaError('no_signing_key', 'x')).fixes, ['key', 'configure']);
    assert.deepEqual(explainError(new OtaError('no_repo', 'x')).fixes, ['configure']);
    assert.deepEqual(explainError(new OtaError('bad_config', 'x')).fixes, ['configure']);
    assert.deepEqual(explainError(new OtaError('token_invalid', 'x')).fixes, ['token']);
    assert.deepEqual(explainError(new OtaError('auth_declined', 'x')).fixes, ['token']);
    assert.deepEqual(explainError(new OtaError('repo_not_found', 'x')).fixes, ['configure', 'token']);
  });

  it('says a 404 on the host means the release host lacks the file, naming the host', () => {
    const a = explainBoardEvent({ code: 'http_404', msg: 'not found: 1.0.0/main.py' }, LOCAL);
    assert.match(
      a.message,
      /not found: 1\.0\.0\/main\.py on http:\/\/127\.0\.0\.1:8080: the release host does not have/,
    );
    assert.deepEqual(a.fixes, ['serve', 'output']);
  });

  it('keeps any other error as it is, with Show Output', () => {
    const a = explainError(new OtaError('hash_mismatch', 'main.py does not match'));
    assert.deepEqual(a, { code: 'hash_mismatch', message: 'main.py does not match', fixes: ['output'] });
    assert.equal(explainError('plain').message, 'plain');
  });

  it('knows local URLs', () => {
    assert.ok(isLocalUrl('http://127.0.0.1:1/'));
    assert.ok(isLocalUrl('http://localhost:8080'));
    assert.ok(!isLocalUrl('http://192.168.1.2:8080'));
    assert.ok(!isLocalUrl('not a url'));
  });
});

describe('explainError on a message that names the host already', () => {
  it('names it once', () => {
    const a = explainError(new OtaError('unreachable', 'Cannot reach http://127.0.0.1:9 (ECONNREFUSED)'), {
      source: 'static',
      host: 'http://127.0.0.1:9',
    });
    assert.equal(
      a.message,
      'Cannot reach http://127.0.0.1:9 (ECONNREFUSED). Start the host with Serve Releases Locally.',
    );
  });
});
