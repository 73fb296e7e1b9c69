"""A small timing loop: operations per second of a callable, on one core."""

from __future__ import annotations

import time
from collections.abc import Callable


def rate(operation: Callable[[], object], seconds: float = 1.0, batch: int = 16) -> float:
    """Call ``operation`` in batches for about ``seconds`` and return calls per second."""
    operation()  # warm-up: first-call costs (imports, caches) are not the steady state
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    now = start
    while now < deadline:
        for _ in range(batch):
            operation()
        calls += batch
        now = time.perf_counter()
    return calls / (now - start)
