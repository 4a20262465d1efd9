// The GitHub naming rules live once in src/core/github-rules.ts; the VS Code setting, the board's
// config schema and the board itself spell them too. Each spelling is held to the host's here.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetName, GITHUB_API, isRepo, parseRepo, REPO_PATTERN } from '../src/core/github-rules';
import { OtaError } from '../src/core/errors';
import * as fx from './support/release-fixture';

const root = join(__dirname, '..');
const json = (p: string) => JSON.parse(readFileSync(join(root, p), 'utf8'));

const REPOS = [
  'octo/app',
  'a/b',
  'Octo-Cat/my.app_2',
  'o/.x',
  'o/x.',
  'a--b/c',
  '0/0',
  '',
  'octo',
  'octo/',
  '/app',
  'octo/app/x',
  '-octo/app',
  'octo-/app',
  'oc_to/app',
  'oc.to/app',
  'octo/.',
  'octo/..',
  'octo/a b',
  'octo/app\n',
  'octo/ap%p',
  'octo/äpp',
];

const T = { timeout: 60_000 };
const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

/** Runs code on the virtual board with the updater installed; returns the lines it printed. */
async function board(lines: string[]): Promise<string[]> {
  const fsDir = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, {}, undefined);
  cleanups.push(fsDir);
  const r = await fx.runBoard({ fsDir, boot: false, code: lines.join('\n') });
  assert.equal(r.error, undefined, r.output);
  return r.output.replace(/\r/g, '').trim().split('\n');
}

test('the repository rule accepts owner/name and refuses everything else', () => {
  assert.ok(isRepo('octo/app') && isRepo('Octo-Cat/my.app_2'));
  for (const bad of ['octo', 'octo/app/x', '-octo/app', 'octo/..', 'oc_to/app', 'octo/a b']) {
    assert.equal(isRepo(bad), false, bad);
  }
  assert.deepEqual(parseRepo('octo/app'), { owner: 'octo', repo: 'app' });
  assert.throws(
    () => parseRepo('octo/app/x'),
    (e: unknown) => e instanceof OtaError && /owner\/name/.test(e.message),
  );
});

test('the VS Code setting and the config schema spell the repository rule and the API root alike', () => {
  const settings = json('package.json').contributes.configuration.properties;
  assert.equal(settings['ota.github.repo'].pattern, `^$|${REPO_PATTERN}`);
  assert.equal(settings['ota.github.apiUrl'].default, GITHUB_API);
  const schema = json('schemas/ota_config.schema.json');
  assert.equal(schema.properties.repo.pattern, REPO_PATTERN);
  assert.equal(schema.properties.api.default, GITHUB_API);
});

test('the board accepts exactly the repositories the host accepts', T, async () => {
  const out = await board([
    'from ota import updater',
    `for r in ${JSON.stringify(REPOS)}:`,
    '    print(1 if updater.repo_ok(r) else 0)',
  ]);
  REPOS.forEach((r, i) =>
    assert.equal(out[i] === '1', isRepo(r), `board and host disagree on ${JSON.stringify(r)}`),
  );
});

test('the board uses the same API root and asset names as the host', T, async () => {
  const paths = ['main.py', 'lib/x.py', 'lib/a/b/c.mpy'];
  const assets = Object.fromEntries(paths.map((p) => [assetName(p), `url:${p}`]));
  const out = await board([
    'from ota import github',
    'class Client:',
    '    auth = None',
    'g = github.GitHub({"repo": "octo/app"}, Client())',
    'print(g.api)',
    `g.assets = ${JSON.stringify(assets)}`,
    `for p in ${JSON.stringify(paths)}:`,
    '    print(g.file_url({"path": p}))',
  ]);
  assert.equal(out[0], GITHUB_API);
  assert.deepEqual(
    out.slice(1),
    paths.map((p) => `url:${p}`),
  );
});
