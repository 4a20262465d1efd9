// Pushing files to the virtual board: this client (one stream through sys.stdin.buffer: raw bytes for
// incompressible files, deflate primed with a MicroPython dictionary for text; the helpers' loader sent
// with Ctrl-A and the push queued behind it) against a baseline that moves bytes the way mpremote's
// `fs cp` does (one raw-paste command per 256-byte chunk, as a Python bytes literal), measured in the
// same run on the same board:
// first unpaced over its pseudo-terminal (the client's own cost), then on its in-process link paced
// at 115200 baud, where most ESP32 boards' USB-UART bridge makes the wire the limit: there each side
// is timed as whole sessions (open, raw REPL, push, close), as a user running a command sees it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openBoard, type BoardConnection } from '../src/core/serial/board';
import { collectProject, syncFiles, type SyncFile } from '../src/core/serial/sync';
import { startBoard } from '../test/serial-board';

/** Python bytes literal as mpremote writes it (repr of the chunk). */
function reprBytes(chunk: Buffer): string {
  let s = "b'";
  for (const c of chunk) {
    if (c === 0x5c) s += '\\\\';
    else if (c === 0x27) s += "\\'";
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x09) s += '\\t';
    else s += '\\x' + c.toString(16).padStart(2, '0');
  }
  return s + "'";
}

async function mpremoteStyleWrite(board: BoardConnection, path: string, data: Buffer): Promise<void> {
  await board.exec(`f=open(${JSON.stringify(path)},'wb')\nw=f.write`);
  for (let i = 0; i < data.length; i += 256) {
    await board.exec(`w(${reprBytes(data.subarray(i, i + 256))})`);
  }
  await board.exec('f.close()');
}

/** A project of `n` small Python-like files (compressible text, 1-3 KB each). */
function project(n: number): SyncFile[] {
  const files: SyncFile[] = [];
  for (let i = 0; i < n; i++) {
    const lines = [];
    for (let j = 0; j < 40 + (i % 60); j++)
      lines.push(`def f${i}_${j}(x):\n    return x * ${j} + ${i}  # ${'·'.repeat(j % 7)}`);
    files.push({ path: `lib/mod${Math.floor(i / 10)}/m${i}.py`, data: Buffer.from(lines.join('\n') + '\n') });
  }
  return files;
}

/** About 100 KB as a real project mixes them: Python and JSON text, and a few binary assets (images, .mpy). */
function mixedProject(): SyncFile[] {
  const files = project(30).map((f) => ({ ...f, path: f.path.replace('lib/', 'app/') }));
  files.push({
    path: 'data/config.json',
    data: Buffer.from(
      JSON.stringify(
        { sensors: Array.from({ length: 60 }, (_, i) => ({ id: i, pin: i % 40, every_s: 30 })) },
        null,
        1,
      ),
    ),
  });
  files.push({ path: 'assets/logo.bin', data: randomBytes(20 * 1024) });
  files.push({ path: 'assets/font.bin', data: randomBytes(12 * 1024) });
  files.push({ path: 'lib/drivers.mpy', data: randomBytes(3 * 1024) });
  return files;
}

async function mpremoteStylePush(board: BoardConnection, root: string, files: SyncFile[]): Promise<void> {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = `${root}/${f.path}`.split('/').slice(1, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add('/' + parts.slice(0, i).join('/'));
  }
  // mpremote's cp -r makes each folder with one command, then copies file by file.
  for (const d of [...dirs].sort())
    await board.exec(`import os\ntry:\n os.mkdir(${JSON.stringify(d)})\nexcept OSError:\n pass`);
  for (const f of files) await mpremoteStyleWrite(board, `${root}/${f.path}`, Buffer.from(f.data));
}

interface Session {
  ms: number;
  out: number;
  back: number;
}

/** One session as a command-line push is one: open the port, enter the raw REPL, push, close. */
async function session(path: string, push: (b: BoardConnection) => Promise<unknown>): Promise<Session> {
  const t0 = process.hrtime.bigint();
  const board = await openBoard(path);
  try {
    await push(board);
  } finally {
    await board.close();
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, out: board.transport.bytesSent, back: board.transport.bytesReceived };
}

