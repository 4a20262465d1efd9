// Fewer bytes and round trips on a slow serial link, against the real MicroPython (WebAssembly) board:
// deflate primed with the preset dictionary inflates byte-identically on the board, a board with a
// wrong or missing dictionary is caught by the hash check (the old file kept), and a session's first
// command sent right behind Ctrl-A works from every state the board can be in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_PATH, deflate4k, deflatePrimed, DICTIONARY, HELPERS } from '../src/core/serial/board-helpers';
import { BoardException } from '../src/core/serial/raw-repl';
import { collectProject, syncFiles, type SyncFile } from '../src/core/serial/sync';
import { openTransport, Transport } from '../src/core/serial/transport';
import { onBoard } from './support/on-board';
import { startBoard, type TestBoard } from './serial-board';

let vb: TestBoard;

before(async () => {
  vb = await startBoard();
});
after(async () => {
  await vb?.stop();
});

const example = () => collectProject(join(__dirname, '..', 'examples', 'weather-station'));
const onFlash = (path: string) => readFileSync(join(vb.fsDir, ...path.split('/').filter(Boolean)));

/** Every byte value, 0x10 and 0x03 (escaped on the wire) among them, and text well past 4 KB. */
function samples(): Buffer[] {
  const text = Buffer.from(
    Array.from(
      { length: 160 },
      (_, i) => `def f${i}(self):\n    return self.value * ${i}  # \x10\x03 é\n`,
    ).join(''),
  );
  return [
    DICTIONARY,
    Buffer.from('import machine\nwhile True:\n    pass\n'),
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    text.subarray(0, 4096),
    Buffer.from('x'),
  ];
}

test('deflate primed with the dictionary inflates byte-identically on the board', async () => {
  await onBoard(vb.path, async (b) => {
    for (const data of samples()) {
      const packed = deflatePrimed(data);
      const out = await b.exclusive(async () => {
        await b.prepare();
        return b.run(
          `import binascii\nprint(binascii.hexlify(_ota_inflate(binascii.unhexlify('${packed.toString('hex')}'))).decode())`,
        );
      });
      assert.equal(out.toString().trim(), data.toString('hex'), `${data.length} bytes`);
    }
  });
});

test('the dictionary makes small Python files smaller on the wire', async () => {
  const { files } = await example();
  const all = Buffer.concat(files.map((f) => Buffer.from(f.data)));
  const [plain, primed] = [deflate4k(all).length, deflatePrimed(all).length];
  assert.ok(primed < plain * 0.9, `${all.length} bytes: ${plain} deflated, ${primed} with the dictionary`);
  assert.ok(HELPERS.includes("_OTA_DICT = b'"), 'the board holds the dictionary in its cached helpers');
});

test('a push streams primed blocks that land byte-identical, past one 4 KB block too', async () => {
  const { files } = await example();
  const big = { path: 'lib/big.py', data: Buffer.concat(samples().slice(1)) };
  const bin = { path: 'assets/blob.bin', data: randomBytes(5000) };
  const all: SyncFile[] = [...files, big, bin];
  await onBoard(vb.path, async (b) => {
    const r = await syncFiles(b, { files: all, root: '/prim' });
    assert.equal(r.uploaded.length, all.length);
    assert.ok(b.canStream && b.canInflate, 'went through the stream, deflated');
  });
  for (const f of all) assert.deepEqual(onFlash(`/prim/${f.path}`), Buffer.from(f.data), f.path);
});

test('a board inflating with a wrong or missing dictionary is refused by the hash check; the old file stays', async () => {
  const old = Buffer.from('print("old")\n');
  const next = Buffer.from(
    'import machine\nimport time\n\nwhile True:\n    print("new")\n    time.sleep(1)\n',
  );
  await onBoard(vb.path, (b) => syncFiles(b, { files: [{ path: 'main.py', data: old }], root: '/dict' }));
  for (const wrong of ['bytes(len(_OTA_DICT))', '_OTA_DICT[1:]+b" "', "b''"]) {
    await onBoard(vb.path, async (b) => {
      await b.exclusive(async () => {
        await b.prepare();
        await b.run(`_OTA_DICT=${wrong}`);
      });
      await assert.rejects(
        syncFiles(b, { files: [{ path: 'main.py', data: next }], root: '/dict' }),
        (e: unknown) => e instanceof BoardException,
        wrong,
      );
    });
    assert.deepEqual(onFlash('/dict/main.py'), old, wrong);
  }
  // The next session loads the cached helpers again, dictionary and all.
  await onBoard(vb.path, (b) => syncFiles(b, { files: [{ path: 'main.py', data: next }], root: '/dict' }));
  assert.deepEqual(onFlash('/dict/main.py'), next);
});

