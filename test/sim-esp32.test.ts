// The virtual board's esp32.Partition against MicroPython's documented API (docs/library/esp32.rst and
// ports/esp32/esp32_partition.c): table, block I/O with flash semantics, errors, mutation counting, and
// the bootloader's ESP-IDF rollback rules across resets.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBoard } from '../src/sim/board';
import { readOtaData } from '../src/sim/partitions';
import { cleanup, tempDir } from './support/release-fixture';

const dirs: string[] = [];
after(() => cleanup(...dirs));

function fresh(): string {
  const d = tempDir('esp32');
  dirs.push(d, `${d}.partitions`);
  return d;
}

const API = `
from esp32 import Partition
r = Partition(Partition.RUNNING)
print(r.info(), Partition(Partition.BOOT).info()[4])
n = r.get_next_update()
print(n.info()[4], n.ioctl(4, 0), n.ioctl(5, 0), [p.info()[4] for p in Partition.find(Partition.TYPE_APP)])
print(len(Partition.find(Partition.TYPE_DATA)), [p.info()[4] for p in Partition.find(label='ota_1')])
b = bytearray(4096)
for i in range(4096):
    b[i] = 0x0F
n.writeblocks(1, b)
n.writeblocks(1, bytearray(b'\\xf0\\xff'), 0)
c = bytearray(4)
n.readblocks(1, c)
print('nor', c.hex())
n.writeblocks(1, bytearray(b'\\xaa' * 4096))
n.readblocks(1, c, 4092)
print('erased-then-written', c.hex())
n.ioctl(6, 1)
n.readblocks(1, c)
print('erase', c.hex())
for f in (lambda: n.writeblocks(16, b), lambda: n.readblocks(15, c, 4093), lambda: Partition('nvs')):
    try:
        f()
    except OSError as e:
        print('OSError', e.args[0])
try:
    Partition.mark_app_valid_cancel_rollback()
    print('valid ok')
except OSError as e:
    print('mark', e.args)
n.set_boot()
print('boot', Partition(Partition.BOOT).info()[4], 'running', Partition(Partition.RUNNING).info()[4])
try:
    Partition.mark_app_valid_cancel_rollback()
except OSError as e:
    print('mark', e.args)
`;

test('esp32.Partition: table, NOR writes, erase, errors; every write, erase and set_boot is a mutation', async () => {
  const fsDir = fresh();
  const r = await runBoard({ fsDir, code: API, partitions: { sizeKb: 64 } });
  assert.equal(r.error, undefined, r.output);
  const lines = r.output.trim().split(/\r?\n/);
  assert.deepEqual(lines, [
    "(0, 16, 65536, 65536, 'ota_0', False) ota_0",
    "ota_1 16 4096 ['ota_0', 'ota_1']",
    "0 ['ota_1']",
    'nor 000f0f0f',
    'erased-then-written aaaaaaaa',
    'erase ffffffff',
    'OSError 260',
    'OSError 260',
    'OSError 2',
    'valid ok',
    'boot ota_1 running ota_0',
    "mark (1, 'ESP_FAIL')",
  ]);
  // writeblocks x3, ioctl erase, set_boot (mark_app_valid on a valid image writes nothing).
  assert.equal(r.mutations, 5);
  assert.equal(r.running, 'ota_0');
  const ota1 = readFileSync(join(`${fsDir}.partitions`, 'ota_1.bin'));
  assert.equal(ota1.length, 64 * 1024);
  assert.ok(ota1.subarray(4096, 8192).every((x) => x === 0xff));
});

test('bootloader: a new image runs once pending verify, then rolls back unless marked valid', async () => {
  const fsDir = fresh();
  const t = { dir: `${fsDir}.partitions`, sizeKb: 64 };
  const setBoot =
    'from esp32 import Partition\nPartition("ota_1").set_boot()\nimport machine\nmachine.reset()\n';
  const running = 'from esp32 import Partition\nprint(Partition(Partition.RUNNING).info()[4])\n';
  let r = await runBoard({ fsDir, code: setBoot, partitions: { sizeKb: 64 } });
  assert.equal(r.running, 'ota_1');
  assert.deepEqual(readOtaData(t), { boot: 'ota_1', state: 'pending_verify' });
  r = await runBoard({ fsDir, code: running, partitions: { sizeKb: 64 } });
  assert.equal(r.output.trim(), 'ota_0', 'reset without confirmation: back to the old image');
  assert.deepEqual(readOtaData(t), { boot: 'ota_0', state: 'valid' });
  // The new image's boot.py confirms it on its first boot.
  writeFileSync(
    join(fsDir, 'boot.py'),
    'from esp32 import Partition\nPartition.mark_app_valid_cancel_rollback()\n',
  );
  r = await runBoard({ fsDir, code: setBoot, partitions: { sizeKb: 64 } });
  assert.equal(r.error, undefined, r.output);
  assert.equal(r.running, 'ota_1');
  assert.deepEqual(readOtaData(t), { boot: 'ota_1', state: 'valid' });
  r = await runBoard({ fsDir, code: running, partitions: { sizeKb: 64 } });
  assert.equal(r.output.trim(), 'ota_1', 'confirmed: stays');
});

test('without partitions the board has no esp32 module (as an RP2040)', async () => {
  const r = await runBoard({ fsDir: fresh(), code: 'import esp32\n' });
  assert.match(r.error ?? '', /ImportError/);
  assert.equal(r.running, undefined);
});
