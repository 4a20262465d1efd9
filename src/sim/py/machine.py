import _board

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset():
    _board.reset(False)


def soft_reset():
    _board.reset(True)


def reset_cause():
    return _board.reset_cause()


def unique_id():
    return b"\x24\x0a\xc4\x5e\x00\x01"


def freq(hz=None):
    if hz is None:
        return 240000000


def idle():
    pass


def lightsleep(ms=0):
    import time

    time.sleep_ms(ms)


def deepsleep(ms=0):
    _board.reset(False)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._v = 0 if value is None else value

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def on(self):
        self._v = 1

    def off(self):
        self._v = 0

    def __call__(self, v=None):
        return self.value(v)


class RTC:
    # The board's clock (see the time module): datetime() reads it, datetime(t) sets it.
    def __init__(self, id=0):
        pass

    def datetime(self, t=None):
        import time

        if t is None:
            y, mo, d, h, mi, s, wd, yd = time.gmtime()
            return (y, mo, d, wd, h, mi, s, 0)
        time._off = time.mktime((t[0], t[1], t[2], t[4], t[5], t[6], 0, 0)) - int(time._time())  # pyright: ignore[reportAttributeAccessIssue] - the board's own time module (./time.py)

    def init(self, t):
        self.datetime(t)


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        pass
