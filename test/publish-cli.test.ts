// `ota publish` and `ota serve` as a user runs them: real processes, the local GitHub, a real folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateKey } from '../src/core/keys';
import { startGitHubMock, type GitHubMock } from './support/github-mock';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'src', 'cli.ts');
let gh: GitHubMock;
let work: string;
let project: string;
let keyFile: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ota-pubcli-'));
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'main.py'), 'print("cli")\n');
  keyFile = (await generateKey('ed25519', { path: join(work, 'k.json'), project })).path;
  gh = await startGitHubMock({ token: 'ghp_cli' });
  gh.addRepo('me', 'app');
});
after(async () => {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
});

function ota(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = { ...process.env };
    delete base.GITHUB_TOKEN;
    delete base.GITHUB_API_URL;
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const common = ['--version', '1.0.0', '--created', '2026-11-25T10:00:00Z'];

test('ota publish --target github: token from GITHUB_TOKEN, --json result, then refusals with codes', async () => {
  const args = [
    'publish',
    project,
    '--target',
    'github',
    '--repo',
    'me/app',
    '--base-url',
    gh.apiUrl,
    '--sign',
    keyFile,
    ...common,
  ];
  const ok = await ota([...args, '--json'], { GITHUB_TOKEN: 'ghp_cli' });
  assert.equal(ok.code, 0, ok.stderr);
  const r = JSON.parse(ok.stdout) as { tag: string; signed: boolean; assets: { name: string }[] };
  assert.equal(r.tag, 'v1.0.0');
  assert.equal(r.signed, true);
  assert.deepEqual(
    r.assets.map((a) => a.name),
    ['manifest.json', 'manifest.json.sig', 'main.py'],
  );
  const again = await ota(args, { GITHUB_TOKEN: 'ghp_cli' });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /\[tag_exists\]/);
  const noToken = await ota([...args, '--version', '1.0.1']);
  assert.match(noToken.stderr, /GITHUB_TOKEN.*\[token_missing\]/);
  const badToken = await ota([...args, '--version', '1.0.1', '--token', 'nope']);
  assert.match(badToken.stderr, /\[token_invalid\]/);
  const noRepo = await ota(['publish', project, '--target', 'github', ...common], { GITHUB_TOKEN: 'x' });
  assert.match(noRepo.stderr, /--repo.*\[bad_option\]/);
  assert.equal(gh.state.repos.get('me/app')!.releases.length, 1);
});

test('ota publish --target folder, then ota serve hands it out and counts the bytes', async () => {
  const out = join(work, 'site');
  const pub = await ota(['publish', project, '--target', 'folder', '--dir', out, '--json', ...common]);
  assert.equal(pub.code, 0, pub.stderr);
  assert.equal((JSON.parse(pub.stdout) as { latest: boolean }).latest, true);

  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', out, '--port', '0', '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = JSON.parse((await lines.next()).value as string) as { url: string };
    const res = await fetch(`${first.url}/latest.json`);
    const latest = (await res.json()) as { version: string; manifest: string };
    assert.equal(latest.version, '1.0.0');
    const logged = JSON.parse((await lines.next()).value as string) as {
      path: string;
      status: number;
      bytes: number;
    };
    assert.deepEqual([logged.path, logged.status], ['/latest.json', 200]);
    assert.ok(logged.bytes > 0);
    child.kill('SIGINT');
    const total = JSON.parse((await lines.next()).value as string) as { bytesSent: number; requests: number };
    assert.deepEqual(total, { bytesSent: logged.bytes, requests: 1 });
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
});
