import _board, uctypes
from hashlib import sha256  # noqa: F401 (re-exported)


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
