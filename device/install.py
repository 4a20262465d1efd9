# Finishes `ota install` (docs/updater-swap.md, "Updating the updater"): the
# host staged the new updater under .ota/pkg/ and wrote the marker
# .ota/install.json ({"files": {path: sha256}, "remove": [path]}) last. This
# copies every staged file whose live copy differs over it, in place and read
# back, removes the files the new updater no longer has, then the marker and
# itself. boot.py runs it before `import ota`, so a half-installed updater
# never runs; the host runs it right after staging. Needs nothing from ota/.
# `ota push` runs the same function (the serial helpers carry it) with its own
# marker and stage, and X None.
def _ota_install(M=".ota/install.json", S=".ota/pkg/", X=".ota/install.py"):
    import os
    import json
    import hashlib
    import binascii
    import gc

    buf = bytearray(512)
    mv = memoryview(buf)

    def pump(p, put):
        # Every byte of file p, a buffer at a time, to put (a hash's update, a file's write).
        with open(p, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    return
                put(mv[:n])

    def sha(p):
        h = hashlib.sha256()
        try:
            pump(p, h.update)
        except OSError:
            return None
        return binascii.hexlify(h.digest()).decode()

    def rm(p):
        try:
            os.remove(p)
        except OSError:
            pass

    try:
        with open(M) as f:
            m = json.load(f)
    except OSError:
        m = None
    except ValueError:
        m = None  # cut while the marker was written: no live file was touched yet
    if m is not None:
        k = 0
        for p, want in m["files"].items():
            # Each file leaves buffers behind: collect every 8 (some ports only collect when asked).
            k += 1
            if not k & 7:
                gc.collect()
            if sha(p) == want:
                continue
            if sha(S + p) != want:
                raise RuntimeError("ota install: staged %s is damaged; run ota install again" % p)
            i = p.find("/", 1)
            while i > 0:
                try:
                    os.mkdir(p[:i])
                except OSError:
                    pass
                i = p.find("/", i + 1)
            with open(p, "wb") as d:
                pump(S + p, d.write)
            if sha(p) != want:
                raise RuntimeError("ota install: %s does not read back as written" % p)
        for p in m["remove"]:
            rm(p)
    rm(M)
    if X is not None:
        rm(X)


_ota_install()
del _ota_install