/** What the host writes in one session, in order. */
async function writesOf(fn: () => Promise<unknown>): Promise<Buffer[]> {
  const writes: Buffer[] = [];
  const original = Transport.prototype.write;
  Transport.prototype.write = function (this: Transport, data: string | Buffer) {
    writes.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data));
    return original.call(this, data);
  };
  try {
    await fn();
  } finally {
    Transport.prototype.write = original;
  }
  return writes;
}

test("a session's first command goes out with Ctrl-A, within what the board's receive ring holds", async () => {
  const before = vb.board.overrun;
  let names: string[] = [];
  const writes = await writesOf(() =>
    onBoard(vb.path, async (b) => (names = (await b.ls('/')).map((e) => e.path))),
  );
  assert.ok(names.includes('/prim'));
  const withCtrlA = writes.find((w) => w.includes('\x01\x05A\x01import '));
  assert.ok(withCtrlA, 'the loader left with the raw-paste request');
  assert.ok(withCtrlA.length <= 256, `${withCtrlA.length} bytes before the board answered`);
  assert.equal(vb.board.overrun, before, 'no byte lost');
});

/**
 * Bytes typed on the console as a terminal user would, through a separate open of the port; the
 * port is left once the board's echo shows `state` (the program runs, the line is half typed).
 */
async function typeOnConsole(text: string, state: RegExp): Promise<void> {
  const port = await openTransport(vb.path);
  let seen = '';
  port.tap = (d) => (seen += d.toString('latin1'));
  port.tapOnly = true;
  await port.write(text);
  const until = Date.now() + 10_000;
  while (!state.test(seen) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await port.close();
  assert.match(seen, state, 'the state typed at the console');
}
test('sent ahead from a busy program, a half-typed line or paste mode, the session still works', async (t) => {
  // The friendly REPL indents each line after a colon by 4 and keeps the indent; a lone Enter on a
  // continuation line runs the block (its echo, `...` and spaces, is the last thing it says).
  const running = /\r\n\.\.\. +\r\n$/;
  const states: [string, string, RegExp][] = [
    ['a program in while True', 'while True:\rpass\r\r', running],
    [
      'one that ignores the first Ctrl-C',
      'while True:\rtry:\rpass\r\b\b\b\bexcept KeyboardInterrupt:\rpass\r\r',
      running,
    ],
    ['a half-typed line', 'print("half', /print\("half$/],
    ['paste mode', '\x05x = 1\r', /\r\n=== x = 1\r\n=== $/],
  ];
  for (const [name, typed, state] of states) {
    await t.test(name, async () => {
      await typeOnConsole(typed, state);
      const before = vb.board.overrun;
      await onBoard(vb.path, async (b) => {
        await syncFiles(b, { files: [{ path: 'state.txt', data: Buffer.from(name) }], root: '/st' });
        assert.equal((await b.exec('print(1+1)')).toString().trim(), '2');
      });
      assert.equal(onFlash('/st/state.txt').toString(), name);
      assert.equal(vb.board.overrun, before);
    });
  }
});

test('a board without raw paste: the bytes sent ahead are cleared, and the push goes as statements', async () => {
  const old = await startBoard({ rawPaste: false });
  try {
    const { files } = await example();
    await onBoard(old.path, async (b) => {
      const r = await syncFiles(b, { files, root: '/' });
      assert.equal(r.uploaded.length, files.length);
      assert.equal(b.repl.rawPaste, false);
      assert.equal((await b.exec('print(1+1)')).toString().trim(), '2');
    });
    for (const f of files)
      assert.deepEqual(readFileSync(join(old.fsDir, f.path)), Buffer.from(f.data), f.path);
    // A second session: loader sent ahead again, cleared again, helpers from the cache.
    await onBoard(old.path, async (b) => {
      const names = (await b.ls('/')).map((e) => e.path);
      assert.ok(names.includes('/main.py'));
    });
  } finally {
    await old.stop();
  }
});

test('a push whose loader finds no good helpers never runs older helpers left in the REPL', async () => {
  // What an older host's helpers (or a user's program) left in the REPL's globals, with the cached copy gone.
  await onBoard(vb.path, async (b) => {
    await b.ls('/'); // the helpers cached and loaded
    await b.exec(
      `def _ota_sync(*a):\n open('/stale.txt','w').write('older helpers ran')\n` +
        `import os\nos.remove(${JSON.stringify(CACHE_PATH)})`,
    );
  });
  const files = [{ path: 'fresh.py', data: Buffer.from('print("fresh")\n') }];
  await onBoard(vb.path, (b) => syncFiles(b, { files, root: '/stale' }));
  assert.deepEqual(onFlash('/stale/fresh.py'), files[0].data);
  assert.throws(() => onFlash('/stale.txt'), /ENOENT/);
  assert.equal(onFlash(CACHE_PATH).toString(), HELPERS, 'the helpers were sent and cached again');
});
