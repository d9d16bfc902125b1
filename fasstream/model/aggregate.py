"""A video's score from its clips' scores, by the rule its checkpoint was trained and thresholded with.

``mean``: every clip votes (the paper's per-video decision). ``max``: the clip that looks most live
decides, the rule of multiple-instance training (``data.live_bag``, ``fasstream.train.instances``),
where a live video needs one clip that shows life and an attack none.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["AGGREGATES", "aggregate", "aggregate_groups", "check_aggregate"]

AGGREGATES = ("mean", "max")


def check_aggregate(rule: str) -> str:
    """``rule`` if it is one of AGGREGATES, else ValueError naming the choices."""
    if rule not in AGGREGATES:
        raise ValueError(f"video score rule {rule!r} is unknown; use one of {', '.join(AGGREGATES)}")
    return rule


def aggregate(scores: Sequence[float] | np.ndarray, rule: str = "mean") -> float:
    """The video score of ``scores`` (one per clip, at least one) under ``rule``."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"a video score needs a non-empty 1-D array of clip scores; got shape {s.shape}")
    return float(s.max() if check_aggregate(rule) == "max" else s.mean())


def aggregate_groups(scores: np.ndarray, groups: np.ndarray, n: int, rule: str = "mean") -> np.ndarray:
    """:func:`aggregate` of many videos at once: ``scores`` (float) with ``groups`` (int in 0..n-1, each used)."""
    if check_aggregate(rule) == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, groups, scores)
        return out
    return np.bincount(groups, weights=scores, minlength=n) / np.bincount(groups, minlength=n)
