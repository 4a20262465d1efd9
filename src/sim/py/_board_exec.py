# Runs everything the console or boot asks for. Exceptions are caught in Python and printed by
# sys.print_exception, which streams without allocating: a traceback prints even when the heap is full,
# as on a board (handing an exception to JavaScript would need heap the board may no longer have).
import sys, _board

g = None
_err = _board.err
_source = _board.source
_print_exception = sys.print_exception  # pyright: ignore[reportAttributeAccessIssue] (MicroPython only)
_reserve = None


def run(kind):
    global _reserve
    try:
        if _reserve is None:
            _reserve = bytearray(2048)
        name, src = _source()
        if kind >= 2:
            try:
                f = open(name)
            except OSError:
                return 0
            src = f.read()
            f.close()
        code = compile(src, name, "single" if kind == 1 else "exec")
        src = None
        exec(code, g)
    except SystemExit:
        return 2
    except BaseException as e:
        # Heap that was held back, so the traceback can print even when user code filled the heap.
        _reserve = None
        try:
            _err(True)
            _print_exception(e)
        except BaseException:
            pass
        _err(False)
        return 1
    return 0
