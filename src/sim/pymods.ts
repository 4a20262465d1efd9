// The board's own modules (machine, network, socket, and board flavours of time, hashlib, gc, os), written
// in MicroPython over the JavaScript module `_board` (see worker.ts). They are frozen into the firmware
// image at boot, so they cost no flash, as frozen modules on a real board. Most are files in ./py/;
// socket, ssl and time stay here for now (their TLS work is under way elsewhere).
import '../core/text-import';
import machine from './py/machine.py';
import network from './py/network.py';
import hashlib from './py/hashlib.py';
import hashlibNoSha1 from './py/hashlib_no_sha1.py';
import binascii from './py/binascii.py';
import gc from './py/gc.py';
import os from './py/os.py';
import boardExec from './py/_board_exec.py';

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
const ssl = `
import _board, uctypes
PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
class SSLContext:
    def __init__(self, protocol=PROTOCOL_TLS_CLIENT):
        self.verify_mode = CERT_REQUIRED if protocol == PROTOCOL_TLS_CLIENT else CERT_NONE
        self._ca = None
    def load_verify_locations(self, cafile=None, cadata=None):
        if cafile:
            f = open(cafile, 'rb')
            cadata = f.read()
            f.close()
        self._ca = cadata
    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        if server_side:
            raise OSError(95)
        ca = self._ca
        r = _board.sock_tls(sock._id, server_hostname or '', self.verify_mode != CERT_NONE,
                            uctypes.addressof(ca) if ca else 0, len(ca) if ca else 0)
        if r == -1000:
            raise KeyboardInterrupt
        if r < 0:
            raise OSError(r if r < -1000 else -r)
        return sock
def wrap_socket(sock, server_side=False, key=None, cert=None, cert_reqs=CERT_NONE, cadata=None,
                server_hostname=None, do_handshake=True):
    ctx = SSLContext(PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = cert_reqs
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    return ctx.wrap_socket(sock, server_side, do_handshake, server_hostname)
`;

const time = `
import _board
from time import ticks_ms, ticks_us, ticks_cpu, ticks_add, ticks_diff, time, time_ns, localtime, gmtime, mktime
def sleep_ms(ms):
    if _board.sleep_ms(int(ms)) == -1000:
        raise KeyboardInterrupt
def sleep(s):
    sleep_ms(s * 1000)
def sleep_us(us):
    sleep_ms(us // 1000)
`;

/** Module sources by the name they are imported as; `sha1: false` leaves hashlib with SHA-256 only. */
export function boardModules(opts: { sha1: boolean }): Record<string, string> {
  return {
    machine,
    network,
    socket,
    ssl,
    time,
    hashlib: opts.sha1 ? hashlib : hashlibNoSha1,
    binascii,
    gc,
    os,
    _board_exec: boardExec,
  };
}
