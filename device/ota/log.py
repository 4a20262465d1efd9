# Log protocol: one `OTA:{json}` line per event; errors are raised as Fail
# (docs/protocols.md, "Log events" and "Error codes").
import json

# Event names are literal at every ev() call (the host's OtaEvent in
# src/core/events.ts names each one; a test holds the two equal). No list of
# them here: this module is loaded at boot, and every name it holds stays
# interned in RAM for good.

sink = None  # ota.fleet's session while it reports events to the broker


def ev(name, **kw):
    kw["ev"] = name
    print("OTA:" + json.dumps(kw))
    if sink is not None:
        sink(kw)


class Fail(Exception):
    # code: a stable snake_case code from src/core/error-codes.ts; msg: short free text.
    def __init__(self, code, msg):
        super().__init__(code, msg)
        self.code = code
        self.msg = msg


def error(e):
    if isinstance(e, Fail):
        ev("error", code=e.code, msg=e.msg)
    elif isinstance(e, MemoryError):
        ev("error", code="no_memory", msg="out of memory")
    elif isinstance(e, OSError):
        ev("error", code="io", msg=str(e))
    else:
        ev("error", code="internal", msg=repr(e))
