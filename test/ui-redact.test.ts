// Tokens and passwords never reach the extension's logs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redactor } from '../src/ui/redact';

describe('Redactor', () => {
  const r = new Redactor();

  it('masks GitHub tokens of every kind', () => {
    for (const t of ['ghp_' + 'a'.repeat(36), 'gho_' + 'B1'.repeat(18), 'github_pat_' + 'x_Y9'.repeat(12)]) {
      const out = r.redact(`using ${t} now`);
      assert.equal(out, 'using *** now', t);
    }
  });

  it('masks Authorization headers and URL credentials', () => {
    assert.equal(r.redact('Authorization: token abc123def456'), 'Authorization: token ***');
    assert.equal(r.redact('Authorization: Bearer eyJhbGciOi.x.y'), 'Authorization: Bearer ***');
    assert.equal(r.redact('GET https://me:s3cr3t@example.com/x'), 'GET https://me:***@example.com/x');
  });

  it('masks secret JSON fields (ota_config.json) and keeps the rest', () => {
    const cfg = JSON.stringify({
      source: 'github',
      token: 'tok-123',
      wifi: { ssid: 'lab', password: 'p"w' },
    });
    const out = r.redact(cfg);
    assert.equal(out, '{"source":"github","token":"***","wifi":{"ssid":"lab","password":"***"}}');
  });

  it('masks a secret it was given, wherever it appears', () => {
    const own = new Redactor();
    own.add('plain-wifi-pass');
    assert.equal(own.redact('connecting with plain-wifi-pass...'), 'connecting with ***...');
    own.add('abc'); // too short to mask safely: would garble ordinary text
    assert.equal(own.redact('abc'), 'abc');
  });

  it('leaves ordinary log lines alone', () => {
    const line = 'OTA:{"ev":"progress","file":"main.py","done":4096,"total":18340} token expired';
    assert.equal(r.redact(line), line);
  });
});
