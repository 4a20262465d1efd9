// The updater's pure parts on the virtual board, held against Node: the
// pure-Python SHA-1 (boards without hashlib.sha1), SHA-512 and Ed25519
// (RFC 8032 vectors), and the streaming JSON scanner.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fx from './support/release-fixture';

const T = { timeout: 60_000 };
const cleanups: string[] = [];
after(() => fx.cleanup(...cleanups));

/** Runs code on a bare board (no boot.py) without hashlib.sha1; returns what it printed. */
async function board(code: string): Promise<string> {
  const fsDir = fx.makeBoard({ source: 'static', url: 'http://127.0.0.1:9' }, {}, undefined);
  cleanups.push(fsDir);
  const r = await fx.runBoard({ fsDir, boot: false, sha1: false, code });
  assert.equal(r.error, undefined, r.output);
  return r.output.replace(/\r/g, '');
}

test('pure-Python SHA-1 and git blob ids equal Node and git at block edges', T, async () => {
  const lengths = [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000];
  const out = await board(
    [
      'import binascii',
      'from ota import sha1',
      'print(sha1.native)',
      `for n in ${JSON.stringify(lengths)}:`,
      '    data = bytes((i * 7 + 3) % 256 for i in range(n))',
      '    h = sha1.new()',
      '    h.update(data[:5])',
      '    h.update(data[5:])',
      '    b = sha1.blob(n)',
      '    b.update(data)',
      '    print(binascii.hexlify(h.digest()).decode(), binascii.hexlify(b.digest()).decode())',
    ].join('\n'),
  );
  const lines = out.trim().split('\n');
  assert.equal(lines[0], 'False', 'the board has no hashlib.sha1');
  lengths.forEach((n, i) => {
    const data = Buffer.from(Array.from({ length: n }, (_, j) => (j * 7 + 3) % 256));
    const plain = createHash('sha1').update(data).digest('hex');
    const blob = createHash('sha1').update(`blob ${n}\0`).update(data).digest('hex');
    assert.equal(lines[i + 1], `${plain} ${blob}`, `length ${n}`);
  });
});

test('SHA-512 and Ed25519 verification against Node and RFC 8032', T, async () => {
  const keys = fx.makeKeys();
  const msg = Buffer.from('manifest bytes '.repeat(20));
  const sig = JSON.parse(fx.signBytes(keys, 'ed25519', msg).toString()).sig as string;
  const pub = keys.ed25519.publicRaw.toString('hex');
  const out = await board(
    [
      'import binascii',
      'from ota import ed25519',
      'u = binascii.unhexlify',
      `m = ${JSON.stringify(msg.toString())}.encode()`,
      'print(binascii.hexlify(ed25519.sha512(m)).decode())',
      // RFC 8032 section 7.1, TEST 2
      "pk = u('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c')",
      "sg = u('92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00')",
      "print(ed25519.verify(pk, sg, b'\\x72'), ed25519.verify(pk, sg, b'\\x73'))",
      `s = binascii.a2b_base64(${JSON.stringify(sig)}.encode())`,
      `print(ed25519.verify(u('${pub}'), s, m), ed25519.verify(u('${pub}'), s, m + b'x'))`,
    ].join('\n'),
  );
  const lines = out.trim().split('\n');
  assert.equal(lines[0], createHash('sha512').update(msg).digest('hex'));
  assert.equal(lines[1], 'True False');
  assert.equal(lines[2], 'True False');
});

test('the streaming JSON scanner reports paths, values and closing brackets', T, async () => {
  const doc = { a: [1, { b: 'x"y\u00e9' }, true, null, -2.5], c: {}, d: 'z'.repeat(500) };
  const out = await board(
    [
      'from ota.jscan import Scanner, END, MAXS',
      'class R:',
      '    def __init__(s, b):',
      '        s.b = b',
      '        s.p = 0',
      '    def readinto(s, mv):',
      '        n = min(len(mv), len(s.b) - s.p, 7)',
      '        mv[:n] = s.b[s.p : s.p + n]',
      '        s.p += n',
      '        return n',
      'got = []',
      `Scanner(R(${JSON.stringify(JSON.stringify(doc))}.encode()), lambda p, v: got.append((list(p), 'END' if v is END else v))).run()`,
      'for g in got:',
      '    print(repr(g[0]), len(g[1]) if isinstance(g[1], str) and len(g[1]) > 50 else repr(g[1]))',
    ].join('\n'),
  );
  assert.deepEqual(out.trim().split('\n'), [
    "['a', 0] 1",
    "['a', 1, 'b'] 'x\"y\\xe9'",
    "['a', 1] 'END'",
    "['a', 2] True",
    "['a', 3] None",
    "['a', 4] -2.5",
    "['a'] 'END'",
    "['c'] 'END'",
    "['d'] 400",
    "[] 'END'",
  ]);
});
