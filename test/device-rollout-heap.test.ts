// The rollout document's signature is checked without a TLS connection kept (docs/protocols.md,
// "Connection reuse", released early): a TLS context holds tens of KB of a board's heap, which the
// signature math wants. A board without a broker reads rollout.json from its release host over HTTPS
// (the test CA) in two places: the gate before a release installs, and the way back an abort asks
// for. The board's own updater runs with two probes: every HTTP client that kept a connection is
// remembered, and each signature check (ota.sig.verify) prints how many of them hold one then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRolloutFile } from '../src/core/fleet/release';
import { makePki } from './support/pki';
import * as fx from './support/release-fixture';
import * as ff from './support/fleet-fixture';
import { missingService } from './support/service';

const noOpenssl = missingService(['openssl']);
if (noOpenssl) console.log(`# skipped: ${noOpenssl}`);
const T = { timeout: 180_000, skip: noOpenssl };

const PROBE = [
  'import ota, ota.http, ota.sig',
  '_clients = []',
  '_put = ota.http.Client._put',
  'def _kept(self, key, raw, s):',
  '    if self not in _clients:',
  '        _clients.append(self)',
  '    _put(self, key, raw, s)',
  'ota.http.Client._put = _kept',
  '_verify = ota.sig.verify',
  'def _checked(keys, s, doc):',
  '    print("VERIFY", sum(1 for c in _clients if c._idle is not None))',
  '    return _verify(keys, s, doc)',
  'ota.sig.verify = _checked',
  'print("RET", ota.update(False))',
  '',
].join('\n');
const verified = (out: string) => [...out.matchAll(/^VERIFY (\d+)/gm)].map((m) => Number(m[1]));

test('rollout.json over HTTPS: its signature is checked with no TLS connection kept', T, async () => {
  const h = await ff.startHost();
  const work = fx.tempDir('rollout-heap');
  h.dirs.push(work);
  const pki = makePki(work);
  const srv = await fx.serveFolder(h.host, undefined, { cert: pki.server.cert, key: pki.server.key });
  try {
    await ff.publishPrevious(h);
    await writeRolloutFile(h.host, await ff.signedRollout(h, { version: '1.1.0', devices: ['t1'] }));
    const fsDir = ff.rolloutBoard(h, 't1', { url: srv.url, tls: { ca: 'certs/ca.pem' }, retries: 0 });
    mkdirSync(join(fsDir, 'certs'));
    writeFileSync(join(fsDir, 'certs', 'ca.pem'), pki.ca.cert);

    // The gate: rollout.json (after latest.json, on the check's connection), then the manifest.
    const r = await fx.runBoard({ fsDir, code: PROBE });
    assert.deepEqual(fx.errorCodes(r.output), [], r.output);
    assert.match(r.output, /RET 1\.1\.0/);
    assert.deepEqual(verified(r.output), [0, 0], `the rollout's and the manifest's signature: ${r.output}`);

    // The way back: a signed abort of 1.1.0, read from the host before the check (ota.fleetdoc revert).
    await writeRolloutFile(h.host, await ff.signedRollout(h, { version: '1.1.0', aborted: true }));
    const back = await fx.runBoard({ fsDir, code: PROBE });
    assert.deepEqual(fx.errorCodes(back.output), [], back.output);
    assert.ok(ff.saw(back.output, 'rollback'), back.output);
    assert.equal(ff.versionOf(fsDir), '1.0.0');
    assert.ok(verified(back.output).length >= 1, back.output);
    assert.deepEqual(
      verified(back.output).filter((n) => n),
      [],
      `no signature check with a connection kept: ${back.output}`,
    );
  } finally {
    await srv.close();
    await ff.stopFleet(h);
  }
});
