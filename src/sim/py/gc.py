# The wasm build counts 128 MB of possible heap growth as free; the board's heap cannot grow. Its
# collect() only asks for a collection once control is back in JavaScript; _board.collect() does it now.
import _board
from gc import enable, disable, isenabled, mem_alloc, threshold  # noqa: F401 (re-exported)
from gc import mem_free as _mem_free, collect as _collect


def collect():
    _collect()
    _board.collect()


def mem_free():
    return max(0, _mem_free() - 134217728)
