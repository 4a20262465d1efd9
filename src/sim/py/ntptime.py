# ntptime on the virtual board: the host's clock stands for the NTP server's answer.
host = "pool.ntp.org"
timeout = 1


def time():
    import time

    return int(time._time())  # pyright: ignore[reportAttributeAccessIssue] - the board's own time module (./time.py)


def settime():
    import time

    time._off = 0  # pyright: ignore[reportAttributeAccessIssue] - the board's own time module (./time.py)
