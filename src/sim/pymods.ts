// The board's own modules (machine, network, socket, and board flavours of time, hashlib, gc, os), written
// in MicroPython over the JavaScript module `_board` (see worker.ts). They are frozen into the firmware
// image at boot, so they cost no flash, as frozen modules on a real board.

const machine = `
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
    return b'\\x24\\x0a\\xc4\\x5e\\x00\\x01'
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
        time._off = time.mktime((t[0], t[1], t[2], t[4], t[5], t[6], 0, 0)) - int(time._time())
    def init(self, t):
        self.datetime(t)
class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
    def feed(self):
        pass
`;

const network = `
STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
class WLAN:
    def __init__(self, interface=STA_IF):
        self._active = True
    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
    def connect(self, ssid=None, key=None, **kw):
        pass
    def disconnect(self):
        pass
    def isconnected(self):
        return self._active
    def status(self, param=None):
        return STAT_GOT_IP if self._active else STAT_IDLE
    def ifconfig(self, cfg=None):
        return ('127.0.0.1', '255.0.0.0', '127.0.0.1', '127.0.0.1')
    def config(self, *args, **kw):
        if args and args[0] == 'mac':
            return b'\\x24\\x0a\\xc4\\x5e\\x00\\x01'
    def scan(self):
        return []
`;

// Data moves between Python buffers and the host by address (uctypes.addressof), so reading a socket
// into a preallocated buffer allocates nothing, as on a board.
const socket = `
import _board, io, uctypes
AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
IPPROTO_TCP = 6
IPPROTO_UDP = 17
SOL_SOCKET = 1
SO_REUSEADDR = 4
def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    ip = _board.resolve(host)
    if not ip:
        raise OSError(-202)
    return [(AF_INET, SOCK_STREAM, IPPROTO_TCP, '', (ip, port))]
def _check(r):
    if r == -1000:
        raise KeyboardInterrupt
    if r < 0:
        raise OSError(-r)
    return r
class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP):
        self._id = -1
        self._ms = -1
    def settimeout(self, t):
        self._ms = -1 if t is None else int(t * 1000)
    def setblocking(self, flag):
        self._ms = -1 if flag else 0
    def setsockopt(self, level, opt, value):
        pass
    def connect(self, addr):
        self._id = _check(_board.sock_connect(addr[0], addr[1], self._ms))
    def send(self, buf):
        if isinstance(buf, str):
            buf = buf.encode()
        if not len(buf):
            return 0
        return _check(_board.sock_send(self._id, uctypes.addressof(buf), len(buf), self._ms))
    def write(self, buf):
        mv = memoryview(buf.encode() if isinstance(buf, str) else buf)
        n = 0
        while n < len(mv):
            n += self.send(mv[n:])
        return n
    def sendall(self, buf):
        self.write(buf)
    def readinto(self, buf, nbytes=-1):
        n = len(buf) if nbytes < 0 else min(nbytes, len(buf))
        if n == 0:
            return 0
        return _check(_board.sock_recv(self._id, uctypes.addressof(buf), n, self._ms, False))
    def recv(self, n):
        b = bytearray(n)
        k = self.readinto(b)
        return bytes(b) if k == n else bytes(memoryview(b)[:k])
    def read(self, n=-1):
        if n >= 0:
            return self.recv(n)
        parts = []
        while True:
            part = self.recv(4096)
            if not part:
                return b''.join(parts)
            parts.append(part)
    def readline(self):
        parts = []
        while True:
            b = bytearray(256)
            k = _check(_board.sock_recv(self._id, uctypes.addressof(b), 256, self._ms, True))
            part = bytes(memoryview(b)[:k])
            parts.append(part)
            if k == 0 or part[-1] == 10:
                return b''.join(parts)
    def makefile(self, mode='rb', buffering=0):
        return self
    def close(self):
        if self._id >= 0:
            _board.sock_close(self._id)
            self._id = -1
`;

