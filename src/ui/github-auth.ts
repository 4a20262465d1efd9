// The GitHub token: VS Code's GitHub sign-in for github.com, else a token the user
// stored with "Set GitHub Token" in SecretStorage. Never in settings or files.
import * as vscode from 'vscode';
import { keepToken, keptToken } from '../core/credential-origins';
import { OtaError } from '../core/errors';
import { GHCR_SCOPE } from '../core/publish/registry-login';
import type { Redactor } from './redact';
import { isPublicGitHub } from './settings';

const SECRET_KEY = 'ota.githubToken';

export class GitHubAuth {
  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly redactor: Redactor,
  ) {}

  /** A token for `apiUrl`, or undefined when none is set and `interactive` is false. */
  async token(apiUrl: string, interactive: boolean): Promise<string | undefined> {
    // Kept with the API root it was given for (core/credential-origins.ts): another root gets none.
    const stored = keptToken(await this.secrets.get(SECRET_KEY), apiUrl);
    if (stored) {
      this.redactor.add(stored);
      return stored;
    }
    if (isPublicGitHub(apiUrl)) {
      let session: vscode.AuthenticationSession | undefined;
      try {
        session = await vscode.authentication.getSession(
          'github',
          ['repo'],
          interactive ? { createIfNone: true } : { silent: true },
        );
      } catch (err) {
        // Declined ("User did not consent to login."), cancelled or offline: a token works instead.
        if (!interactive) return undefined;
        throw new OtaError(
          'auth_declined',
          `GitHub sign-in did not complete (${err instanceof Error ? err.message : String(err)}). Set a GitHub token instead.`,
        );
      }
      if (session) {
        this.redactor.add(session.accessToken);
        return session.accessToken;
      }
    } else if (interactive) {
      return this.prompt(apiUrl);
    }
    return undefined;
  }

  /**
   * The GitHub sign-in as ghcr.io's password (core: registry-login.ts decides when). To push
   * (write:packages) it asks. To list (read:packages) it takes a session already granted (a push one
   * too); without one it asks when `ask` (the view's "Sign in to GitHub"), else VS Code's Accounts
   * menu offers the sign-in (a badge, no dialog).
   */
  async registrySession(scope: string, ask: boolean): Promise<{ login: string; token: string } | undefined> {
    const scopes = scope === GHCR_SCOPE ? [GHCR_SCOPE] : [scope, GHCR_SCOPE];
    let session: vscode.AuthenticationSession | undefined;
    let provider = true;
    for (const s of scopes) {
      // No GitHub provider in this editor, or none signed in: simply no session.
      session ??= await vscode.authentication
        .getSession('github', [s], { silent: true })
        .then(undefined, () => {
          provider = false;
          return undefined;
        });
    }
    try {
      if (!session && (ask || scope === GHCR_SCOPE)) {
        session = await vscode.authentication.getSession('github', [scope], { createIfNone: true });
      } else if (!session && provider) {
        session = await vscode.authentication
          .getSession('github', [scope], {})
          .then(undefined, () => undefined);
      }
    } catch (err) {
      throw new OtaError(
        'auth_declined',
        `GitHub sign-in for ghcr.io did not complete (${err instanceof Error ? err.message : String(err)}). ` +
          `Run \`docker login ghcr.io\`, or set OTA_REGISTRY_TOKEN to a token with ${scope}.`,
      );
    }
    if (!session) return undefined;
    this.redactor.add(session.accessToken);
    return { login: session.account.label, token: session.accessToken };
  }

  /** Like token(), but a missing token is a user error. */
  async require(apiUrl: string): Promise<string> {
    const t = await this.token(apiUrl, true);
    if (!t) throw new OtaError('no_token', `No GitHub token for ${apiUrl}: set one, or sign in to GitHub.`);
    return t;
  }

  /** Asks for a token for `apiUrl` and keeps it in SecretStorage, for that API root only. */
  async prompt(apiUrl: string): Promise<string | undefined> {
    const value = await vscode.window.showInputBox({
      title: 'GitHub token',
      prompt:
        `A token for ${apiUrl} with access to the release repository (contents: write). ` +
        'Stored in VS Code secret storage, and sent to that API only.',
      placeHolder: 'github_pat_… or ghp_…',
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim().length < 4 ? 'Paste the token' : undefined),
    });
    if (!value) return undefined;
    const t = value.trim();
    this.redactor.add(t);
    await this.secrets.store(SECRET_KEY, keepToken(t, apiUrl));
    return t;
  }
}
