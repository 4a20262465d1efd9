// The board helpers are sent once and cached on the board (src/core/serial/board-helpers.ts): first
// use, reuse, a copy from another host version replaced, and a damaged copy refused (never run) and
// replaced. The real virtual board, on its in-process link.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openBoard, type BoardConnection } from '../src/core/serial/board';
import { CACHE_PATH, HELPERS } from '../src/core/serial/board-helpers';
import { startBoard, type TestBoard } from './serial-board';

let vb: TestBoard;
const cacheFile = () => join(vb.fsDir, ...CACHE_PATH.split('/').filter(Boolean));
const cacheDir = () => join(vb.fsDir, '.ota', 'serial');

before(async () => {
  vb = await startBoard();
});
after(async () => {
  await vb?.stop();
});

/** Writes a board file as a user's program would (the board's own open/write), making its folders. */
async function put(path: string, data: string): Promise<void> {
  const b = await openBoard(vb.path);
  try {
    await b.exec(
      `import os\nfor d in ('/.ota','/.ota/serial'):\n try:os.mkdir(d)\n except OSError:pass\n` +
        `f=open(${JSON.stringify(path)},'wb')\nf.close()`,
    );
    // In pieces: one hex literal of the whole helpers would not fit the board's heap in one piece.
    const hex = Buffer.from(data, 'latin1').toString('hex');
    for (let i = 0; i < hex.length; i += 4096) {
      await b.exec(
        `f=open(${JSON.stringify(path)},'ab')\nf.write(bytes.fromhex('${hex.slice(i, i + 4096)}'))\nf.close()`,
      );
    }
  } finally {
    await b.close();
  }
}

/** One session: open, list '/', close. What went to the board, and everything it printed. */
async function session(): Promise<{ sent: number; seen: string; names: string[] }> {
  const b: BoardConnection = await openBoard(vb.path);
  let seen = '';
  b.transport.tap = (c) => (seen += c.toString('latin1'));
  try {
    const names = (await b.ls('/')).map((e) => e.path);
    return { sent: b.transport.bytesSent, seen, names };
  } finally {
    await b.close();
  }
}

test('first use sends the helpers once and caches them; later sessions send only the short loader', async () => {
  assert.equal(existsSync(cacheDir()), false, 'a fresh board has no cache');
  await put('/hello.py', 'print(1)\n');
  const first = await session();
  assert.ok(first.names.includes('/hello.py'));
  assert.ok(first.sent > HELPERS.length / 2, `first session sent ${first.sent} bytes`);
  assert.equal(readFileSync(cacheFile(), 'utf8'), HELPERS, 'the cache holds exactly what this host sends');
  const written = readFileSync(cacheFile());

  const again = await session();
  assert.deepEqual(again.names, first.names);
  assert.ok(again.sent < 400, `a later session sent ${again.sent} bytes (the helpers are ${HELPERS.length})`);
  assert.deepEqual(readFileSync(cacheFile()), written, 'reused, not rewritten');
});

test('a copy from another host version is replaced by this one', async () => {
  await put('/.ota/serial/0123456789abcdef.py', 'print("old helpers")\n');
  await put(CACHE_PATH, 'print("not ours")\n');
  const s = await session();
  assert.ok(s.names.includes('/hello.py'));
  assert.doesNotMatch(s.seen, /not ours|old helpers/);
  assert.deepEqual(readdirSync(cacheDir()), [CACHE_PATH.split('/').pop()]);
  assert.equal(readFileSync(cacheFile(), 'utf8'), HELPERS);
});

test('a damaged cache is refused before any of it runs, then written again', async (t) => {
  const damages: [string, (good: string) => string][] = [
    // A cut mid-write: the file ends early.
    ['torn', (good) => good.slice(0, Math.floor(good.length / 2))],
    // Valid Python that would run: one line added.
    ['tampered', (good) => good.replace('def _ota_list(d, h):', 'print("TAMPERED")\ndef _ota_list(d, h):')],
    // A sector that never reached flash reads as zeros.
    ['zeroed', (good) => good.slice(0, 512) + '\0'.repeat(512) + good.slice(1024)],
    // Not ours at all, though named as ours.
    ['foreign', () => 'print("TAMPERED")\n'],
    // Empty: cut right after it was created.
    ['empty', () => ''],
  ];
  for (const [name, damage] of damages) {
    await t.test(name, async () => {
      await put(CACHE_PATH, damage(HELPERS));
      const s = await session();
      assert.doesNotMatch(s.seen, /TAMPERED/, 'the damaged copy never ran');
      assert.ok(s.names.includes('/hello.py'), 'the session still works');
      assert.equal(readFileSync(cacheFile(), 'utf8'), HELPERS, 'written again');
      const next = await session();
      assert.ok(next.sent < 400, 'and used from then on');
    });
  }
});
