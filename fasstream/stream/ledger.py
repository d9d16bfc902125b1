"""Which offsets may be committed: every partition's commit point is its lowest offset still held.

A message's offset is held from the moment it is read until the broker has acknowledged the
result (and dead letter) that covers it. Sessions finish out of order, so the commit point only
passes offsets whose work is done, and a crash replays every unfinished session from its start.
"""
from __future__ import annotations

from collections import defaultdict


class OffsetLedger:
    """Held offsets per partition; ``commit_point(tp)`` is the offset to commit (lowest held, or last read + 1)."""

    def __init__(self):
        self._held: dict = defaultdict(set)
        self._next: dict = {}

    def hold(self, tp, offset: int) -> None:
        self._held[tp].add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def release(self, tp, offsets) -> None:
        if tp in self._held:
            self._held[tp].difference_update(offsets)

    def commit_point(self, tp) -> int | None:
        if tp not in self._next:
            return None
        held = self._held[tp]
        return min(held) if held else self._next[tp]

    def held(self) -> int:
        return sum(len(v) for v in self._held.values())

    def drop(self, tp) -> None:
        """Forget a partition (revoked: its new owner re-reads from the committed offset)."""
        self._held.pop(tp, None)
        self._next.pop(tp, None)

    def partitions(self) -> list:
        return list(self._next)
