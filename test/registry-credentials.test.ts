// A private OCI registry's credentials: the board gets the password only from secret storage at
// install, never for a plain-HTTP registry; Publish Release falls back to the GitHub sign-in for
// ghcr.io only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boardConfig, registryPasswordProblem } from '../src/core/board-config';
import { githubCredentials, githubLoginFor } from '../src/core/publish/registry-login';

describe('board registry password', () => {
  const stored = { source: 'oci', ref: 'ghcr.io/octocat/app', user: 'octocat' };

  it('joins the board configuration at install, the stored one unchanged', () => {
    const board = boardConfig(stored, undefined, undefined, 'tok3n') as unknown as Record<string, unknown>;
    assert.equal(board.password, 'tok3n');
    assert.equal(board.user, 'octocat');
    assert.equal((stored as Record<string, unknown>).password, undefined);
  });

  it('is not invented for another source', () => {
    const board = boardConfig({ source: 'static', url: 'http://h' }, undefined, undefined, 'tok3n');
    assert.equal((board as unknown as Record<string, unknown>).password, undefined);
  });

  it('is refused for a plain-HTTP registry, before anything reaches the board', () => {
    for (const ref of ['127.0.0.1:5000/me/app', 'http://registry.example.com/me/app']) {
      assert.match(registryPasswordProblem(ref) ?? '', /only over https:\/\//);
      assert.throws(
        () => boardConfig({ source: 'oci', ref }, undefined, undefined, 'tok3n'),
        (e: Error & { code?: string }) => e.code === 'bad_config' && /only over https/.test(e.message),
      );
    }
    assert.equal(registryPasswordProblem('ghcr.io/octocat/app'), undefined);
    assert.equal(registryPasswordProblem('https://127.0.0.1:5000/me/app'), undefined);
    // A public plain-HTTP repository needs no password, and is fine.
    assert.doesNotThrow(() => boardConfig({ source: 'oci', ref: '127.0.0.1:5000/me/app' }));
  });
});

describe('Publish Release with the GitHub sign-in', () => {
  it('is used for ghcr.io only, and only when no credentials were found', () => {
    assert.equal(githubLoginFor('ghcr.io/octocat/app', undefined), true);
    assert.equal(githubLoginFor('ghcr.io/octocat/app:beta', undefined), true);
    const found = { username: 'u', password: 'p', from: 'OTA_REGISTRY_TOKEN' };
    assert.equal(githubLoginFor('ghcr.io/octocat/app', found), false);
    assert.equal(githubLoginFor('registry.example.com/octocat/app', undefined), false);
    assert.equal(githubLoginFor('127.0.0.1:5000/me/app', undefined), false);
  });

  it('names the account and where the secret came from, never the secret', () => {
    const c = githubCredentials('octocat', 'gho_x');
    assert.deepEqual(c, { username: 'octocat', password: 'gho_x', from: 'the VS Code GitHub sign-in' });
    assert.doesNotMatch(c.from, /gho_/);
  });
});
