// A private OCI registry's credentials: the board gets the password only from secret storage at
// install, never for a plain-HTTP registry; one order of credentials for every command, the GitHub
// ones for ghcr.io over https only; and the {device} reference rule.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { boardConfig, registryPasswordProblem } from '../src/core/board-config';
import { deviceNameProblem, deviceOfRef, expandDevices, viewRef } from '../src/core/publish/device-ref';
import { githubSignInApplies, registryCredentials } from '../src/core/publish/registry-login';

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

describe('registry credentials: one order for publish, verify and the Releases view', () => {
  const home = mkdtempSync(join(tmpdir(), 'ota-creds-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  /** A GitHub sign-in that records the scopes it was asked for. */
  const session = () => {
    const asked: string[] = [];
    return {
      asked,
      githubSession: (scope: string) => {
        asked.push(scope);
        return Promise.resolve({ login: 'octocat', token: 'gho_session' });
      },
    };
  };
  const board = { ref: 'ghcr.io/octocat/app/board-7', user: 'octocat', password: 'ghp_board_read' };

  it('to pull: the board login first, then the environment, then the GitHub sign-in (read:packages)', async () => {
    const g = session();
    const env = { OTA_REGISTRY_TOKEN: 'env-tok' };
    const c = await registryCredentials('ghcr.io/octocat/app/{device}', {
      access: 'pull',
      board,
      env,
      home,
      ...g,
    });
    assert.equal(c?.password, 'ghp_board_read');
    assert.match(c?.from ?? '', /Configure Device/);
    assert.equal(
      (await registryCredentials('ghcr.io/octocat/app', { access: 'pull', env, home, ...g }))?.password,
      'env-tok',
    );
    const viaGithub = await registryCredentials('ghcr.io/octocat/app', {
      access: 'pull',
      env: {},
      home,
      ...g,
    });
    assert.deepEqual(viaGithub, {
      username: 'octocat',
      password: 'gho_session',
      from: 'the VS Code GitHub sign-in',
    });
    assert.deepEqual(g.asked, ['read:packages']);
  });

  it('to push: what can push first (the GitHub sign-in with write:packages), the board login last', async () => {
    const g = session();
    const c = await registryCredentials('ghcr.io/octocat/app', {
      access: 'push',
      board,
      env: {},
      home,
      ...g,
    });
    assert.equal(c?.password, 'gho_session');
    assert.deepEqual(g.asked, ['write:packages']);
    const other = { ref: 'https://registry.example.com/me/app', user: 'me', password: 'pw' };
    const c2 = await registryCredentials('registry.example.com/me/app', {
      access: 'push',
      board: other,
      env: {},
      home,
    });
    assert.equal(c2?.password, 'pw');
    const flags = await registryCredentials('ghcr.io/octocat/app', {
      access: 'push',
      user: 'u',
      password: 'p',
      board,
      env: {},
      home,
      ...g,
    });
    assert.equal(flags?.from, '--user/--password');
  });

  it('a GitHub token goes to ghcr.io over https only: never another host, never plain HTTP', async () => {
    for (const ref of [
      '127.0.0.1:5000/octocat/app',
      'ghcr.io.example.com/octocat/app',
      'registry.example.com/ghcr.io/app',
      'http://ghcr.io/octocat/app',
      'ghcr.io:8443/octocat/app',
    ]) {
      const g = session();
      const env = { GITHUB_TOKEN: 'ghp_env' };
      assert.equal(await registryCredentials(ref, { access: 'pull', env, home, ...g }), undefined, ref);
      assert.equal(await registryCredentials(ref, { access: 'push', env, home, ...g }), undefined, ref);
      assert.deepEqual(g.asked, [], `${ref}: the GitHub sign-in was not even asked`);
      assert.equal(githubSignInApplies(ref), false, ref);
    }
    assert.equal(githubSignInApplies('ghcr.io/octocat/app:1.0.0'), true);
    assert.equal(
      (
        await registryCredentials('ghcr.io/octocat/app', {
          access: 'pull',
          env: { GITHUB_TOKEN: 'ghp_env' },
          home,
        })
      )?.from,
      'GITHUB_TOKEN',
    );
  });

  it("a board's login is for its own registry only (host and scheme)", async () => {
    for (const ref of ['registry.example.com/octocat/app', 'http://ghcr.io/octocat/app']) {
      assert.equal(await registryCredentials(ref, { access: 'pull', board, env: {}, home }), undefined, ref);
    }
  });

  it('a {device} in the registry host or an unknown placeholder is refused before any credentials are looked up', async () => {
    const g = session();
    for (const [ref, why] of [
      ['{device}.example.com/app', /registry host/],
      ['ghcr.io/octocat/{board}', /unknown placeholder \{board\}/],
      ['ghcr.io/octocat/{device', /unknown placeholder \{device/],
    ] as const) {
      await assert.rejects(
        registryCredentials(ref, { access: 'push', env: { OTA_REGISTRY_TOKEN: 't' }, home, ...g }),
        (e: Error & { code?: string }) => e.code === 'bad_ref' && why.test(e.message),
      );
    }
    assert.deepEqual(g.asked, []);
  });
});

describe('{device} references: one rule for the CLI, Publish Release and the Releases view', () => {
  it('expands each device name, and refuses an empty or a bad one', () => {
    assert.deepEqual(expandDevices('ghcr.io/o/app/{device}', ['board-7', 'board-8', 'board-7']), [
      'ghcr.io/o/app/board-7',
      'ghcr.io/o/app/board-8',
    ]);
    assert.deepEqual(expandDevices('ghcr.io/o/app:{device}', ['kitchen']), ['ghcr.io/o/app:kitchen']);
    for (const [names, why] of [
      [[], /names one repository per device/],
      [[''], /device name is empty/],
      [['  '], /device name is empty/],
      [['Board7'], /lowercase letters/],
      [['../x'], /lowercase letters/],
      [['a'.repeat(65)], /longer than 64/],
    ] as const) {
      assert.throws(
        () => expandDevices('ghcr.io/o/app/{device}', [...names]),
        (e: Error & { code?: string }) => e.code === 'bad_ref' && why.test(e.message),
        JSON.stringify(names),
      );
    }
    assert.throws(() => expandDevices('ghcr.io/o/app', ['b']), /no \{device\} placeholder/);
    assert.equal(deviceNameProblem('board-7'), undefined);
  });

  it("finds a board's device name in its own reference, and the view's repository from it", () => {
    const t = 'ghcr.io/o/app/{device}';
    assert.equal(deviceOfRef(t, 'ghcr.io/o/app/board-7'), 'board-7');
    assert.equal(deviceOfRef(t, 'ghcr.io/o/app/board-7:1.2.0'), 'board-7', 'a pinned tag');
    assert.equal(deviceOfRef(t, 'https://ghcr.io/o/app/board-7'), 'board-7');
    assert.equal(deviceOfRef(t, 'ghcr.io/o/other/board-7'), undefined);
    assert.equal(deviceOfRef(t, 'ghcr.io/o/app/x/y'), undefined);
    assert.equal(deviceOfRef(t, undefined), undefined);
    assert.deepEqual(viewRef(t, [undefined, 'ghcr.io/o/app/board-8']), {
      ref: 'ghcr.io/o/app/board-8',
      device: 'board-8',
    });
    const none = viewRef(t, []);
    assert.match(
      'problem' in none ? none.problem : '',
      /one repository per device.*ghcr\.io\/o\/app\/board-7.*Devices view/,
    );
    assert.deepEqual(viewRef('ghcr.io/o/app', []), { ref: 'ghcr.io/o/app' });
  });
});
