# Ed25519 signature verification (RFC 8032) in pure MicroPython, with the
# SHA-512 it needs (MicroPython's hashlib has none). Slow on a board: see
# README "On the board" for the measured time. Every 64-bit word and field
# element is a big integer, so each step makes garbage: it is collected every
# few rounds, so the peak stays small (bench/updater.bench.ts measures it).
import gc
import struct

_M64 = 0xFFFFFFFFFFFFFFFF
# SHA-512 round constants, four a line as FIPS 180-4 prints them.
# fmt: off
_K = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC,
    0x3956C25BF348B538, 0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118,
    0xD807AA98A3030242, 0x12835B0145706FBE, 0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2,
    0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235, 0xC19BF174CF692694,
    0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5,
    0x983E5152EE66DFAB, 0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4,
    0xC6E00BF33DA88FC2, 0xD5A79147930AA725, 0x06CA6351E003826F, 0x142929670A0E6E70,
    0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED, 0x53380D139D95B3DF,
    0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30,
    0xD192E819D6EF5218, 0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8,
    0x19A4C116B8D2D0C8, 0x1E376C085141AB53, 0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8,
    0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373, 0x682E6FF3D6B2B8A3,
    0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B,
    0xCA273ECEEA26619C, 0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178,
    0x06F067AA72176FBA, 0x0A637DC5A2C898A6, 0x113F9804BEF90DAE, 0x1B710B35131C471B,
    0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC, 0x431D67C49C100D4C,
    0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)
# fmt: on


def _r(x, n):
    return ((x >> n) | (x << (64 - n))) & _M64


class Sha512:
    # Streaming: a manifest is hashed from flash in pieces, never whole in RAM.
    def __init__(self, data=None):
        self.h = [
            0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
            0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
        ]
        self.w = [0] * 80
        self.buf = b""
        self.n = 0
        if data:
            self.update(data)

    def update(self, data):
        self.n += len(data)
        b = self.buf + bytes(data)
        off = 0
        while len(b) - off >= 128:
            self._block(b, off)
            off += 128
        self.buf = b[off:]

    def digest(self):
        n = self.n
        tail = self.buf + b"\x80" + bytes((111 - n) % 128) + struct.pack(">QQ", 0, n * 8)
        for off in range(0, len(tail), 128):
            self._block(tail, off)
        self.buf = b""
        return b"".join(struct.pack(">Q", x) for x in self.h)

    def _block(self, blk, off):
        w = self.w
        h = self.h
        for i in range(16):
            w[i] = struct.unpack_from(">Q", blk, off + i * 8)[0]
        for i in range(16, 80):
            if i & 15 == 0:
                gc.collect()
            a, b = w[i - 15], w[i - 2]
            s0 = _r(a, 1) ^ _r(a, 8) ^ (a >> 7)
            s1 = _r(b, 19) ^ _r(b, 61) ^ (b >> 6)
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & _M64
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            if i & 7 == 0:
                gc.collect()
            t1 = (hh + (_r(e, 14) ^ _r(e, 18) ^ _r(e, 41)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & _M64
            t2 = ((_r(a, 28) ^ _r(a, 34) ^ _r(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))) & _M64
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M64, c, b, a, (t1 + t2) & _M64
        self.h = [(x + y) & _M64 for x, y in zip(h, (a, b, c, d, e, f, g, hh))]


def sha512(msg):
    return Sha512(msg).digest()


_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)


def _add(p1, p2):
    # Extended twisted Edwards coordinates (RFC 8032, section 5.1.4).
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _decode(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    xx = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(xx, (_P + 3) // 8, _P)
    if (x * x - xx) % _P:
        x = x * _I % _P
    if (x * x - xx) % _P:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


_B = _decode(bytes([0x58] + [0x66] * 31))


def verify(pub, sig, msg):
    # [S]B == R + [k]A, computed as [S]B + [k](-A) == R with one shared
    # double-and-add loop (Shamir's trick). msg: bytes, or feed(h), which
    # passes the message to h.update in pieces.
    if len(sig) != 64:
        return False
    a = _decode(bytes(pub))
    r = _decode(bytes(sig[:32]))
    s = int.from_bytes(bytes(sig[32:]), "little")
    if a is None or r is None or s >= _L:
        return False
    h = Sha512(bytes(sig[:32]) + bytes(pub))
    if callable(msg):
        msg(h)
    else:
        h.update(msg)
    k = int.from_bytes(h.digest(), "little") % _L
    na = ((_P - a[0]) % _P, a[1], 1, (_P - a[3]) % _P)
    both = _add(_B, na)
    q = (0, 1, 1, 0)
    for i in range(255, -1, -1):
        if i & 3 == 0:
            gc.collect()
        q = _add(q, q)
        bs, bk = (s >> i) & 1, (k >> i) & 1
        if bs and bk:
            q = _add(q, both)
        elif bs:
            q = _add(q, _B)
        elif bk:
            q = _add(q, na)
    x, y, z, _ = q
    return (x - r[0] * z) % _P == 0 and (y - r[1] * z) % _P == 0
