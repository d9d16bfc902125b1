"""The CPU cores this process may use, and their share for each of several processes beside each other."""
from __future__ import annotations

import os

__all__ = ["available", "threads_each"]


def available() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform (macOS)
        return os.cpu_count() or 1


def threads_each(processes: int) -> int:
    """Threads for each of ``processes`` processes that share :func:`available` cores, at least 1."""
    if processes < 1:
        raise ValueError(f"processes must be 1 or more, got {processes}")
    return max(1, available() // processes)