// TLS is done by the host (Node's tls) on the board's connected socket; the socket object stays the same.
// It verifies as MicroPython's mbedTLS ports do (extmod/modtls_mbedtls.c): a client context defaults to
// CERT_REQUIRED and then needs a CA and server_hostname; a refused certificate raises ValueError with
// mbedTLS's verify text, any other failure OSError; validity is checked against the board's clock.
const ssl = `
import _board, uctypes
PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
def _bytes(x):
    if isinstance(x, str):
        f = open(x, 'rb')
        x = f.read()
        f.close()
    return x
def _a(b):
    return uctypes.addressof(b) if b else 0
def _n(b):
    return len(b) if b else 0
class SSLContext:
    def __init__(self, protocol=PROTOCOL_TLS_CLIENT):
        self.verify_mode = CERT_REQUIRED if protocol == PROTOCOL_TLS_CLIENT else CERT_NONE
        self._ca = None
        self._cert = None
        self._key = None
    def load_verify_locations(self, cafile=None, cadata=None):
        self._ca = _bytes(cafile) if cafile else cadata
    def load_cert_chain(self, certfile, keyfile):
        self._cert = _bytes(certfile)
        self._key = _bytes(keyfile)
    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        if server_side:
            raise OSError(95)
        verify = self.verify_mode == CERT_REQUIRED
        if verify and not server_hostname:
            raise ValueError('CERT_REQUIRED requires server_hostname')
        import time  # the board's clock (this module loads before it replaces the built-in one)
        ca, cert, key = self._ca, self._cert, self._key
        r = _board.sock_tls(sock._id, server_hostname or '', verify, time.time(), _a(ca), _n(ca),
                            _a(cert), _n(cert), _a(key), _n(key))
        if isinstance(r, str):
            raise ValueError(r)
        if r == -1000:
            raise KeyboardInterrupt
        if r < 0:
            raise OSError(r if r < -1000 else -r)
        return _SSLSocket(sock)
class _SSLSocket:
    # The wrapped stream: reads and writes go through the same host socket.
    def __init__(self, sock):
        self._s = sock
        self._id = sock._id
    def getpeercert(self, binary_form=False):
        if not binary_form:
            raise ValueError('binary_form must be True')
        b = bytearray(4096)
        n = _board.sock_peercert(self._id, uctypes.addressof(b), len(b))
        if n < 0:
            raise OSError(-n)
        return bytes(memoryview(b)[:n])
    def readinto(self, buf, nbytes=-1):
        return self._s.readinto(buf, nbytes)
    def read(self, n=-1):
        return self._s.read(n)
    def readline(self):
        return self._s.readline()
    def write(self, buf):
        return self._s.write(buf)
    def setblocking(self, flag):
        self._s.setblocking(flag)
    def close(self):
        self._s.close()
def wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE, cadata=None,
                server_hostname=None, do_handshake=True):
    ctx = SSLContext(PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = cert_reqs
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx.wrap_socket(sock, server_side, do_handshake, server_hostname)
`;

// The clock: time.time()/gmtime()/localtime() read the board's RTC, which starts at the host's clock
// (as on a board whose clock NTP set at an earlier boot) and which machine.RTC().datetime(t) sets, so
// tests can give a board a wrong clock. ntptime sets it back to the host's clock, as NTP would.
const time = `
import _board
from time import ticks_ms, ticks_us, ticks_cpu, ticks_add, ticks_diff, mktime
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
`;

const ntptime = `
host = 'pool.ntp.org'
timeout = 1
def time():
    import time
    return int(time._time())
def settime():
    import time
    time._off = 0
`;

const hashlib = `
import _board, uctypes
from hashlib import sha256
class sha1:
    def __init__(self, data=None):
        self._h = _board.sha1_new()
        if data is not None:
            self.update(data)
    def update(self, data):
        if isinstance(data, str):
            data = data.encode()
        if len(data):
            _board.sha1_update(self._h, uctypes.addressof(data), len(data))
    def digest(self):
        return bytes(_board.sha1_digest(self._h))
`;

