# The board's idea of "now" for expiry checks and certificate validity
# (README "Threat model", clock). A board without a battery-backed clock
# starts in 2000: NTP sets it where the network allows (config "ntp": a host,
# or false), and it never counts below the newest `created` of a manifest
# the board accepted (.ota/state.json "created"), so a replayed old manifest
# cannot bring an expired date back, whatever Date header comes with it.
import time
from micropython import const

_MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"
_SANE_YEAR = const(2024)  # a clock before this was never set


def sync(cfg):
    # One NTP exchange before anything is verified; silent when it cannot happen.
    host = cfg.get("ntp", True)
    if host is False:
        return False
    try:
        import ntptime

        if isinstance(host, str):
            ntptime.host = host
        ntptime.timeout = 2
        ntptime.settime()
        return True
    except Exception:  # noqa: BLE001 - no ntptime, no UDP, no answer: the other sources remain
        return False


def board_iso():
    t = time.gmtime()
    if t[0] < _SANE_YEAR:
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]


def http_iso(d):
    # An RFC 7231 Date ("Sun, 06 Nov 1994 08:49:37 GMT") as ISO text, or None.
    try:
        d = d.split()
        mo = _MONTHS.index(d[2]) // 3 + 1
        if len(d[4]) != 8 or len(d[3]) != 4:
            return None
        return "%s-%02d-%02dT%sZ" % (d[3], mo, int(d[1]), d[4])
    except (ValueError, IndexError, AttributeError):
        return None


def now_iso(http_date=None, floor=None):
    # The board's clock, else the server's Date; never below `floor`. None: unknown.
    now = board_iso() or (http_iso(http_date) if http_date else None)
    if floor and (now is None or now[:19] < floor[:19]):
        now = floor
    return now


def iso_ok(s):
    # "YYYY-MM-DDTHH:MM:SS…": ISO texts of this shape order like the instants they name.
    return isinstance(s, str) and len(s) >= 19 and s[4] == "-" and s[10] == "T" and s[:4].isdigit()