/** The median session of `n` (each into its own folder, so every one writes every file). */
async function median(n: number, run: (i: number) => Promise<Session>): Promise<Session> {
  const all: Session[] = [];
  for (let i = 0; i < n; i++) all.push(await run(i));
  return all.sort((a, b) => a.ms - b.ms)[Math.floor(n / 2)];
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

/** Pushes `files` both ways on the paced link, whole sessions each, and prints time and bytes on the wire. */
async function compareAtBaud(
  path: string,
  label: string,
  files: SyncFile[],
  tag: string,
  n: number,
): Promise<number> {
  const size = files.reduce((s, f) => s + f.data.length, 0);
  const base = await median(n, (i) => session(path, (b) => mpremoteStylePush(b, `/base-${tag}${i}`, files)));
  const ours = await median(n, (i) =>
    session(path, (b) => syncFiles(b, { files, root: `/ours-${tag}${i}` })),
  );
  const ratio = base.ms / ours.ms;
  console.log(
    `${label} (${files.length} files, ${kb(size)}) at 115200 baud, whole sessions${n > 1 ? `, median of ${n}` : ''}: ` +
      `mpremote-style ${(base.ms / 1000).toFixed(2)} s (${kb(base.out)} to the board, ${kb(base.back)} back), ` +
      `this client ${(ours.ms / 1000).toFixed(2)} s (${kb(ours.out)} to the board, ${kb(ours.back)} back) -> ` +
      `${ratio.toFixed(1)}x faster (goal >= 3x), ${(size / 1024 / (ours.ms / 1000)).toFixed(1)} KB/s of files`,
  );
  return ratio;
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
}

export async function run(): Promise<void> {
  const vb = await startBoard({ flashKb: 8192, via: 'pty' });
  const board = await openBoard(vb.path);
  try {
    const random = randomBytes(300 * 1024);
    await board.exec('pass');

    const [base] = await time(() => mpremoteStyleWrite(board, '/base.bin', random));
    const [ours] = await time(() => board.write('/ours.bin', random));
    const same =
      (await board.read('/ours.bin')).equals(random) && (await board.read('/base.bin')).equals(random);
    console.log(
      `300 KB random file: mpremote-style ${(base / 1000).toFixed(2)} s, this client ${(ours / 1000).toFixed(2)} s ` +
        `-> ${(base / ours).toFixed(1)}x faster (goal >= 5x)${same ? '' : '  [CONTENT MISMATCH]'}`,
    );

    const files = project(100);
    const total = files.reduce((n, f) => n + f.data.length, 0);
    const [baseP] = await time(async () => {
      for (const f of files) {
        await board.exec(`import os\ntry:\n os.mkdir('/b')\nexcept OSError:\n pass`);
        await mpremoteStyleWrite(board, `/b/${f.path.replace(/\//g, '_')}`, Buffer.from(f.data));
      }
    });
    const [first, r1] = await time(() => syncFiles(board, { files, root: '/p' }));
    console.log(
      `100-file project (${Math.round(total / 1024)} KB): mpremote-style ${(baseP / 1000).toFixed(2)} s, ` +
        `this client ${(first / 1000).toFixed(2)} s -> ${(baseP / first).toFixed(1)}x faster (${r1.uploaded.length} written)`,
    );
    const [again, r2] = await time(() => syncFiles(board, { files, root: '/p' }));
    console.log(
      `re-sync of the unchanged project: ${(again / 1000).toFixed(2)} s (goal <= 1 s), ${r2.uploaded.length} written, ` +
        `${(again / first).toFixed(2)}x the first push`,
    );
  } finally {
    await board.close();
    await vb.stop();
  }

  // The same board at 115200 baud on its in-process link: both ways paced, as through a CP210x/CH340.
  const slow = await startBoard({ flashKb: 8192, baud: 115200 });
  try {
    const example = await collectProject(join(__dirname, '..', 'examples', 'weather-station'));
    // The first session with this host sends the board helpers and caches them on the board (once per host version).
    const cold = await session(slow.path, (b) => syncFiles(b, { files: example.files, root: '/cold' }));
    console.log(
      `first session with this host version (board helpers sent, then cached on the board): ${(cold.ms / 1000).toFixed(2)} s, ` +
        `${kb(cold.out)} to the board`,
    );
    await compareAtBaud(slow.path, 'examples/weather-station', example.files, 'ex', 5);
    await compareAtBaud(slow.path, 'mixed project (text + binary)', mixedProject(), 'mixed', 1);
  } finally {
    await slow.stop();
  }
}
