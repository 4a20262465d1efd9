from typing import Any
from socket import socket

PROTOCOL_TLS_CLIENT: int
PROTOCOL_TLS_SERVER: int
CERT_NONE: int
CERT_OPTIONAL: int
CERT_REQUIRED: int

class SSLContext:
    verify_mode: int
    def __init__(self, protocol: int = ...) -> None: ...
    def load_verify_locations(self, cafile: str | None = ..., cadata: bytes | None = ...) -> None: ...
    def load_cert_chain(self, certfile: Any, keyfile: Any) -> None: ...
    def wrap_socket(
        self, sock: socket, server_side: bool = ..., do_handshake_on_connect: bool = ..., server_hostname: str | None = ...
    ) -> socket: ...

def wrap_socket(
    sock: socket,
    server_side: bool = ...,
    key: Any = ...,
    cert: Any = ...,
    cert_reqs: int = ...,
    cadata: bytes | None = ...,
    server_hostname: str | None = ...,
    do_handshake: bool = ...,
) -> socket: ...
