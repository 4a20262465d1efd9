// A pseudo-terminal in its own small process: `node pty-relay.js <link path>` opens a pty pair with
// @lydell/node-pty's prebuilt openpty(3), links <link path> to the slave, and relays bytes between
// the master and its stdin/stdout (what socat did). It lives in a process of its own because the
// pair's descriptors are not close-on-exec: opened in the board's process, every child that process
// spawned later would hold the master open, and a port taken away (a native-USB reset, an unplug)
// would never look closed to the serial tool. Exits when stdin closes.
import * as fs from 'node:fs';
import * as tty from 'node:tty';

interface PtyBinding {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

function main(link: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { requireBinary } = require('@lydell/node-pty/requireBinary') as {
    requireBinary(file: string): PtyBinding;
  };
  const binding = requireBinary('pty.node');
  if (typeof binding.open !== 'function') throw new Error('this build of node-pty has no open()');
  const pair = binding.open(80, 24);
  // Held open, never read: a host closing the port does not hang up the master (socat's ignoreeof).
  // Raw: no echo, no CR/LF mapping, bytes as they are.
  const slave = new tty.ReadStream(pair.slave);
  slave.setRawMode(true);
  const master = new tty.ReadStream(pair.master);
  fs.symlinkSync(pair.pty, link);
  const end = (): void => {
    fs.rmSync(link, { force: true });
    process.exit(0);
  };
  master.on('data', (d: Buffer) => process.stdout.write(d));
  master.on('error', () => undefined);
  process.stdin.on('data', (d: Buffer) => master.write(d));
  process.stdin.on('end', end);
  process.on('SIGTERM', end);
  process.stderr.write(`ready ${pair.pty}\n`);
}

try {
  main(process.argv[2]);
} catch (err) {
  process.stderr.write(`${(err as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
