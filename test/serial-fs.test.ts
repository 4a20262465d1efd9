// Files on the virtual board through its real pseudo-terminal: round trips, listing, safe writes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBoard } from '../src/core/serial/board';
import { onBoard } from './support/on-board';
import { OtaError } from '../src/core/errors';
import { startBoard, type TestBoard } from './serial-board';

let vb: TestBoard;

before(async () => {
  vb = await startBoard();
});
after(async () => {
  await vb?.stop();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test(
  'binary and non-ASCII files round-trip byte for byte, under non-ASCII names',
  { timeout: 30_000 },
  async () => {
    await onBoard(vb.path, async (b) => {
      const binary = randomBytes(20_000);
      const text = Buffer.from('température ✓ Grüße 日本語\n'.repeat(300));
      const progress: number[] = [];
      await b.writeFiles(
        [
          { path: '/data/blob.bin', data: binary },
          { path: '/data/été/notes ü.txt', data: text },
          { path: '/empty', data: new Uint8Array(0) },
        ],
        { onProgress: (p) => progress.push(p.done) },
      );
      assert.deepEqual(await b.read('/data/blob.bin'), binary);
      assert.deepEqual(await b.read('/data/été/notes ü.txt'), text);
      assert.equal((await b.read('/empty')).length, 0);
      // What the board wrote is what the host folder (the flash) holds.
      assert.deepEqual(readFileSync(join(vb.fsDir, 'data', 'été', 'notes ü.txt')), text);
      assert.equal(progress[progress.length - 1], binary.length + text.length);
      assert.ok(
        progress.every((n, i) => i === 0 || n >= progress[i - 1]),
        'progress only grows',
      );
      // Nothing staged is left behind.
      assert.equal(existsSync(join(vb.fsDir, '.ota', 'push')), false);
      assert.equal(existsSync(join(vb.fsDir, '.ota', 'push.json')), false);
    });
  },
);

test('ls lists recursively with sizes and on-board sha256; stat reports missing paths', async () => {
  await onBoard(vb.path, async (b) => {
    const data = Buffer.from('print("hi")\n');
    await b.write('/ls/a/b/c.py', data);
    const entries = await b.ls('/ls', { hashes: true });
    assert.deepEqual(
      entries.map((e) => [e.type, e.path]),
      [
        ['dir', '/ls/a'],
        ['dir', '/ls/a/b'],
        ['file', '/ls/a/b/c.py'],
      ],
    );
    assert.equal(entries[2].size, data.length);
    assert.equal(entries[2].sha256, sha(data));
    const st = await b.stat(['/ls/a/b/c.py', '/ls/nope']);
    assert.equal(st.get('/ls/a/b/c.py')?.sha256, sha(data));
    assert.equal(st.get('/ls/nope'), undefined);
  });
});

test('mkdirp is idempotent; rm removes a tree; reading a missing file is not_found', async () => {
  await onBoard(vb.path, async (b) => {
    await b.mkdirp('/t/x/y');
    await b.mkdirp('/t/x/y');
    await b.write('/t/x/y/z.txt', Buffer.from('z'));
    await b.rm('/t');
    assert.equal(existsSync(join(vb.fsDir, 't')), false);
    await b.rm('/t'); // already gone: fine
    await assert.rejects(
      b.read('/t/x/y/z.txt'),
      (e: unknown) => e instanceof OtaError && e.code === 'not_found',
    );
    await assert.rejects(b.rm('/'), (e: unknown) => e instanceof OtaError && e.code === 'bad_path');
    await assert.rejects(
      b.read('relative.py'),
      (e: unknown) => e instanceof OtaError && e.code === 'bad_path',
    );
  });
});

test('compressible files travel deflated, even as the first thing on a connection', async () => {
  await onBoard(vb.path, async (b) => {
    const text = Buffer.from('def handler(event):\n    return event\n'.repeat(2000));
    await b.write('/big.py', text);
    assert.ok(
      b.transport.bytesSent < text.length / 4,
      `${b.transport.bytesSent} bytes sent for ${text.length}`,
    );
    assert.equal(b.canInflate, true);
    assert.deepEqual(readFileSync(join(vb.fsDir, 'big.py')), text);
  });
});

test(
  'big incompressible files stream raw, about 1x on the wire, control bytes (0x03 0x04 0x01 0x10) included',
  { timeout: 30_000 },
  async () => {
    await onBoard(vb.path, async (b) => {
      // One byte in eight is a byte the console or the escaping cares about.
      const special = [0x03, 0x04, 0x01, 0x10, 0x11, 0x12, 0x06, 0x0d, 0x0a, 0x00];
      const data = randomBytes(100_000);
      for (let i = 0; i < data.length; i += 8) data[i] = special[data[i + 1] % special.length];
      await b.write('/warmup.txt', Buffer.from('x'));
      const before = b.transport.bytesSent;
      await b.write('/ctl.bin', data);
      const sent = b.transport.bytesSent - before;
      assert.equal(b.canStream, true);
      // base64 would be 1.33x; raw with 0x03/0x10 escaped is ~1.03x here.
      assert.ok(sent < data.length * 1.1, `${sent} bytes sent for ${data.length}`);
      assert.deepEqual(readFileSync(join(vb.fsDir, 'ctl.bin')), data);
      assert.equal(existsSync(join(vb.fsDir, '.ota', 'push')), false);
      assert.equal(vb.board.overrun, 0);
      assert.deepEqual(await b.read('/ctl.bin'), data);
    });
  },
);

test(
  'a cable pulled mid-write leaves the old file intact, and the next connection works',
  { timeout: 30_000 },
  async () => {
    const old = Buffer.from('the old, complete main.py\n');
    const b = await openBoard(vb.path);
    await b.write('/main.py', old);
    const big = randomBytes(200_000);
    let pulled = false;
    const write = b.write('/main.py', big, {
      onProgress: (p) => {
        if (!pulled && p.done > 20_000) {
          pulled = true;
          void vb.unplug();
        }
      },
    });
    await assert.rejects(
      write,
      (e: unknown) => e instanceof OtaError && ['port_closed', 'timeout'].includes(e.code),
    );
    await b.close().catch(() => undefined);
    assert.ok(pulled);
    assert.equal(b.canStream, true, 'the cable was pulled mid-stream (the board blocked reading stdin)');
    assert.deepEqual(readFileSync(join(vb.fsDir, 'main.py')), old, 'the real name still holds the old file');

    const again = await openBoard(await vb.replug());
    try {
      await again.write('/main.py', big);
      assert.deepEqual(readFileSync(join(vb.fsDir, 'main.py')), big);
      assert.equal(existsSync(join(vb.fsDir, '.ota', 'push')), false);
    } finally {
      await again.close();
    }
  },
);

test('board facts come back in one round trip', async () => {
  await onBoard(vb.path, async (b) => {
    await b.write('/version.json', Buffer.from(JSON.stringify({ version: '1.2.3' })));
    const info = await b.info();
    assert.equal(info.implementation, 'micropython');
    assert.match(info.version, /^\d+\.\d+\.\d+$/);
    assert.ok(
      info.memFree > 0 && info.fsFree !== null && info.fsTotal !== null && info.fsFree <= info.fsTotal,
    );
    assert.deepEqual(info.versionJson, { version: '1.2.3' });
    assert.equal(info.otaState, null);
    assert.match(info.build, /^v\d/);
  });
});
