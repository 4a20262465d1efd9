# Finishes `ota install` (docs/updater-swap.md, "Updating the updater"): the
# host staged the new updater under .ota/pkg/ and wrote the marker
# .ota/install.json ({"files": {path: sha256}, "remove": [path]}) last. This
# copies every staged file whose live copy differs over it, in place and read
# back, removes the files the new updater no longer has, then the marker and
# itself. boot.py goes first, renamed over the old one where a rename is one
# step (_ota_swaps): it is what finishes the rest at the next boot.
# boot.py runs it before `import ota`, so a half-installed updater never runs;
# the host runs it right after staging. Needs nothing from ota/.
#
# It also finishes or undoes an interrupted `ota push` (_ota_recover,
# docs/protocols.md, "Serial"): a push keeps a copy of this file as
# .ota/recover.py, which boot.py (and ota.boot()) runs before any user code
# while the push's marker or new-file list is there; the serial helpers run
# the same copy to finish each push (src/core/serial/board-helpers.ts), so one
# copy routine serves the updater's install, a push, and both recoveries.

# Largest push marker or new-file list read (bytes): bounds the RAM json takes.
_OTA_MARK_MAX = 32768
# The files in /.ota that say a push (its marker, its new-file list) or the
# copy of boot.py's lines (its marker) was cut short, for this file to finish.
# The one list: the serial helpers get it from here (src/core/serial/board-helpers.ts),
# and boot.py's lines (below) and ota.boot() name the first two, checked by the host.
_OTA_MARKS = ("push.json", "push.new", "hook.json")
# boot.py's lines that run this file (src/core/serial/install.ts reads them from here).
_OTA_HOOK = "try: import os; {'push.json', 'push.new'} & set(os.listdir('/.ota')) and exec(open('/.ota/recover.py').read(), {})  # ota: finish or undo an interrupted ota push\nexcept OSError: pass  # ota\n"


def _ota_path_bad(p):
    # Why a path a push's marker or new-file list names is refused, or None: a
    # push writes plain absolute paths outside the reserved ones (the tuple of
    # ota/reserved.py, which a board without the updater does not have).
    if not isinstance(p, str) or len(p) > 255 or p[:1] != "/" or "\0" in p or "\\" in p:
        return "not an absolute board path"
    s = p.split("/")
    for x in s[1:]:
        if x in ("", ".", ".."):
            return "not a plain path"
    if s[1].lower() in ("ota_config.json", "version.json", "boot.py", ".ota", "ota"):
        return "a reserved path"
    return None


def _ota_try(f, *a):
    # f(*a), where an OSError means there is nothing to do (a path missing, or there already).
    try:
        f(*a)
    except OSError:
        pass


def _ota_swaps(p):
    # Whether a rename onto a file replaces it in one step, judged by the file
    # p: so on LittleFS (one commit) and POSIX, not on FAT (MicroPython's VfsFat
    # removes the target first, and a rename cut halfway cross-links two
    # entries: docs/updater-swap.md). FAT folds case; the others do not.
    import os

    try:
        os.stat(p.upper())
        return False
    except OSError:
        return True


def _ota_install(M=".ota/install.json", S=".ota/pkg/", X=".ota/install.py", N=None):
    # N: a push (its new-file list's path): the marker is checked whole before
    # anything is touched (ValueError, nothing changed), then the list goes.
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

    # A harmless write first: it completes a LittleFS move a cut left pending
    # (until then the staged files named after boot.py's read as missing,
    # docs/updater-swap.md).
    _ota_try(os.mkdir, M[: M.rfind("/")])
    try:
        if N and os.stat(M)[6] > _OTA_MARK_MAX:
            raise ValueError("is over %d bytes" % _OTA_MARK_MAX)
        with open(M) as f:
            m = json.load(f)
    except OSError:
        m = None
    except Exception as e:
        # Cut while the marker was written: no live file was touched yet.
        if N:
            raise ValueError("does not parse (%s)" % e)
        if not isinstance(e, ValueError):
            raise
        m = None
    if m is not None and N:
        fs = m.get("files") if isinstance(m, dict) else None
        rv = m.get("remove", []) if isinstance(m, dict) else None
        if not isinstance(fs, dict) or not isinstance(rv, list):
            raise ValueError("is not a push marker")
        for p in fs:
            h = fs[p]
            if not isinstance(h, str) or len(h) != 64 or h.strip("0123456789abcdef"):
                raise ValueError("has a bad hash for %s" % str(p)[:80])
        for p in list(fs) + rv:
            e = _ota_path_bad(p)
            if e:
                raise ValueError("names %s, %s" % (str(p)[:80], e))
        _ota_try(os.remove, N)  # the marker lists the new files too: from here they stay
    if m is not None:
        ps = list(m["files"])
        if "boot.py" in ps:
            ps.remove("boot.py")
            ps.insert(0, "boot.py")
        k = 0
        for p in ps:
            want = m["files"][p]
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
                _ota_try(os.mkdir, p[:i])
                i = p.find("/", i + 1)
            if p.lstrip("/") == "boot.py" and _ota_swaps(S + p):
                # What runs every recovery cannot be recovered by it: switched in one step.
                os.rename(S + p, p)
            else:
                with open(p, "wb") as d:
                    pump(S + p, d.write)
            if sha(p) != want:
                raise RuntimeError("ota install: %s does not read back as written" % p)
        for p in m["remove"]:
            _ota_try(os.remove, p)
    _ota_try(os.remove, M)
    if X is not None:
        _ota_try(os.remove, X)


