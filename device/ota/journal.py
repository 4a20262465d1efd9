# The journal (.ota/state.json) and the swap it protects. Every step is
# idempotent and decided from the journal plus what exists on disk, so
# boot() can repeat it after a power cut at any instant: the app files are
# always the old release or the new one, whole.
import gc
from ota import fsx
from ota.log import ev

STATE = ".ota/state.json"


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


def _tidy(i):
    # Each move makes path strings: a collection every 8 files bounds them.
    if i & 7 == 7:
        gc.collect()


def _forward(st):
    # stage -> live, moving each replaced or deleted file to backup first.
    S, B = fsx.STAGE + "/", fsx.BACKUP + "/"
    for i, p in enumerate(st["put"]):
        _tidy(i)
        if fsx.exists(S + p):
            if fsx.exists(p) and not fsx.exists(B + p):
                fsx.move(p, B + p)
            fsx.move(S + p, p)
    for p in st["del"]:
        if fsx.exists(p) and not fsx.exists(B + p):
            fsx.move(p, B + p)


def _backward(st):
    # backup -> live; files the release added are removed.
    B = fsx.BACKUP + "/"
    new = st["new"]
    for i, p in enumerate(st["put"]):
        _tidy(i)
        if fsx.exists(B + p):
            fsx.move(B + p, p)
        elif p in new:
            fsx.remove(p)
    for p in st["del"]:
        if fsx.exists(B + p):
            fsx.move(B + p, p)


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
    # st holds put/new/del/hooks and the versions; staged files are verified.
    st["state"] = "swapping"
    save(st)
    ev("swap", version=st["version"], files=len(st["put"]), deleted=len(st["del"]))
    finish_swap(st)


def finish_swap(st):
    _forward(st)
    if st.get("fw"):
        from ota import firmware

        firmware.activate(st["fw"][0])
    st["state"] = "confirm_pending"
    st["boots"] = 0
    st["hook_done"] = False
    save(st)
    _post_hook(st)


def rollback(st, reason):
    if st.get("state") not in ("confirm_pending", "rolling_back"):
        return False
    if st["state"] != "rolling_back":
        st["state"] = "rolling_back"
        st["rb_done"] = False
        save(st)
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
    bad = st["version"]
    for k in ("put", "new", "del", "hooks", "hook_done", "rb_done", "boots", "version", "prev", "fw"):
        st.pop(k, None)
    st["state"] = "idle"
    st["bad"] = bad
    save(st)
    fsx.rmtree(fsx.BACKUP)
    ev("rollback", version=bad, reason=reason, current=current_version())
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
    for k in ("put", "new", "del", "hooks", "hook_done", "boots", "prev", "fw"):
        st.pop(k, None)
    st["state"] = "idle"
    save(st)
    fsx.rmtree(fsx.BACKUP)
    fsx.rmtree(fsx.STAGE)
    ev("confirm", version=v)
    return True


def boot(confirm_boots):
    # Finishes or undoes whatever the journal says was under way.
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
