// GitHub naming rules, defined once (docs/protocols.md, "GitHub Releases"). The VS Code setting
// (package.json), schemas/ota_config.schema.json and the board (device/ota/updater.py, github.py)
// spell the same rules; test/github-rules.test.ts holds each of them to these.
import { OtaError } from './errors';

/** The REST API root of github.com; GitHub Enterprise is https://HOST/api/v3. */
export const GITHUB_API = 'https://api.github.com';

/**
 * owner/name: the owner a GitHub login (letters, digits, inner hyphens), the name letters, digits,
 * `.`, `_`, `-`, but not `.` or `..`. A JavaScript and JSON Schema pattern, as a string.
 */
export const REPO_PATTERN = '^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/(?!\\.\\.?$)[A-Za-z0-9._-]+$';
export const REPO_RE = new RegExp(REPO_PATTERN);

export function isRepo(repo: unknown): repo is string {
  return typeof repo === 'string' && REPO_RE.test(repo);
}

export function parseRepo(repo: string): { owner: string; repo: string } {
  if (!isRepo(repo)) throw new OtaError('bad_repo', `repository ${JSON.stringify(repo)} must be owner/name`);
  const [owner, name] = repo.split('/') as [string, string];
  return { owner, repo: name };
}

/** The release asset that holds a release file: its path with `/` as `__` ("lib/x.py" -> "lib__x.py"). */
export function assetName(path: string): string {
  return path.split('/').join('__');
}
