# The helpers the host runs once per session in the board's raw REPL globals
# (src/core/serial/board-helpers.ts sends this file, comments and indentation
# stripped). Names start with _ota_ to stay out of the user's way. Everything
# streams through small buffers: boards have about 100 KB of heap.
# The protocol they speak is in docs/protocols.md, "Serial".
import os
import sys
import gc
import binascii as _ota_binascii
import hashlib as _ota_hashlib
from micropython import const

try:
    import deflate as _ota_deflate
    import io as _ota_io
except ImportError:
    _ota_deflate = None

# Largest encoded block _ota_receive reads at once: STREAM_BLOCK on the host.
_OTA_BLOCK = const(4096)
_OTA_DIR = const(0x4000)


def _ota_sha256(p):
    # Hex SHA-256 of a file, read in 512-byte pieces.
    h = _ota_hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    f = open(p, "rb")
    while 1:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return _ota_binascii.hexlify(h.digest()).decode()


def _ota_join(d, n):
    return d + n if d.endswith("/") else d + "/" + n


def _ota_list(d, h):
    # Recursive listing: lines "D 0 - /dir" and "F size sha256|- /path".
    for e in os.ilistdir(d):
        p = _ota_join(d, e[0])
        if e[1] & _OTA_DIR:
            print("D 0 -", p)
            _ota_list(p, h)
        else:
            print("F", os.stat(p)[6], _ota_sha256(p) if h else "-", p)


def _ota_stat(ps):
    # For each path a line "size sha256 path" ("-" for a folder's hash), or "- - path" when missing.
    for p in ps:
        try:
            s = os.stat(p)
            print(s[6], "-" if s[0] & _OTA_DIR else _ota_sha256(p), p)
        except OSError:
            print("- -", p)


def _ota_mkdirs(p):
    q = ""
    for s in p.split("/"):
        if s:
            q += "/" + s
            try:
                os.mkdir(q)
            except OSError:
                if not os.stat(q)[0] & _OTA_DIR:
                    raise


def _ota_remove(p):
    # rm -r; a missing path is fine.
    try:
        m = os.stat(p)[0]
    except OSError:
        return
    if m & _OTA_DIR:
        for e in list(os.ilistdir(p)):
            _ota_remove(_ota_join(p, e[0]))
        os.rmdir(p)
    else:
        os.remove(p)


# A file is written as: _ota_open(temp), chunks, then _ota_commit(temp, path, sha256).
def _ota_open(t):
    global _ota_file
    _ota_file = open(t, "wb")


def _ota_write_b64(s):
    _ota_file.write(_ota_binascii.a2b_base64(s))


def _ota_write_b64_deflated(s):
    data = _ota_binascii.a2b_base64(s)
    _ota_file.write(_ota_deflate.DeflateIO(_ota_io.BytesIO(data), _ota_deflate.RAW, 12).read())


def _ota_write_hex(s):
    _ota_file.write(bytes.fromhex(s))


def _ota_write_hex_deflated(s):
    data = bytes.fromhex(s)
    _ota_file.write(_ota_deflate.DeflateIO(_ota_io.BytesIO(data), _ota_deflate.RAW, 12).read())


def _ota_commit(t, p, h):
    # Only what reached flash counts: its hash is checked before it replaces p.
    _ota_file.close()
    g = _ota_sha256(t)
    if g != h:
        os.remove(t)
        raise OSError("sha256 mismatch writing " + p + ": " + g)
    os.rename(t, p)


def _ota_read_exactly(s, v):
    j = 0
    while j < len(v):
        j += s.readinto(v[j:])


def _ota_receive(t, p, n, h, c):
    # Streams n raw bytes from sys.stdin.buffer into t, then commits it. The board prints ACK (0x06)
    # when it waits for a block; the host then sends c encoded bytes and 4 hex digits, the next
    # block's c, read in one go so the board is never busy while bytes arrive. 0x10 comes as 10 11
    # and 0x03 as 10 12, so no data byte is a Ctrl-C.
    global _ota_file
    s = sys.stdin.buffer
    b = bytearray(_OTA_BLOCK + 4)
    m = memoryview(b)
    k = 0
    i = 0
    _ota_file = open(t, "wb")
    while k < n:
        # Each block leaves ~3 blocks of garbage: collect often, so 4 KB stays free in one piece.
        if not i & 3:
            gc.collect()
        i += 1
        sys.stdout.write("\x06")
        _ota_read_exactly(s, m[: c + 4])
        x = bytes(m[:c])
        c = int(bytes(m[c : c + 4]), 16)
        if b"\x10" in x:
            x = x.replace(b"\x10\x12", b"\x03").replace(b"\x10\x11", b"\x10")
        _ota_file.write(x)
        k += len(x)
    _ota_commit(t, p, h)


def _ota_print_range(p, o, k, x):
    # Prints k bytes of a file from offset o, as hex (x) or base64 lines.
    b = bytearray(384)
    m = memoryview(b)
    f = open(p, "rb")
    f.seek(o)
    while k > 0:
        n = f.readinto(m[: min(k, 384)])
        if not n:
            break
        k -= n
        print(bytes(m[:n]).hex() if x else _ota_binascii.b2a_base64(m[:n]).decode().strip())
    f.close()


# Three flags for the host: deflate.DeflateIO present; sys.stdin.buffer present (raw streaming);
# binascii is micropython-lib's pure-Python one (its tables give it away) while bytes.fromhex is
# native, so hex decodes ~100x faster than base64, which outweighs its size on the wire.
print(
    1 if _ota_deflate and hasattr(_ota_deflate, "DeflateIO") else 0,
    1 if hasattr(sys.stdin, "buffer") else 0,
    1 if hasattr(_ota_binascii, "table_a2b_base64") and hasattr(bytes, "fromhex") else 0,
)
