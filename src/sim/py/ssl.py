import _board, uctypes

PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2


def _bytes(x):
    if isinstance(x, str):
        f = open(x, "rb")
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
            raise ValueError("CERT_REQUIRED requires server_hostname")
        import time  # the board's clock (this module loads before it replaces the built-in one)

        ca, cert, key = self._ca, self._cert, self._key
        r = _board.sock_tls(
            sock._id, server_hostname or "", verify, time.time(), _a(ca), _n(ca), _a(cert), _n(cert), _a(key), _n(key)
        )
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
            raise ValueError("binary_form must be True")
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


def wrap_socket(
    sock,
    server_side=False,
    key=None,
    cert=None,
    cert_reqs=CERT_NONE,
    cadata=None,
    server_hostname=None,
    do_handshake=True,
):
    ctx = SSLContext(PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = cert_reqs
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx.wrap_socket(sock, server_side, do_handshake, server_hostname)
