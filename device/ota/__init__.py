# MicroPython OTA updater. `import ota` stays small: every heavy module is
# imported inside the function that needs it.
__version__ = "0.1.0"


def _cfg():
    from ota import updater

    try:
        return updater.load_config()
    except Exception:
        return {}


def boot():
    # First thing in boot.py: finish or undo an interrupted update, count
    # unconfirmed boots and roll back after `confirm_boots` of them. Needs
    # only the journal and the filesystem (no network or manifest code), and
    # leaves none of the updater's modules in RAM for the application.
    _push()
    try:
        from ota import fsx, journal

        cfg = fsx.read_json("ota_config.json")
        n = cfg.get("confirm_boots", 3) if isinstance(cfg, dict) else 3
        journal.boot(int(n))
    except Exception as e:
        try:
            from ota import log

            log.error(e)
        except Exception:
            pass
    finally:
        _unload()


def _push():
    # An `ota push` a cut interrupted is finished or undone by the copy of
    # device/install.py it keeps in .ota/ (what boot.py's line runs too; by now
    # there is nothing left to do). Costs two stats otherwise. The names are
    # the first two of install.py's _OTA_MARKS (test/vocabularies.test.ts).
    import os

    for p in ("/.ota/push.json", "/.ota/push.new"):
        try:
            os.stat(p)
        except OSError:
            continue
        try:
            with open("/.ota/recover.py") as f:
                s = f.read()
            exec(s, {})
        except Exception as e:
            print("ota push: could not finish an interrupted push:", repr(e))
        return


def _unload():
    import sys
    import gc

    g = globals()
    for name in list(sys.modules):
        if name.startswith("ota."):
            del sys.modules[name]
            g.pop(name[4:], None)  # the package's attribute for its submodule
    gc.collect()


def confirm():
    # The application calls this once it runs well on the new release.
    from ota import journal

    return journal.confirm()


def check():
    from ota import updater

    return updater.check()


def update(reset=True):
    from ota import updater

    return updater.update(reset)


def rollback():
    from ota import journal

    return journal.rollback(journal.load(), "requested")


def status():
    from ota import journal

    st = journal.load()
    return {
        "version": journal.current_version(),
        "state": st["state"],
        "channel": _cfg().get("channel"),
        "boots": st.get("boots", 0),
    }
