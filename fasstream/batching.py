"""Network calls of one fixed batch size, so that an item's result never depends on what shares its call.

A convolution run on another batch size can pick another kernel and round differently (oneDNN and
cuDNN do): 1e-7 apart, enough to re-place a face track's next crop or change a score's last digit.
The face stage and the served model both call their networks through :func:`in_fixed_batches`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["in_fixed_batches"]


def in_fixed_batches(fn: Callable[[np.ndarray], Sequence[np.ndarray]], items: np.ndarray,
                     size: int) -> list[np.ndarray]:
    """``fn`` on ``items`` in calls of exactly ``size`` (the last one zero-padded); ``fn`` returns arrays whose
    first axis is the batch, and each comes back concatenated over the calls, padding dropped."""
    if size < 1:
        raise ValueError(f"batch size must be 1 or more, got {size}")
    n = len(items)
    padded = np.zeros((-(-n // size) * size,) + items.shape[1:], items.dtype)
    padded[:n] = items
    outs = [fn(padded[start:start + size]) for start in range(0, len(padded), size)]
    return [np.concatenate(parts)[:n] for parts in zip(*outs)]
