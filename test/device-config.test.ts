// /ota_config.json: schemas/ota_config.schema.json describes what the updater
// reads (checked with ajv), the board refuses a config it cannot use with
// `config`, connects Wi-Fi when told to, and updates over HTTPS.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import * as fx from './support/release-fixture';
import { missingService, selfSigned } from './support/service';

const T = { timeout: 60_000 };
const schema = JSON.parse(readFileSync(join(__dirname, '..', 'schemas', 'ota_config.schema.json'), 'utf8'));
const validate = new Ajv({ strict: true, strictRequired: false, allErrors: true }).compile(schema);
const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

const GOOD = [
  { source: 'static', url: 'https://example.com/app' },
  {
    source: 'github',
    repo: 'me/app',
    api: 'http://127.0.0.1:1',
    token: 't',
    channel: 'developer',
    branch: 'dev',
    paths: ['lib/'],
    keys: [{ alg: 'ed25519', id: 'k1', key: 'AAAA' }],
    allow_downgrade: false,
    confirm_boots: 2,
    wifi: { ssid: 'lab', password: 'pw' },
    timeout: 2,
    retries: 0,
  },
  { source: 'github', repo: 'me/app', channel: 'tag', tag: 'v1.0.0' },
  {
    source: 'static',
    url: 'https://example.com/app',
    tls: { ca: 'ota/ca.pem', pin: ['a'.repeat(64)], cert: 'c.pem', key: 'k.pem' },
    deadline: 120,
    max_retry_after: 10,
    ntp: 'pool.ntp.org',
    require_clock: true,
    stale_checks: 20,
    stale_days: 7,
  },
  { source: 'static', url: 'https://example.com/app', tls: { insecure: true }, ntp: false },
  { source: 'github', repo: 'me/app', channel: 'tag', tag: 'v1.0.0', web: false },
  { source: 'github', repo: 'me/app', web: 'https://ghe.example.com' },
  { source: 'oci', ref: 'ghcr.io/me/app/board-7', channel: 'beta', user: 'me', password: 'ghp_x' },
  { source: 'oci', ref: 'http://127.0.0.1:5000/me/app:1.0.0' },
];

const BAD: [string, unknown][] = [
  ['static without url', { source: 'static' }],
  ['github without repo', { source: 'github' }],
  ['an unknown source', { source: 'ftp', url: 'ftp://x' }],
  ['channel tag without tag', { source: 'github', repo: 'me/app', channel: 'tag' }],
  ['an unknown channel', { source: 'github', repo: 'me/app', channel: 'nightly' }],
  ['oci without ref', { source: 'oci' }],
  ['oci on the developer channel', { source: 'oci', ref: 'ghcr.io/me/app', channel: 'developer' }],
  ['keys not a list', { source: 'static', url: 'http://x', keys: { alg: 'hmac-sha256' } }],
  ['an empty keys list (fail closed, not unsigned)', { source: 'static', url: 'http://x', keys: [] }],
  ['a key without its key', { source: 'static', url: 'http://x', keys: [{ alg: 'ed25519', id: 'k1' }] }],
  ['tls.cert without tls.key', { source: 'static', url: 'http://x', tls: { cert: 'c.pem' } }],
  ['tls.insecure not a boolean', { source: 'static', url: 'http://x', tls: { insecure: 'yes' } }],
  ['a deadline of zero', { source: 'static', url: 'http://x', deadline: 0 }],
];

test('the schema accepts the configurations the updater reads', () => {
  for (const c of GOOD) assert.ok(validate(c), JSON.stringify(validate.errors));
});

for (const [name, c] of BAD) {
  test(`${name}: the schema rejects it and the board refuses it with config`, T, async () => {
    assert.equal(validate(c), false);
    const fsDir = fx.makeBoard(c as Record<string, unknown>, fx.APP_1_0_0, '1.0.0');
    cleanups.push(fsDir);
    const r = await fx.runBoard({ fsDir, code: 'import ota\nprint(ota.update())\n' });
    assert.deepEqual(fx.errorCodes(r.output), ['bad_config'], r.output);
    assert.deepEqual(fx.hashTree(fsDir, fx.NOT_APP), fx.hashFiles(fx.APP_1_0_0));
  });
}

test(
  'HTTPS static host (self-signed certificate as the configured CA), with Wi-Fi configured',
  { ...T, skip: missingService(['openssl']) },
  async () => {
    const dir = fx.tempDir('tls');
    cleanups.push(dir);
    const pair = selfSigned(dir, 'server', '/CN=127.0.0.1', 1);
    const rel = await fx.makeRelease('1.1.0', fx.APP_1_1_0, { keep: ['settings.json'] });
    const host = fx.tempDir('host');
    cleanups.push(rel.dir, host);
    fx.publishStatic(host, rel);
    const server = await fx.serveFolder(host, undefined, {
      key: readFileSync(pair.key),
      cert: readFileSync(pair.cert),
    });
    const url = server.url;
    const fsDir = fx.makeBoard(
      { source: 'static', url, wifi: { ssid: 'lab', password: 'pw' }, retries: 0, tls: { ca: 'cert.pem' } },
      fx.APP_1_0_0,
      '1.0.0',
    );
    cleanups.push(fsDir);
    writeFileSync(join(fsDir, 'cert.pem'), readFileSync(pair.cert));
    try {
      const r = await fx.runBoard({ fsDir, code: 'import ota\nota.update()\n' });
      assert.deepEqual(fx.errorCodes(r.output), [], r.output);
      assert.equal(JSON.parse(readFileSync(join(fsDir, 'version.json'), 'utf8')).version, '1.1.0');
      assert.ok(server.requests.some((q) => q.url === '/1.1.0/main.py'));
    } finally {
      await server.close();
    }
  },
);
