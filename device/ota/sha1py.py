# Pure-Python SHA-1, for ports built without hashlib.sha1. On 32-bit ports
# a 32-bit word is a big integer, so every round makes garbage: collected
# twice a block.
import gc
import struct

_M = 0xFFFFFFFF


def _rol(x, n):
    return ((x << n) | (x >> (32 - n))) & _M


class Sha1:
    def __init__(self):
        self._h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        self._buf = bytearray(64)
        self._n = 0
        self._len = 0
        self._w = [0] * 80

    def _block(self, b):
        gc.collect()
        w = self._w
        for i in range(16):
            w[i] = struct.unpack_from(">I", b, i * 4)[0]
        for i in range(16, 80):
            w[i] = _rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)
        a, bb, c, d, e = self._h
        for i in range(80):
            if i == 40:
                gc.collect()
            if i < 20:
                f = (bb & c) | (~bb & d)
                k = 0x5A827999
            elif i < 40:
                f = bb ^ c ^ d
                k = 0x6ED9EBA1
            elif i < 60:
                f = (bb & c) | (bb & d) | (c & d)
                k = 0x8F1BBCDC
            else:
                f = bb ^ c ^ d
                k = 0xCA62C1D6
            t = (_rol(a, 5) + (f & _M) + e + k + w[i]) & _M
            e = d
            d = c
            c = _rol(bb, 30)
            bb = a
            a = t
        h = self._h
        h[0] = (h[0] + a) & _M
        h[1] = (h[1] + bb) & _M
        h[2] = (h[2] + c) & _M
        h[3] = (h[3] + d) & _M
        h[4] = (h[4] + e) & _M

    def update(self, data):
        buf = self._buf
        self._len += len(data)
        i = 0
        n = len(data)
        while i < n:
            k = min(64 - self._n, n - i)
            buf[self._n : self._n + k] = data[i : i + k]
            self._n += k
            i += k
            if self._n == 64:
                self._block(buf)
                self._n = 0

    def digest(self):
        bits = self._len * 8
        self.update(b"\x80" + bytes((55 - self._len) % 64))
        self.update(struct.pack(">Q", bits))
        return struct.pack(">IIIII", *self._h)
