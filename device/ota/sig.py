# Detached manifest signatures over the exact downloaded bytes (docs/protocols.md).
import json
import hashlib
import binascii
from ota.log import Fail

# DER DigestInfo prefix of SHA-256, for RSA PKCS#1 v1.5.
_DI = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


def _eq(a, b):
    # Compares without an early exit.
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


def feeder(msg):
    # feed(h): passes the message to h.update, bytes at once or a file (a path) in pieces.
    def feed(h):
        if not isinstance(msg, str):
            h.update(msg)
            return
        from ota import fsx

        fsx.feed(msg, h, bytearray(512))

    return feed


def hmac_sha256(key, msg):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key))
    feeder(msg)(inner)
    outer = hashlib.sha256(bytes(k ^ 0x5C for k in key))
    outer.update(inner.digest())
    return outer.digest()


def rsa_ok(n_bytes, sig, msg):
    n = int.from_bytes(n_bytes, "big")
    k = len(n_bytes)
    s = int.from_bytes(sig, "big")
    if len(sig) != k or s >= n:
        return False
    em = pow(s, 65537, n).to_bytes(k, "big")
    hh = hashlib.sha256()
    feeder(msg)(hh)
    h = hh.digest()
    want = b"\x00\x01" + b"\xff" * (k - 3 - len(_DI) - 32) + b"\x00" + _DI + h
    return _eq(em, want)


def verify(keys, sig_bytes, msg):
    # keys: config "keys"; sig_bytes: manifest.json.sig or None; msg: the
    # manifest's bytes, or the path of the file holding them. Without a
    # "keys" entry nothing is required (the updater checks that an empty list
    # is refused as a config error); with keys, one must verify the bytes.
    if keys is None:
        return None
    if not keys:
        raise Fail("bad_config", "keys is empty")
    if sig_bytes is None:
        raise Fail("no_signature", "a signature is required and none was published")
    try:
        s = json.loads(sig_bytes)
        alg, kid, sig = s["alg"], s["key"], binascii.a2b_base64(s["sig"].encode())
    except (ValueError, KeyError, TypeError):
        raise Fail("bad_signature", "signature file is malformed")
    for k in keys:
        if k.get("alg") != alg or k.get("id") != kid:
            continue
        try:
            key = binascii.a2b_base64(str(k.get("key") or "").encode())
        except ValueError:
            key = b""
        if not key:
            raise Fail("bad_config", "key %s has no key material" % kid[:40])
        if alg == "hmac-sha256":
            ok = _eq(hmac_sha256(key, msg), sig)
        elif alg == "rsa-sha256":
            ok = rsa_ok(key, sig, msg)
        elif alg == "ed25519":
            from ota import ed25519

            ok = ed25519.verify(key, sig, feeder(msg))
        else:
            ok = False
        if ok:
            return kid
        raise Fail("bad_signature", "signature does not match key " + kid[:40])
    raise Fail("bad_signature", "no configured key %s/%s" % (alg, kid[:40]))
