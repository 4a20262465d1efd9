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
    # unconfirmed boots and roll back after `confirm_boots` of them.
    from ota import journal, log

    try:
        journal.boot(int(_cfg().get("confirm_boots", 3)))
    except Exception as e:
        log.error(e)


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
