import _board
from os import *  # noqa: F403 (re-exported)
from os import VfsPosix, getcwd


def uname():
    return ("esp32", "virtual-board", "1.27.0", "v1.27.0 on 2025-12-09", "virtual-board with wasm")


def sync():
    pass


def urandom(n):
    return bytes(_board.urandom(n))


# VfsPosix with a root ("/flash") builds both of rename's paths in one shared buffer, so os.rename
# passed the new name twice and failed with ENOENT; a root-less VfsPosix takes the paths as given.
_raw = VfsPosix()


def _flash(p):
    if not p.startswith("/"):
        p = getcwd().rstrip("/") + "/" + p
    return "/flash" + p


def rename(old, new):
    _raw.rename(_flash(old), _flash(new))
