// The manifest's "firmware" entry from the host side: `ota manifest --firmware`, its refusals, the
// schema, and both publish targets carrying the image (folder file, GitHub asset through real Octokit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { buildManifest, describeFirmware, parseManifest, serializeManifest } from '../src/core/manifest';
import { publishFolder } from '../src/core/publish/folder';
import { publishGitHub } from '../src/core/publish/github';
import { startGitHubMock, type GitHubMock } from './support/github-mock';
import { validatingFetch } from './support/openapi-check';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'src', 'cli.ts');
const created = '2026-11-25T10:00:00Z';
let work: string;
let project: string;
let img: string;
const IMAGE = randomBytes(64 * 1024);
IMAGE[0] = 0xe9;
const SHA = createHash('sha256').update(IMAGE).digest('hex');

before(() => {
  work = mkdtempSync(join(tmpdir(), 'ota-fwman-'));
  project = join(work, 'app');
  mkdirSync(join(project, 'build'), { recursive: true });
  writeFileSync(join(project, 'main.py'), 'print("v1")\n');
  // The image inside the project (a build output) is the firmware, not a release file.
  img = join(project, 'build', 'micropython.bin');
  writeFileSync(img, IMAGE);
});
after(() => rmSync(work, { recursive: true, force: true }));

const code = (c: string, msg?: RegExp) => (e: unknown) =>
  e instanceof OtaError && e.code === c && (!msg || msg.test(e.message));

function ota(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { cwd: ROOT, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('ota manifest --firmware fills "firmware" with the image name, size and SHA-256; the schema accepts it', async () => {
  const r = await ota([
    'manifest',
    '--out=-',
    project,
    '--version',
    '1.0.0',
    '--created',
    created,
    '--firmware',
    img,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const m = parseManifest(Buffer.from(r.stdout));
  assert.deepEqual(m.firmware, { name: 'micropython.bin', size: IMAGE.length, sha256: SHA });
  assert.deepEqual(
    m.files.map((f) => f.path),
    ['main.py'],
    'the image is not also a release file',
  );
  assert.ok(r.stdout.indexOf('"firmware"') > r.stdout.indexOf('"files"'), 'keys in a fixed order');
  assert.equal(serializeManifest(m).toString(), r.stdout, 'parse and write round-trip byte for byte');
  const { default: Ajv } = await import('ajv');
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'manifest.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true }).compile(schema);
  assert.ok(validate(JSON.parse(r.stdout)), JSON.stringify(validate.errors));
  for (const bad of [
    { ...m.firmware, size: 0 },
    { ...m.firmware, name: '../x.bin' },
    { name: 'x.bin', size: 1 },
  ])
    assert.equal(validate({ ...JSON.parse(r.stdout), firmware: bad }), false, JSON.stringify(bad));
});

test('bad firmware images and entries are refused with specific codes', async () => {
  const empty = join(work, 'empty.bin');
  writeFileSync(empty, '');
  await assert.rejects(describeFirmware(empty), code('bad_firmware', /empty/));
  const elf = join(work, 'firmware.elf');
  writeFileSync(elf, Buffer.from('\x7fELF....'));
  await assert.rejects(describeFirmware(elf), code('bad_firmware', /starts with 0x7f/));
  await assert.rejects(describeFirmware(join(work, 'missing.bin')), (e: unknown) => e instanceof OtaError);
  // An image named like a release file would overwrite it on the host.
  const clash = join(work, 'main.py');
  writeFileSync(clash, IMAGE);
  await assert.rejects(
    buildManifest(project, { version: '1.0.0', created, firmware: clash, exclude: ['build/**'] }),
    code('firmware_conflict'),
  );
  const r = await ota([
    'manifest',
    '--out=-',
    project,
    '--version',
    '1.0.0',
    '--created',
    created,
    '--firmware',
    elf,
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /bad_firmware/);
  const good = JSON.parse(
    serializeManifest(
      await buildManifest(project, { version: '1.0.0', created, firmware: img, exclude: ['build/**'] }),
    ).toString(),
  );
  for (const fw of [
    { ...good.firmware, size: 0 },
    { ...good.firmware, sha256: 'x' },
    { ...good.firmware, name: '/abs.bin' },
    'micropython.bin',
  ]) {
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify({ ...good, firmware: fw }))),
      code('bad_manifest'),
    );
  }
});

test('publish to a folder puts the image beside the manifest', async () => {
  const out = join(work, 'site');
  const r = await publishFolder({
    dir: project,
    version: '1.0.0',
    outDir: out,
    build: { created, firmware: img },
  });
  const m = parseManifest(readFileSync(join(r.versionDir, 'manifest.json')));
  assert.equal(m.firmware?.name, 'micropython.bin');
  assert.ok(readFileSync(join(r.versionDir, 'micropython.bin')).equals(IMAGE));
  assert.equal(r.files, 1, 'only main.py is a release file');
});

test('publish to GitHub uploads the image as an asset (real Octokit against the local GitHub)', async () => {
  const gh: GitHubMock = await startGitHubMock({ token: 'ghp_fw' });
  try {
    gh.addRepo('me', 'app');
    const problems: string[] = [];
    const r = await publishGitHub({
      dir: project,
      version: '1.0.0',
      build: { created, firmware: img },
      repo: 'me/app',
      token: 'ghp_fw',
      baseUrl: gh.apiUrl,
      fetch: validatingFetch(problems, [gh.apiUrl, gh.uploadsUrl]),
      retryDelayMs: 5,
    });
    assert.deepEqual(
      r.assets.map((a) => a.name),
      ['manifest.json', 'main.py', 'micropython.bin'],
    );
    const asset = gh.state.repos.get('me/app')!.releases[0].assets.find((a) => a.name === 'micropython.bin');
    assert.equal(asset?.state, 'uploaded');
    assert.ok(asset?.content.equals(IMAGE), 'the asset holds the image bytes');
    assert.deepEqual(problems, []);
  } finally {
    await gh.close();
  }
});
