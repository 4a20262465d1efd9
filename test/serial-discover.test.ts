// Board discovery: named USB IDs, the sysfs fallback, and no crash where udevadm is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  announcePort,
  describeUsb,
  listBoards,
  listFromSysfs,
  virtualPortsDir,
} from '../src/core/serial/discover';
import './support/own-ports';

test('known MicroPython USB IDs are named; unknown ones are not', () => {
  assert.match(describeUsb('303a', '1001') ?? '', /Espressif/);
  assert.match(describeUsb('2E8A', '0005') ?? '', /Pico/);
  assert.match(describeUsb('10c4', 'ea60') ?? '', /CP210x/);
  assert.match(describeUsb('1a86', '7523') ?? '', /CH340/);
  assert.match(describeUsb('0403', '6001') ?? '', /FTDI/);
  assert.match(describeUsb('303a', 'beef') ?? '', /Espressif board/);
  assert.equal(describeUsb('dead', 'beef'), undefined);
  assert.equal(describeUsb(undefined, undefined), undefined);
});

test('without udev, USB serial ports are read from a sysfs tree', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ota-sysfs-'));
  // The kernel's layout: a CDC-ACM port's device is the USB interface; a usb-serial port sits one below.
  const usb = (dev: string, vid: string, pid: string) => {
    mkdirSync(join(root, 'devices', dev), { recursive: true });
    writeFileSync(join(root, 'devices', dev, 'idVendor'), vid + '\n');
    writeFileSync(join(root, 'devices', dev, 'idProduct'), pid + '\n');
    writeFileSync(join(root, 'devices', dev, 'manufacturer'), 'Maker\n');
  };
  usb('1-1', '2e8a', '0005');
  usb('1-2', '10c4', 'ea60');
  mkdirSync(join(root, 'devices', '1-1', '1-1:1.0'), { recursive: true });
  mkdirSync(join(root, 'devices', '1-2', '1-2:1.0', 'ttyUSB0'), { recursive: true });
  const cls = join(root, 'class', 'tty');
  for (const [name, target] of [
    ['ttyACM0', join(root, 'devices', '1-1', '1-1:1.0')],
    ['ttyUSB0', join(root, 'devices', '1-2', '1-2:1.0', 'ttyUSB0')],
  ]) {
    mkdirSync(join(cls, name), { recursive: true });
    symlinkSync(target, join(cls, name, 'device'));
  }
  mkdirSync(join(cls, 'tty0'));
  const found = await listFromSysfs(cls, '/dev');
  assert.deepEqual(
    found.map((b) => [b.path, b.vendorId, b.productId, b.likely]),
    [
      ['/dev/ttyACM0', '2e8a', '0005', true],
      ['/dev/ttyUSB0', '10c4', 'ea60', true],
    ],
  );
  assert.match(found[0].name ?? '', /Pico/);
  assert.deepEqual(await listFromSysfs(join(root, 'missing')), []);
});

test('listBoards answers (never crashes) where udevadm is not on PATH', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "require('./src/core/serial/discover.ts').listBoards().then((b) => console.log(JSON.stringify(b)))",
    ],
    { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' }, timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Array.isArray(JSON.parse(r.stdout)));
});

test('virtual boards announced by other processes are listed with their USB identity; stale ones are dropped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'announce-'));
  const tty = join(dir, 'ttyV');
  writeFileSync(tty, '');
  const withdraw = announcePort(tty, { serialNumber: 'ABC123', vendorId: 'f055', productId: '9802' });
  // A process that died without withdrawing its port.
  const stale = join(virtualPortsDir(), '999999999-ttyGone.json');
  writeFileSync(stale, JSON.stringify({ path: tty, pid: 999_999_999, serialNumber: 'DEAD' }));
  try {
    const boards = await listBoards();
    const mine = boards.find((b) => b.serialNumber === 'ABC123');
    assert.equal(mine?.path, tty);
    assert.equal(mine?.likely, true);
    assert.equal(mine?.name, 'MicroPython board');
    assert.equal(
      boards.some((b) => b.serialNumber === 'DEAD'),
      false,
    );
    assert.equal(existsSync(stale), false, 'the stale announcement is removed');
  } finally {
    withdraw();
  }
  assert.equal(
    (await listBoards()).some((b) => b.serialNumber === 'ABC123'),
    false,
    'withdrawn',
  );
});

test('a board announced under another OTA_PORTS_DIR (another test, another checkout) is not listed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'announce-'));
  const tty = join(dir, 'ttyElsewhere');
  writeFileSync(tty, '');
  const mine = process.env.OTA_PORTS_DIR;
  process.env.OTA_PORTS_DIR = join(dir, 'ports');
  const withdraw = announcePort(tty, { serialNumber: 'ELSEWHERE', vendorId: 'f055', productId: '9802' });
  const listed = async () => (await listBoards()).some((b) => b.serialNumber === 'ELSEWHERE');
  try {
    assert.equal(await listed(), true, 'listed where it was announced');
    if (mine === undefined) delete process.env.OTA_PORTS_DIR;
    else process.env.OTA_PORTS_DIR = mine;
    assert.equal(await listed(), false, 'not listed here');
  } finally {
    withdraw();
    if (mine === undefined) delete process.env.OTA_PORTS_DIR;
    else process.env.OTA_PORTS_DIR = mine;
  }
});
