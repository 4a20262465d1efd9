from hashlib import sha256  # noqa: F401 (re-exported)
