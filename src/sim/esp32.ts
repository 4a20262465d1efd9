// The virtual board's `esp32` module: esp32.Partition as MicroPython documents it (docs/library/esp32.rst)
// over the host files of ./partitions. The Python class mirrors ports/esp32/esp32_partition.c; the host
// side does the flash: writeblocks without an offset erases the sectors first, with an offset it programs
// over what is there (NOR flash: bits only go from 1 to 0). Every write, erase, set_boot() and
// mark_app_valid_cancel_rollback() is one flash mutation for power-cut injection. Runs in the worker.
import * as fs from 'node:fs';
import {
  OTA_LABELS,
  SECTOR,
  otherSlot,
  partitionFile,
  readOtaData,
  writeOtaData,
  type PartitionTable,
} from './partitions';

/** ESP-IDF error codes as check_esp_err() raises them: OSError(-code, name). */
const ESP_FAIL = -1;
const ESP_ERR_INVALID_ARG = -0x102;
const ESP_ERR_INVALID_SIZE = -0x104;

/** The `_board` functions behind esp32.Partition; buffers move by address, as the socket's do. */
export function partitionBridge(
  t: PartitionTable,
  running: string,
  heap: () => Uint8Array,
  mutated: () => void,
): Record<string, unknown> {
  const size = t.sizeKb * 1024;
  const known = (label: string): boolean => (OTA_LABELS as readonly string[]).includes(label);
  const inRange = (off: number, n: number): boolean => off >= 0 && n >= 0 && off + n <= size;
  const erase = (label: string, off: number, n: number): number => {
    if (off % SECTOR || n % SECTOR) return ESP_ERR_INVALID_SIZE;
    const fd = fs.openSync(partitionFile(t, label), 'r+');
    try {
      fs.writeSync(fd, Buffer.alloc(n, 0xff), 0, n, off);
    } finally {
      fs.closeSync(fd);
    }
    return 0;
  };
  return {
    part_size: () => size,
    part_running: () => running,
    part_boot: () => readOtaData(t).boot,
    part_next: (label: string) => otherSlot(label),
    part_read(label: string, off: number, addr: number, n: number): number {
      if (!known(label) || !inRange(off, n)) return ESP_ERR_INVALID_SIZE;
      const fd = fs.openSync(partitionFile(t, label), 'r');
      try {
        fs.readSync(fd, heap(), addr, n, off);
      } finally {
        fs.closeSync(fd);
      }
      return 0;
    },
    part_write(label: string, off: number, addr: number, n: number, eraseFirst: boolean): number {
      if (!known(label) || !inRange(off, n)) return ESP_ERR_INVALID_SIZE;
      if (eraseFirst) {
        const r = erase(label, off, n);
        if (r) return r;
      }
      const fd = fs.openSync(partitionFile(t, label), 'r+');
      try {
        const was = Buffer.alloc(n);
        fs.readSync(fd, was, 0, n, off);
        const data = heap().subarray(addr, addr + n);
        for (let i = 0; i < n; i++) was[i] &= data[i];
        fs.writeSync(fd, was, 0, n, off);
      } finally {
        fs.closeSync(fd);
      }
      mutated();
      return 0;
    },
    part_erase(label: string, off: number, n: number): number {
      if (!known(label) || !inRange(off, n)) return ESP_ERR_INVALID_SIZE;
      const r = erase(label, off, n);
      if (!r) mutated();
      return r;
    },
    part_set_boot(label: string): number {
      if (!known(label)) return ESP_ERR_INVALID_ARG;
      // esp_ota_set_boot_partition with rollback enabled: the image is "new" until it has run once.
      writeOtaData(t, { boot: label, state: 'new' });
      mutated();
      return 0;
    },
    part_mark_valid(): number {
      // esp_ota_mark_app_valid_cancel_rollback: fails unless the running image is the one set to boot.
      const d = readOtaData(t);
      if (d.boot !== running) return ESP_FAIL;
      if (d.state !== 'valid') {
        writeOtaData(t, { boot: d.boot, state: 'valid' });
        mutated();
      }
      return 0;
    },
  };
}

export const esp32Module = `
import _board, uctypes
_NAMES = {-1: 'ESP_FAIL', -258: 'ESP_ERR_INVALID_ARG', -260: 'ESP_ERR_INVALID_SIZE'}
def _check(r):
    if r < 0:
        raise OSError(-r, _NAMES.get(r, 'ESP_FAIL'))
class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1
    def __init__(self, id, block_size=4096):
        if isinstance(id, int):
            if id == 0:
                id = _board.part_boot()
            elif id == 1:
                id = _board.part_running()
            else:
                raise ValueError
        if id not in ('ota_0', 'ota_1'):
            raise OSError(2)
        self._label = id
        self._bs = block_size
        self._size = _board.part_size()
    @staticmethod
    def find(type=0, subtype=255, label=None, block_size=4096):
        out = []
        for i, l in enumerate(('ota_0', 'ota_1')):
            if type == 0 and subtype in (255, 16 + i) and label in (None, l):
                out.append(Partition(l, block_size))
        return out
    def info(self):
        i = 0 if self._label == 'ota_0' else 1
        return (0, 16 + i, 65536 + i * self._size, self._size, self._label, False)
    def readblocks(self, block_num, buf, offset=0):
        _check(_board.part_read(self._label, block_num * self._bs + offset, uctypes.addressof(buf), len(buf)))
    def writeblocks(self, block_num, buf, offset=None):
        off = block_num * self._bs + (offset or 0)
        _check(_board.part_write(self._label, off, uctypes.addressof(buf), len(buf), offset is None))
    def ioctl(self, cmd, arg):
        if cmd in (1, 2, 3):
            return 0
        if cmd == 4:
            return self._size // self._bs
        if cmd == 5:
            return self._bs
        if cmd == 6:
            _check(_board.part_erase(self._label, arg * self._bs, self._bs))
            return 0
        return None
    def set_boot(self):
        _check(_board.part_set_boot(self._label))
    def get_next_update(self):
        return Partition(_board.part_next(self._label), self._bs)
    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        _check(_board.part_mark_valid())
    def __repr__(self):
        t = self.info()
        return '<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=%d>' % t
`;
