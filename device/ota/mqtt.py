# Minimal MQTT 3.1.1 client for ota.fleet (docs/protocols.md), with
# umqtt.simple's API. The one client the board uses, even where the firmware
# freezes umqtt.simple: one client that the tests run beats two, and the
# WebAssembly build they run on has no umqtt. Every incoming packet is bounded: a PUBLISH with a topic or payload over
# the limits is read past in small pieces (and still acknowledged, so a
# persistent session does not redeliver it forever) and never reaches the
# callback.
from micropython import const

MAX_TOPIC = const(128)
MAX_MSG = const(2048)  # src/core/fleet/protocol.ts BOARD_MAX_MSG
_CHUNK = const(64)


def _read(sock, n):
    # Exactly n bytes (a socket read may return fewer); OSError on EOF.
    b = sock.read(n)
    if b is None:
        b = b""
    while len(b) < n:
        m = sock.read(n - len(b))
        if not m:
            raise OSError(-1)
        b += m
    return b


def _skip(sock, n):
    # Into one small buffer: a 100 KB message leaves no garbage behind.
    b = bytearray(_CHUNK)
    while n > 0:
        k = sock.readinto(b, min(n, _CHUNK))
        if not k:
            raise OSError(-1)
        n -= k


def _len(sock):
    n = 0
    sh = 0
    for _ in range(4):
        b = _read(sock, 1)[0]
        n |= (b & 0x7F) << sh
        if not b & 0x80:
            return n
        sh += 7
    raise OSError(-2)  # a length over 4 bytes: not MQTT


def _wait_msg(self):
    # None when nothing is there (or a PINGRESP),
    # the packet type byte for anything but PUBLISH (its body left unread),
    # and PUBLISH handed to the callback.
    try:
        res = self.sock.read(1)
    except OSError as e:
        if e.args and e.args[0] == 11:  # EAGAIN from a non-blocking socket
            res = None
        else:
            raise
    self.sock.setblocking(True)
    if res is None:
        return None
    if res == b"":
        raise OSError(-1)
    op = res[0]
    if op == 0xD0:
        if _read(self.sock, 1)[0]:
            raise OSError(-2)
        self.pong = True
        return None
    if op & 0xF0 != 0x30:
        return op
    sz = _len(self.sock)
    qos = (op >> 1) & 3
    tl = _read(self.sock, 2)
    tl = tl[0] << 8 | tl[1]
    sz -= 2 + tl
    topic = None
    if tl <= MAX_TOPIC:
        topic = _read(self.sock, tl)
    else:
        _skip(self.sock, tl)
    pid = 0
    if qos:
        p = _read(self.sock, 2)
        pid = p[0] << 8 | p[1]
        sz -= 2
    if sz < 0:
        raise OSError(-2)
    msg = None
    if topic is not None and sz <= MAX_MSG and qos < 2:
        msg = _read(self.sock, sz)
    else:
        _skip(self.sock, sz)
        self.dropped = getattr(self, "dropped", 0) + 1
    if qos == 1:
        self.sock.write(b"\x40\x02" + bytes((pid >> 8, pid & 0xFF)))
    if msg is not None and self.cb:
        self.cb(topic, msg)
    return op


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None):
        self.client_id = client_id
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.sock = None
        self.raw = None  # the plain socket under an SSL one: it holds the timeout
        self.cb = None
        self.pid = 0
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False
        self.pong = False  # set by the reader when PINGRESP arrives (ota.fleet)
        self.dropped = 0  # oversized or malformed messages skipped since ota.fleet last looked

    wait_msg = _wait_msg

    def _str(self, s):
        return bytes((len(s) >> 8, len(s) & 0xFF)) + s

    def _packet(self, op, body):
        n = len(body)
        hdr = bytearray((op,))
        while True:
            b = n & 0x7F
            n >>= 7
            hdr.append(b | (0x80 if n else 0))
            if not n:
                break
        self.sock.write(hdr + body)

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session=True, timeout=None):
        import socket

        ai = socket.getaddrinfo(self.server, self.port, 0, socket.SOCK_STREAM)[0]
        self.sock = socket.socket(ai[0], socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(ai[-1])
        self.raw = self.sock  # MicroPython's SSL sockets have no settimeout: reads go through this one
        if self.ssl:
            self.sock = self.ssl.wrap_socket(self.sock, server_hostname=self.server)
        flags = 2 if clean_session else 0
        body = self._str(self.client_id)
        if self.lw_topic:
            flags |= 4 | self.lw_qos << 3 | (0x20 if self.lw_retain else 0)
            body += self._str(self.lw_topic) + self._str(self.lw_msg)
        if self.user:
            flags |= 0x80
            body += self._str(self.user)
            if self.pswd:
                flags |= 0x40
                body += self._str(self.pswd)
        ka = self.keepalive
        self._packet(0x10, b"\x00\x04MQTT\x04" + bytes((flags, ka >> 8, ka & 0xFF)) + body)
        resp = _read(self.sock, 4)
        if resp[0] != 0x20 or resp[1] != 2:
            raise OSError(-2)
        if resp[3]:
            raise MQTTException(resp[3])
        return resp[2] & 1

    def disconnect(self):
        try:
            self.sock.write(b"\xe0\x00")
        finally:
            self.sock.close()

    def ping(self):
        self.sock.write(b"\xc0\x00")

    def publish(self, topic, msg, retain=False, qos=0):
        body = self._str(topic)
        if qos:
            self.pid = self.pid % 65535 + 1
            pid = self.pid
            body += bytes((pid >> 8, pid & 0xFF))
        self._packet(0x30 | qos << 1 | (1 if retain else 0), body + msg)
        while qos:
            if self.wait_msg() == 0x40:
                p = _read(self.sock, 3)
                if p[0] == 2 and (p[1] << 8 | p[2]) == pid:
                    return

    def subscribe(self, topic, qos=0):
        self.pid = self.pid % 65535 + 1
        pid = self.pid
        self._packet(0x82, bytes((pid >> 8, pid & 0xFF)) + self._str(topic) + bytes((qos,)))
        while True:
            if self.wait_msg() == 0x90:
                p = _read(self.sock, 4)
                if p[3] == 0x80:
                    raise MQTTException(0x80)
                if (p[1] << 8 | p[2]) == pid:
                    return

    def check_msg(self):
        self.sock.setblocking(False)
        return self.wait_msg()


class MQTTException(Exception):
    pass
