// A careless publisher (host-side attack review): a project holding secrets, editor leftovers,
// symlinks out of the project, names no board filesystem holds and huge files. Secrets never ship
// (left out, each named with the reason on stderr and in --json); everything else is refused by
// name before anything is published. One rule each, in src/core/walk.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OtaError } from '../src/core/errors';
import { buildRelease } from '../src/core/manifest';
import { publishFolder } from '../src/core/publish/folder';
import { boardNameProblem, MAX_RELEASE_FILE } from '../src/core/walk';
import { CREATED, ota, tempDir, writeTree } from './manifest-tree';

const APP = { 'main.py': 'print("app")\n', 'lib/display.py': 'X = 1\n' };
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGv1\n-----END PRIVATE KEY-----\n';
const RSA_KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n';
const OPENSSH = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n-----END OPENSSH PRIVATE KEY-----\n';

/** Files that must never ship, and the reason each is reported with. */
const SECRETS: [path: string, content: string, why: RegExp][] = [
  ['.env', 'WIFI_PASSWORD=hunter2\n', /environment file/],
  ['config/.env.production', 'TOKEN=x\n', /environment file/],
  ['id_rsa', OPENSSH, /SSH private key/],
  ['certs/client.key', RSA_KEY, /a private key/],
  ['certs/device.pem', PEM_KEY, /a private key/],
  ['lib/settings.py', `KEY = """${PEM_KEY}"""\n`, /a private key/],
  [
    'release-key.json',
    `{"alg":"ed25519","id":"ab","privateKey":"${PEM_KEY.replace(/\n/g, '\\n')}","publicKey":"x"}`,
    /signing key of this tool/,
  ],
  ['keys/hmac.json', '{"alg": "hmac-sha256", "id": "ab", "secret": "c2VjcmV0"}', /signing key of this tool/],
  ['store.p12', 'x', /private key store/],
  ['.netrc', 'machine github.com password x', /credentials file/],
  ['.ota/keys/release.json', '{"secret": "x"}', /reserved for the board/],
  ['.main.py.swp', 'b0VIM', /editor swap/],
  ['main.py~', 'old', /editor swap/],
  ['.#main.py', 'lock', /editor swap/],
  ['#main.py#', 'autosave', /editor swap/],
];

/** Look-alikes that are app files and must ship. */
const SHIPS = {
  'certs/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  'env.py': 'ENV = 1\n',
  'lib/keys.py': 'PUBLIC = "-----BEGIN PUBLIC KEY-----"\n',
};

const code = (c: string, re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof OtaError, String(e));
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

test('secrets and editor leftovers never ship: left out by manifest, bundle and publish, each named with why', async () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { ...APP, ...SHIPS, ...Object.fromEntries(SECRETS.map(([p, c]) => [p, c])) });
    symlinkSync(join(t.dir, 'certs', 'device.pem'), join(t.dir, 'cert_link.pem')); // a link in, to a key
    const built = await buildRelease(t.dir, { version: '1.0.0', created: CREATED });
    assert.deepEqual(
      built.manifest.files.map((f) => f.path),
      ['certs/ca.pem', 'env.py', 'lib/display.py', 'lib/keys.py', 'main.py'],
    );
    const why = new Map(built.excluded.map((e) => [e.path, e.why]));
    for (const [p, , re] of SECRETS) {
      const key = p.startsWith('.ota/') ? '.ota/' : p;
      assert.match(why.get(key) ?? 'not reported', re, p);
    }
    assert.match(why.get('cert_link.pem') ?? 'not reported', /a private key/);

    // The CLI names each on stderr; --json lists them; the bundle and the published folder hold none.
    const text = ota(['manifest', '--out=-', t.dir, '--version', '1.0.0', '--created', CREATED]);
    assert.equal(text.status, 0, text.stderr);
    for (const [p] of SECRETS.filter(([p]) => !p.startsWith('.ota/')))
      assert.match(text.stderr, new RegExp(`^left out ${p.replace(/[.#~]/g, '\\$&')}: `, 'm'), p);
    assert.doesNotMatch(text.stdout, /PRIVATE KEY|hunter2|client\.key/);
    const out = join(t.dir, '..', `${t.dir.split('/').pop()}-out`);
    const bundle = ota(['bundle', t.dir, '--out-dir', out, '--version', '1.0.0', '--json']);
    assert.equal(bundle.status, 0, bundle.stderr);
    const report = JSON.parse(bundle.stdout) as { excluded: { path: string; why: string }[]; files: number };
    assert.equal(report.files, 5);
    assert.ok(report.excluded.some((e) => e.path === '.env' && /environment file/.test(e.why)));
    const folder = await publishFolder({
      dir: t.dir,
      version: '1.0.0',
      outDir: join(out, 'site'),
      build: { created: CREATED },
    });
    assert.deepEqual(readdirSync(folder.versionDir).sort(), [
      'certs',
      'env.py',
      'lib',
      'main.py',
      'manifest.json',
    ]);
    assert.deepEqual(readdirSync(join(folder.versionDir, 'certs')), ['ca.pem']);
  } finally {
    t.cleanup();
  }
});

