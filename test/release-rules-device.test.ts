// Rules the host and the board must apply alike, held against the device code itself on the
// virtual board: the reserved board paths, the GitHub asset name of a release path, and the
// version order (the board refuses downgrades by its own parser; the host picks "latest" by its).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetName } from '../src/core/publish/names';
import { RESERVED, reservedPath } from '../src/core/reserved';
import { checkReleasePath } from '../src/core/paths';
import { compareVersions, parseVersion } from '../src/core/version';
import * as fx from './support/release-fixture';

const T = { timeout: 120_000 };
const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

async function board(code: string): Promise<string> {
  const fsDir = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, {}, undefined);
  cleanups.push(fsDir);
  const r = await fx.runBoard({ fsDir, boot: false, code });
  assert.equal(r.error, undefined, r.output);
  return r.output.replace(/\r/g, '');
}

test('src/core/reserved.ts holds the same tuple as device/ota/reserved.py', () => {
  const py = readFileSync(join(__dirname, '..', 'device', 'ota', 'reserved.py'), 'utf8');
  const m = /^RESERVED = \(([^)]*)\)$/m.exec(py);
  assert.ok(m, 'RESERVED = (...) not found in reserved.py');
  const device = [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
  assert.deepEqual(device, [...RESERVED]);
});

const PATHS = [
  'main.py',
  'lib/x.py',
  'a/b/c.bin',
  'a__b.py',
  'boot.py',
  'BOOT.PY',
  'lib/boot.py',
  'ota',
  'ota/updater.py',
  'OTA/x',
  'otax/y.py',
  '.ota/state.json',
  '.OTA/x',
  'ota_config.json',
  'Ota_Config.JSON',
  'version.json',
  'versions.json',
  'données/café.txt',
];

const VERSIONS = [
  '0.9.0',
  '1.0.0-alpha',
  '1.0.0-alpha.1',
  '1.0.0-alpha.beta',
  '1.0.0-beta',
  '1.0.0-beta.2',
  '1.0.0-beta.11',
  '1.0.0-rc.1',
  '1.0.0',
  '1.0.0+build.5',
  'v1.0.1',
  '1.2.0',
  '1.10.0',
  '2.0.0-0',
  '2.0.0',
  '10.0.0',
];

/** Runs `code` on the board and returns its printed lines, one value per line. */
async function lines(code: string[]): Promise<string[]> {
  return (await board(code.join('\n'))).trim().split('\n');
}

test('the board computes the same reserved paths and asset names as the host', T, async () => {
  const out = await lines([
    'import gc',
    'from ota.reserved import reserved',
    'from ota.github import GitHub',
    'class Echo(dict):',
    '    def get(self, k, d=None):',
    '        return k',
    'class Client:',
    '    pass',
    'g = GitHub({"repo": "o/r"}, Client())',
    'g.assets = Echo()',
    'gc.collect()',
    `for p in ${JSON.stringify(PATHS)}:`,
    // file_url asks the release's asset list for the asset name of a release file: Echo returns it.
    '    print(reserved(p), g.file_url({"path": p, "sha1": "0" * 40}))',
  ]);
  assert.deepEqual(
    out.slice(-PATHS.length),
    PATHS.map((p) => `${reservedPath(p) ?? 'None'} ${assetName(p)}`),
  );
});

test('the board orders versions as the host does', T, async () => {
  const out = await lines([
    'import gc',
    'from ota.manifest import compare',
    `V = ${JSON.stringify(VERSIONS)}`,
    'for a in V:',
    '    gc.collect()',
    '    for b in V:',
    '        print(compare(a, b))',
  ]);
  const pairs = VERSIONS.flatMap((a) => VERSIONS.map((b) => String(compareVersions(a, b))));
  assert.deepEqual(out.slice(-pairs.length), pairs);
});

/** Accepted or refused alike (hostile manifests: test/attack-updater.test.ts). */
const SPELLINGS = [
  '1.0.0',
  'v1.0.0',
  '1.0.0-rc.1',
  '1.0.0-rc-1.x',
  '1.0.0+build.01',
  '1.0.0-0a',
  '01.0.0',
  '1.00.0',
  '1.0.0-01',
  '1.0.0-',
  '1.0.0+',
  '1.0.0-a..b',
  '1.0',
  '1.0.0.0',
  ' 1.0.0',
  '1.0.0_x',
  '+1.0.0',
  '1.0.0-\u00e9',
];
const BAD_PATHS = [
  'a'.repeat(255) + '/x.py',
  'a'.repeat(256),
  '\u00e9'.repeat(128),
  'd/'.repeat(15) + 'x.py',
  'd/'.repeat(16) + 'x.py',
  'caf\u00e9.py',
  'cafe\u0301.py',
  'evil\u202eyp.main',
  'zero\u200bwidth.py',
  '\ufeffbom.py',
  'lib//x.py',
  'a\\b.py',
];

const accepts = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

test('the board accepts and refuses the same version spellings and paths as the host', T, async () => {
  const paths = BAD_PATHS.map((p) => JSON.parse(`"${p}"`) as string);
  const versions = SPELLINGS.map((v) => JSON.parse(`"${v}"`) as string);
  const out = await lines([
    'import json',
    'from ota.manifest import parse_version, check_path',
    `for v in json.loads(${JSON.stringify(JSON.stringify(versions))}):`,
    '    print(parse_version(v) is not None)',
    `for p in json.loads(${JSON.stringify(JSON.stringify(paths))}):`,
    '    try:',
    '        check_path(p)',
    '        print(True)',
    '    except Exception:',
    '        print(False)',
  ]);
  const want = [
    ...versions.map((v) => accepts(() => parseVersion(v))),
    ...paths.map((p) => accepts(() => checkReleasePath(p))),
  ].map(String);
  const got = out.slice(-want.length).map((l) => (l === 'True' ? 'true' : 'false'));
  const names = [...versions, ...paths];
  assert.deepEqual(
    got.map((g, i) => `${JSON.stringify(names[i])} ${g}`),
    want.map((w, i) => `${JSON.stringify(names[i])} ${w}`),
  );
});