def _ota_recover(v=1):
    # Finishes an `ota push` whose marker is on flash, or undoes one cut before
    # it (the files it created, listed in push.new, go; every other file is
    # still old). Each step is repeatable and push.new goes last, so a cut in
    # here is finished by the next run. A marker or list that does not parse
    # or names a path a push may not write is refused: nothing it names is
    # copied or removed. v: print what was done (at boot). Returns why a push
    # could not be finished, or None.
    import os
    import json

    M, N, H = ["/.ota/" + p for p in _OTA_MARKS]
    S = "/.ota/push"
    why = None
    try:
        # boot.py's lines, half copied (_ota_hook): its marker names boot.py and nothing else.
        with open(H) as f:
            m = json.loads(f.read(200))
        if list(m["files"]) == ["/boot.py"] and m["remove"] == []:
            _ota_install(H, "/.ota/hook", None)
    except Exception:
        pass
    for p in (H, "/.ota/hook/boot.py"):
        _ota_try(os.remove, p)
    _ota_try(os.rmdir, "/.ota/hook")
    try:
        os.stat(M)
        try:
            _ota_install(M, S + "/", None, N)
            if v:
                print("ota push: finished an interrupted push")
        except Exception as e:
            why = "ota push: the marker %s %s: refused" % (M, e)
    except OSError:
        pass
    try:
        if os.stat(N)[6] > _OTA_MARK_MAX:
            raise ValueError("is over %d bytes" % _OTA_MARK_MAX)
        with open(N) as f:
            ps = json.load(f)
        if not isinstance(ps, list):
            raise ValueError("is not a list")
        for p in ps:
            e = _ota_path_bad(p)
            if e:
                raise ValueError("names %s, %s" % (str(p)[:80], e))
        for p in ps:
            _ota_try(os.remove, p)
        if v:
            print("ota push: undid an interrupted push (%d new files removed)" % len(ps))
    except OSError:
        N = None
    except Exception as e:
        # A list cut while written was cut before any file it names was.
        why = why or "ota push: the new-file list %s %s: refused" % (N, e)
    if why:
        # The marker could not be finished (a staged copy damaged since it was checked) or was refused:
        # it goes, so the board converges; the files it named are untouched.
        _ota_try(os.remove, M)
        if v:
            print(why)

    # The stage, then the list last: until it goes, the next run undoes again.
    def rmt(p):
        try:
            if os.stat(p)[0] & 0x4000:
                for e in [e[0] for e in os.ilistdir(p)]:
                    rmt(p + "/" + e)
                os.rmdir(p)
            else:
                os.remove(p)
        except OSError:
            pass

    rmt(S)
    if N:
        _ota_try(os.remove, N)
    return why


def _ota_hook():
    # boot.py gets _OTA_HOOK in front of what it holds, unless its start has it
    # (the updater's boot.py lines include it): staged, then switched in under
    # its own marker by _ota_install, in one step where renames allow it. On
    # FAT, whose renames do not, it is copied in place: a cut in that one copy
    # (once per board) leaves boot.py torn until the next serial session
    # finishes it from the stage.
    import os
    import hashlib
    import binascii

    b = bytearray(512)
    m = memoryview(b)
    try:
        with open("/boot.py", "rb") as f:
            n = f.readinto(b)
        if b"/.ota/recover.py" in bytes(m[:n]):
            return
    except OSError:
        pass
    _ota_try(os.mkdir, "/.ota/hook")
    h = hashlib.sha256()
    with open("/.ota/hook/boot.py", "wb") as f:
        t = _OTA_HOOK.encode()
        f.write(t)
        h.update(t)
        try:
            with open("/boot.py", "rb") as g:
                while True:
                    n = g.readinto(b)
                    if not n:
                        break
                    f.write(m[:n])
                    h.update(m[:n])
        except OSError:
            pass
    with open("/.ota/" + _OTA_MARKS[2], "w") as f:
        f.write('{"files": {"/boot.py": "%s"}, "remove": []}' % binascii.hexlify(h.digest()).decode())
    _ota_recover(0)


# Run as a script: boot.py, ota.boot() and ota install run it with fresh
# globals (finish an install, then a push); the serial helpers pass _ota_do
# 0 to finish or undo a push quietly (why it could not, in _ota_why), 1 to put
# boot.py's lines in front of boot.py.
_ota_do = globals().get("_ota_do")
try:
    if _ota_do == 1:
        _ota_hook()
    elif _ota_do == 0:
        _ota_why = _ota_recover(0)
    else:
        try:
            _ota_install()
        finally:
            _ota_recover()
finally:
    # Nothing of it stays in the globals it ran in (boot.py's are main.py's); its loop name goes last.
    for _ota_do in (
        "_ota_install",
        "_ota_recover",
        "_ota_path_bad",
        "_ota_hook",
        "_ota_swaps",
        "_ota_try",
        "_OTA_MARK_MAX",
        "_OTA_MARKS",
        "_OTA_HOOK",
        "_ota_do",
    ):
        globals().pop(_ota_do, None)
