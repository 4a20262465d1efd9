# binascii as ports build it: C code (extmod/modbinascii.c), here JavaScript working on the Python buffers
# in place. The wasm build's own binascii is micropython-lib's pure-Python one, ~100x slower than any
# board's, which would make the board's speed profile wrong for the host's choice of encoding.
import _board, uctypes


def _buf(data):
    return data.encode() if isinstance(data, str) else data


def _addr(data):
    return uctypes.addressof(data) if len(data) else 0


def _done(out, n):
    return bytes(out) if n == len(out) else bytes(memoryview(out)[:n])


def a2b_base64(data):
    data = _buf(data)
    out = bytearray(len(data) * 3 // 4 + 1)
    n = _board.b64_decode(_addr(data), len(data), _addr(out))
    if n < 0:
        raise ValueError("incorrect padding")
    return _done(out, n)


def b2a_base64(data, *, newline=True):
    data = _buf(data)
    n = len(data)
    out = bytearray((((n - 1) // 3 + 1) * 4 if n else 0) + (1 if newline else 0))
    _board.b64_encode(_addr(data), n, _addr(out), bool(newline))
    return bytes(out)


def hexlify(data, sep=None):
    data = _buf(data)
    n = len(data)
    if sep is not None:
        sep = _buf(sep)
        if len(sep) != 1:
            raise ValueError("sep must be length 1.")
    out = bytearray(2 * n + (n - 1 if sep is not None and n else 0))
    _board.hexlify(_addr(data), n, _addr(out), -1 if sep is None else sep[0])
    return bytes(out)


def unhexlify(data):
    return bytes.fromhex(data)


def crc32(data, value=0):
    data = _buf(data)
    return int(_board.crc32(_addr(data), len(data), value & 0xFFFFFFFF))