// binascii as ports build it: C code (extmod/modbinascii.c), here JavaScript working on the Python buffers
// in place. The wasm build's own binascii is micropython-lib's pure-Python one, ~100x slower than any
// board's, which would make the board's speed profile wrong for the host's choice of encoding.
const binascii = `
import _board, uctypes
def _buf(data):
    return data.encode() if isinstance(data, str) else data
def _addr(data):
    return uctypes.addressof(data) if len(data) else 0
def _done(out, n):
    return bytes(out) if n == len(out) else bytes(memoryview(out)[:n])
def a2b_base64(data):
    data = _buf(data)
    out = bytearray(len(data) * 3 // 4 + 1)
    n = _board.b64_decode(_addr(data), len(data), _addr(out))
    if n < 0:
        raise ValueError('incorrect padding')
    return _done(out, n)
def b2a_base64(data, *, newline=True):
    data = _buf(data)
    n = len(data)
    out = bytearray((((n - 1) // 3 + 1) * 4 if n else 0) + (1 if newline else 0))
    _board.b64_encode(_addr(data), n, _addr(out), bool(newline))
    return bytes(out)
def hexlify(data, sep=None):
    data = _buf(data)
    n = len(data)
    if sep is not None:
        sep = _buf(sep)
        if len(sep) != 1:
            raise ValueError('sep must be length 1.')
    out = bytearray(2 * n + (n - 1 if sep is not None and n else 0))
    _board.hexlify(_addr(data), n, _addr(out), -1 if sep is None else sep[0])
    return bytes(out)
def unhexlify(data):
    return bytes.fromhex(data)
def crc32(data, value=0):
    data = _buf(data)
    return int(_board.crc32(_addr(data), len(data), value & 0xffffffff))
`;

const hashlibNoSha1 = `
from hashlib import sha256
`;

// The wasm build counts 128 MB of possible heap growth as free; the board's heap cannot grow. Its
// collect() only asks for a collection once control is back in JavaScript; _board.collect() does it now.
const gc = `
import _board
from gc import enable, disable, isenabled, mem_alloc, threshold
from gc import mem_free as _mem_free, collect as _collect
def collect():
    _collect()
    _board.collect()
def mem_free():
    return max(0, _mem_free() - 134217728)
`;

const os = `
import _board
from os import *
def uname():
    return ('esp32', 'virtual-board', '1.27.0', 'v1.27.0 on 2025-12-09', 'virtual-board with wasm')
def sync():
    pass
def urandom(n):
    return bytes(_board.urandom(n))
# VfsPosix with a root ("/flash") builds both of rename's paths in one shared buffer, so os.rename
# passed the new name twice and failed with ENOENT; a root-less VfsPosix takes the paths as given.
_raw = VfsPosix()
def _flash(p):
    if not p.startswith('/'):
        p = getcwd().rstrip('/') + '/' + p
    return '/flash' + p
def rename(a, b):
    _raw.rename(_flash(a), _flash(b))
`;

// Runs everything the console or boot asks for. Exceptions are caught in Python and printed by
// sys.print_exception, which streams without allocating: a traceback prints even when the heap is full,
// as on a board (handing an exception to JavaScript would need heap the board may no longer have).
const boardExec = `
import sys, _board
g = None
_err = _board.err
_source = _board.source
_print_exception = sys.print_exception
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
        code = compile(src, name, 'single' if kind == 1 else 'exec')
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
`;

/** Module sources by the name they are imported as; `sha1: false` leaves hashlib with SHA-256 only. */
export function boardModules(opts: { sha1: boolean }): Record<string, string> {
  return {
    machine,
    network,
    socket,
    ssl,
    time,
    ntptime,
    hashlib: opts.sha1 ? hashlib : hashlibNoSha1,
    binascii,
    gc,
    os,
    _board_exec: boardExec,
  };
}