/** Each project is APP plus one hostile thing; every one is refused before anything is built. */
const REFUSED: [what: string, make: (dir: string, outside: string) => void, code: string, re: RegExp][] = [
  [
    'a symlink to ~/.ssh/id_rsa',
    (d, o) => {
      writeTree(o, { '.ssh/id_rsa': OPENSSH });
      symlinkSync(join(o, '.ssh/id_rsa'), join(d, 'key.py'));
    },
    'path_escape',
    /key\.py is a symlink to .*\.ssh\/id_rsa, outside the project/,
  ],
  [
    'a symlink to /etc/passwd',
    (d) => symlinkSync('/etc/passwd', join(d, 'lib/users.txt')),
    'path_escape',
    /lib\/users\.txt/,
  ],
  [
    'a symlink to the parent folder',
    (d) => symlinkSync('..', join(d, 'up')),
    'path_escape',
    /^up is a symlink/,
  ],
  [
    'a symlink loop',
    (d) => {
      symlinkSync(join(d, 'b.py'), join(d, 'a.py'));
      symlinkSync(join(d, 'a.py'), join(d, 'b.py'));
    },
    'unreadable',
    /a\.py \(symlink\): a symlink loop \(ELOOP\)/,
  ],
  [
    'a Windows device name',
    (d) => writeTree(d, { 'aux.py': 'x' }),
    'bad_name',
    /"aux\.py" is a Windows device name/,
  ],
  ['a device name in a folder', (d) => writeTree(d, { 'lib/COM1.txt': 'x' }), 'bad_name', /"COM1\.txt"/],
  ['a colon', (d) => writeTree(d, { 'lib/a:b.py': 'x' }), 'bad_name', /"a:b\.py" contains one of/],
  ['a question mark', (d) => writeTree(d, { 'lib/why?.py': 'x' }), 'bad_name', /FAT cannot hold/],
  [
    'a trailing dot',
    (d) => writeTree(d, { 'data.': 'x' }),
    'bad_name',
    /ends with a dot or space, which FAT drops/,
  ],
  [
    'a trailing space',
    (d) => writeTree(d, { 'lib /x.py': 'x' }),
    'bad_name',
    /"lib " ends with a dot or space/,
  ],
  [
    'a case-only clash',
    (d) => writeTree(d, { 'Main.py': 'x' }),
    'path_clash',
    /Main\.py and main\.py differ only in case/,
  ],
  [
    'a huge file',
    (d) => {
      writeFileSync(join(d, 'dump.bin'), '');
      truncateSync(join(d, 'dump.bin'), MAX_RELEASE_FILE + 1); // sparse: costs no disk
    },
    'file_too_large',
    /dump\.bin is 16777217 bytes; no board holds a file over 16 MiB\. Add it to \.otaignore/,
  ],
];

test('symlinks out of the project, names no board holds and huge files are refused by name', async () => {
  for (const [what, make, c, re] of REFUSED) {
    const t = tempDir();
    try {
      writeTree(t.dir, APP);
      const outside = join(t.dir, 'home');
      mkdirSync(outside);
      const project = join(t.dir, 'project');
      writeTree(project, APP);
      make(project, outside);
      await assert.rejects(buildRelease(project, { version: '1.0.0', created: CREATED }), code(c, re), what);
    } finally {
      t.cleanup();
    }
  }
  // A name longer than 255 bytes cannot even be made on Linux; the rule still holds for macOS and Windows.
  assert.match(boardNameProblem(`lib/${'é'.repeat(128)}.py`) ?? '', /longer than 255 bytes/);
  assert.equal(boardNameProblem(`lib/${'é'.repeat(125)}.py`), undefined);
  assert.equal(boardNameProblem('auxiliary.py'), undefined);
});

test('the CLI refuses a name no board holds with the error code and nothing written', () => {
  const t = tempDir();
  try {
    writeTree(t.dir, { ...APP, 'nul.py': 'x' });
    const r = ota([
      'publish',
      t.dir,
      '--target',
      'folder',
      '--dir',
      join(t.dir, 'out'),
      '--version',
      '1.0.0',
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot release nul\.py: "nul\.py" is a Windows device name.*\[bad_name\]/);
    const out = join(t.dir, 'out');
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], [], 'nothing published');
  } finally {
    t.cleanup();
  }
});
