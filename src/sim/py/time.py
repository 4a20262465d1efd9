# The board's clock: the host's, moved by _off when machine.RTC or ntptime sets it (before that it
# reads the host clock, as a board whose RTC kept its time).
import _board
from time import ticks_ms, ticks_us, ticks_cpu, ticks_add, ticks_diff, mktime  # noqa: F401 (re-exported)
from time import time as _time, time_ns as _time_ns, gmtime as _gmtime, localtime as _localtime

_off = 0


def time():
    return int(_time()) + _off


def time_ns():
    return _time_ns() + _off * 1000000000


def gmtime(t=None):
    return _gmtime(time() if t is None else t)


def localtime(t=None):
    return _localtime(time() if t is None else t)


def sleep_ms(ms):
    if _board.sleep_ms(int(ms)) == -1000:
        raise KeyboardInterrupt


def sleep(s):
    sleep_ms(s * 1000)


def sleep_us(us):
    sleep_ms(us // 1000)
