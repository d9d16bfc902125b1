"""Flow control of a worker: sessions put off while it has no room, and the re-read that admits them.

A worker never refuses a session for lack of room. When ``limits.open_sessions`` sessions are
open, a new session's chunks are *deferred*: read past (their offsets stay held, so nothing
is committed beyond them) and not buffered. The partition keeps being read, so the open
sessions on it get their next chunks and finish. Once half the room is free, the partition is
sought back to its first deferred chunk and re-read; in that pass only the deferred sessions'
chunks are processed, everything else up to where the pass started was handled already.
"""
from __future__ import annotations

import threading


class ByteCount:
    """A counter that several threads add to and take from (bytes of decoded frames waiting)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n


class Deferral:
    """One partition's deferred sessions (this pass) and the re-read that admits them (the previous pass)."""

    def __init__(self):
        self.sessions: set[str] = set()  # deferred in this pass
        self.start: int | None = None  # offset of their first chunk: where the re-read starts
        self.position = -1  # offset of the last message seen in this pass
        self._rereading: set[str] = set()  # the sessions the current re-read is for
        self._reread_end = -1  # the re-read ends after this offset (where the previous pass was)

    def seen(self, offset: int, session: str) -> bool:
        """Note the message at ``offset``; True when a re-read meets a message handled in the previous pass."""
        self.position = offset
        return offset <= self._reread_end and session not in self._rereading

    def defers(self, session: str) -> bool:
        return session in self.sessions

    def defer(self, session: str, offset: int) -> None:
        self.sessions.add(session)
        self.start = offset if self.start is None else min(self.start, offset)

    def can_reread(self) -> bool:
        """Deferred sessions wait, and the previous re-read is over (a re-read never starts inside another)."""
        return bool(self.sessions) and self.position >= self._reread_end

    def reread(self) -> int:
        """Start the re-read of the deferred sessions; returns the offset to seek to."""
        start = self.start
        self._rereading, self._reread_end = self.sessions, self.position
        self.sessions, self.start, self.position = set(), None, start - 1
        return start
