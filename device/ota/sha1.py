# SHA-1 for git blob ids: hashlib's where the port has it, else the pure
# Python one in ota.sha1py (imported only then).
try:
    from hashlib import sha1 as _native
except ImportError:
    _native = None


native = _native is not None


def new():
    if _native:
        return _native()
    from ota.sha1py import Sha1

    return Sha1()


def blob(size):
    # A hasher primed with git's blob header: its digest is `git hash-object`.
    h = new()
    h.update(b"blob %d\x00" % size)
    return h
