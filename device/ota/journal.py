# The journal (.ota/state.json) and the swap it protects (docs/updater-swap.md).
# The plan (.ota/plan) lists every file the swap writes or deletes, one line
# each; the journal holds the state and one position in the plan (i, ph).
# Nothing is renamed: each file is copied to .ota/backup (ph 0 -> 1), then
# the staged copy is written over it (or it is removed), each copy read back.
# A power cut repeats at most the copy it interrupted, forward or back, and
# after the swap every installed file is checked by SHA-256 before the state
# becomes confirm_pending. Any error in the swap rolls the release back whole.
from ota import fsx
from ota.log import Fail, ev

STATE = ".ota/state.json"
PLAN = ".ota/plan"
# Files of the updater's own that the swap installs with every release.
OWN = ("version.json", ".ota/files.json")
_KEYS = ("i", "ph", "hooks", "hook_done", "rb_done", "boots", "prev", "fw", "why", "mark", "version")


def load():
    st = fsx.read_json(STATE)
    if not isinstance(st, dict) or "state" not in st:
        st = {"state": "idle"}
    return st


def save(st):
    fsx.write_json(STATE, st)


def current_version():
    v = fsx.read_json("version.json")
    return v.get("version") if isinstance(v, dict) else None


def items():
    # (kind, sha256, path) per plan line: kind "P" (put: sha256 of the staged
    # bytes) or "D" (delete, sha256 "-"). One line in RAM at a time.
    try:
        f = open(fsx.p(PLAN))
    except OSError:
        return  # no plan (a journal from an updater before 0.2): nothing to swap or restore
    with f:
        while True:
            line = f.readline()
            if not line:
                return
            k, h, path = line.rstrip("\n").split(" ", 2)
            yield k, h, path


def _guard(path):
    # The swap never writes or deletes the board's reserved files, even if a
    # manifest naming one got this far (FAT folds case: compared lowered).
    from ota.reserved import reserved

    if path not in OWN and reserved(path):
        raise Fail("reserved_path", "%s is the board's, not the release's" % path[:60])


def _forward(st):
    S, B = fsx.STAGE + "/", fsx.BACKUP + "/"
    buf = bytearray(512)
    i = 0
    for k, h, path in items():
        if i >= st.get("i", 0):
            fsx.tidy(i)
            _guard(path)
            if st.get("ph", 0) == 0:
                if fsx.is_dir(path):
                    raise Fail("path_conflict", "%s is a folder on the board" % path[:60])
                if fsx.exists(path):
                    fsx.copy(path, B + path, buf)
                st["ph"] = 1
                save(st)
            if k == "D":
                fsx.remove(path)
            elif fsx.copy(S + path, path, buf) != h:
                raise Fail("verify", "staged %s does not match the release" % path[:60])
            st["i"] = i + 1
            st["ph"] = 0
            save(st)
        i += 1


def _backward(st):
    # backup -> live for every file the swap reached; files it added go, and
    # the folders the swap made for them once empty (a rolled-back board is
    # as it was, its flash room too: docs/updater-swap.md).
    B = fsx.BACKUP + "/"
    n, ph = st.get("i", 0), st.get("ph", 0)
    buf = bytearray(512)
    j = 0
    for k, h, path in items():
        if j > n or (j == n and ph == 0):
            break
        fsx.tidy(j)
        if fsx.exists(B + path):
            fsx.copy(B + path, path, buf)
        elif k == "P":
            fsx.remove(path)
            i = path.rfind("/")
            while i > 0:  # its folders left empty, deepest first; rmdir refuses one that is not
                try:
                    fsx.os.rmdir(fsx.p(path[:i]))
                except OSError:
                    break
                i = path.rfind("/", 0, i)
        j += 1


def _verify():
    # The first installed file that does not hash as the plan says, or None.
    buf = bytearray(512)
    i = 0
    for k, h, path in items():
        fsx.tidy(i)
        i += 1
        if k == "P" and (not fsx.exists(path) or fsx.sha256(path, buf) != h):
            return path
    return None


def run_hook(path):
    # Hooks are release files; a failing hook is reported, not fatal.
    if not path or not fsx.exists(path):
        return
    try:
        with open(fsx.p(path)) as f:
            src = f.read()
        exec(src, {"__name__": "ota_hook"})
    except Exception as e:  # noqa: BLE001 - any hook failure is the app's
        ev("error", code="hook", msg="%s: %r" % (path, e))


def _post_hook(st):
    if not st.get("hook_done"):
        run_hook(st.get("hooks", {}).get("post_update"))
        st["hook_done"] = True
        save(st)


def swap(st):
    # st holds version/prev/hooks/fw; the plan and every staged file are written and verified.
    st["state"] = "swapping"
    st["i"] = 0
    st["ph"] = 0
    save(st)
    ev("swap", version=st["version"])
    return finish_swap(st)


