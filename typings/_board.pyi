# The virtual board's JavaScript module (src/sim/worker.ts): host calls the board's Python modules make.
from typing import Any

def __getattr__(name: str) -> Any: ...
