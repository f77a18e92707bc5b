"""Tasks for worker-pool tests, importable in a worker process (which does not import the test modules)."""

from __future__ import annotations

import time


def sleep_then_name(state, seconds: float) -> str:
    """Sleeps `seconds` and says who ran it: a worker."""
    time.sleep(seconds)
    return "worker"