def finish_swap(st):
    # True once the release is installed and verified; False when it was rolled back.
    try:
        _forward(st)
        bad = _verify()
        if bad:
            raise Fail("verify", "%s does not match the release after the swap" % bad[:60])
    except Exception as e:  # noqa: BLE001 - whatever stops the swap, the old release comes back whole
        # The stage goes first: a full flash (io 28) has no room even for the
        # journal's next save. A cut now leaves "swapping" without a stage:
        # the next boot's forward pass fails at its first missing staged file,
        # before it touches an installed one, and rolls back the same way.
        fsx.rmtree(fsx.STAGE)
        code = getattr(e, "code", None) or ("io" if isinstance(e, OSError) else "internal")
        msg = getattr(e, "msg", None) or repr(e)
        st["error"] = {"code": code, "msg": msg[:120], "version": st.get("version")}
        ev("error", code=code, msg=msg[:120])
        # A file that read back wrong is the flash's fault, not the release's: it may be tried again.
        rollback(st, "swap failed: " + code, code not in ("verify", "io"))
        return False
    if st.get("fw"):
        from ota import firmware

        firmware.activate(st["fw"][0])
    st["state"] = "confirm_pending"
    st["boots"] = 0
    st["hook_done"] = False
    save(st)
    _post_hook(st)
    return True


def _cleanup():
    fsx.remove(PLAN)
    fsx.rmtree(fsx.BACKUP)
    fsx.rmtree(fsx.STAGE)


def rollback(st, reason, mark_bad=True):
    if st.get("state") not in ("swapping", "confirm_pending", "rolling_back"):
        return False
    if st["state"] != "rolling_back":
        # A release whose swap never finished never ran: its rollback hook has nothing to undo.
        st["rb_done"] = st["state"] == "swapping"
        st["state"] = "rolling_back"
        st["why"] = reason
        st["mark"] = mark_bad
        save(st)
    # The stage first: a rollback never needs it, and its room is what
    # writing the backups back needs on a full flash (updater._room).
    fsx.rmtree(fsx.STAGE)
    if not st.get("rb_done"):
        run_hook(st.get("hooks", {}).get("rollback"))
        st["rb_done"] = True
        save(st)
    _backward(st)
    fw = st.get("fw")
    restart = False
    if fw:
        from ota import firmware

        firmware.activate(fw[1])
        if firmware.running() == fw[1]:
            firmware.confirm()  # the old image runs, maybe pending verify after set_boot: keep it
        else:
            # Still on the new image (a requested rollback): restart into the
            # old one, which is marked valid on that boot.
            st["fw_mark"] = 1
            restart = True
    bad = st.get("version")
    why = st.get("why", reason)
    if st.get("mark", True):
        st["bad"] = bad
    for k in _KEYS:
        st.pop(k, None)
    st["state"] = "idle"
    save(st)
    _cleanup()
    ev("rollback", version=bad, reason=why, current=current_version())
    if restart:
        import machine

        machine.reset()
    return True


def confirm():
    st = load()
    if st["state"] != "confirm_pending":
        return False
    v = st["version"]
    if st.get("fw"):
        from ota import firmware

        if firmware.running() != st["fw"][0]:
            return False  # the new image has not started yet: nothing to confirm
        firmware.confirm()
    for k in _KEYS:
        st.pop(k, None)
    st["state"] = "idle"
    save(st)
    _cleanup()
    ev("confirm", version=v)
    return True


def boot(confirm_boots):
    # Finishes or undoes whatever the journal says was under way. First a
    # write: LittleFS completes a move cut between its two commits before its
    # first write after mount, and until then it hides later entries of the
    # source folder. mkdir is such a write, and changes nothing when .ota is there.
    import os

    try:
        os.mkdir(fsx.p(fsx.OTA))
    except OSError:
        pass
    st = load()
    s = st["state"]
    if st.get("fw_mark"):
        from ota import firmware

        firmware.confirm()
        st.pop("fw_mark")
        save(st)
    if s == "swapping":
        finish_swap(st)
    elif s == "rolling_back":
        rollback(st, "resumed")
    fw = st.get("fw")
    if st["state"] == "confirm_pending" and fw:
        from ota import firmware

        if firmware.running() != fw[0]:
            if s == "swapping":
                import machine

                machine.reset()  # the image just set to boot starts with its files
            # The bootloader went back to the old image (not confirmed on its first boot).
            rollback(st, "firmware not confirmed: the bootloader rolled it back")
    if st["state"] == "confirm_pending":
        _post_hook(st)
        if st.get("boots", 0) >= confirm_boots:
            rollback(st, "not confirmed after %d boots" % confirm_boots)
        else:
            st["boots"] = st.get("boots", 0) + 1
            save(st)
    ev("state", state=st["state"], version=current_version())
    return st
