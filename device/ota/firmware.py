# Firmware image OTA on ESP32 (esp32.Partition): the image streams into the
# next OTA partition block by block, is hashed as it goes and read back; the
# journaled swap makes it the boot partition (activate) together with the
# app files, and ota.confirm() cancels the bootloader's rollback.
import hashlib
import binascii
from micropython import const
from ota.log import Fail, ev

_BLOCK = const(4096)


def _partition():
    try:
        from esp32 import Partition
    except ImportError:
        raise Fail("no_firmware", "this board has no OTA partitions (esp32.Partition)")
    return Partition


def check(fw):
    # Before anything is downloaded: OTA partitions exist and the image fits.
    Partition = _partition()
    part = Partition(Partition.RUNNING).get_next_update()
    if fw["size"] > part.ioctl(4, 0) * _BLOCK:
        raise Fail("no_space", "firmware is %d bytes, the OTA partition %d" % (fw["size"], part.ioctl(4, 0) * _BLOCK))


def running():
    # Label of the partition the bootloader started.
    Partition = _partition()
    return Partition(Partition.RUNNING).info()[4]


def write(rel, fw):
    # fw: the manifest's {"name", "size", "sha256"}; returns the labels of
    # the written partition and of the running one (for a rollback).
    check(fw)
    Partition = _partition()
    cur = Partition(Partition.RUNNING)
    part = cur.get_next_update()
    buf = bytearray(_BLOCK)
    mv = memoryview(buf)
    h = hashlib.sha256()
    r = rel.get(rel.bundle_url(fw), rel.headers(None))
    with r:
        done = 0
        block = 0
        while done < fw["size"]:
            n = 0
            while n < _BLOCK and done + n < fw["size"]:
                k = r.readinto(mv[n : min(_BLOCK, fw["size"] - done)])
                if not k:
                    raise Fail("network", "firmware cut at %d bytes" % (done + n))
                n += k
            h.update(mv[:n])
            for i in range(n, _BLOCK):
                buf[i] = 0xFF
            part.writeblocks(block, buf)
            block += 1
            done += n
            if block % 64 == 0 or done == fw["size"]:
                ev("progress", file=fw["name"], done=done, total=fw["size"])
    if binascii.hexlify(h.digest()).decode() != fw["sha256"]:
        raise Fail("hash_mismatch", "firmware image does not match the manifest")
    # Read back what the flash holds before booting from it.
    h = hashlib.sha256()
    left = fw["size"]
    for b in range(block):
        part.readblocks(b, buf)
        h.update(mv[: min(_BLOCK, left)])
        left -= _BLOCK
    if binascii.hexlify(h.digest()).decode() != fw["sha256"]:
        raise Fail("hash_mismatch", "firmware partition reads back wrong")
    ev("verified", firmware=fw["name"])
    return part.info()[4], cur.info()[4]


def confirm():
    # Keeps the running image (cancels the bootloader's automatic rollback).
    try:
        from esp32 import Partition

        Partition.mark_app_valid_cancel_rollback()
    except (ImportError, OSError):
        pass


def activate(label):
    # The image in partition `label` boots at the next reset. Already set to
    # boot (a repeated step after a power cut, or the bootloader's own
    # rollback): left alone, since set_boot() would mark it untried again.
    Partition = _partition()
    if Partition(Partition.BOOT).info()[4] != label:
        Partition(label).set_boot()
