"""One session's state in a worker, from its first chunk to its result."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from fasstream.model.aggregate import aggregate
from fasstream.stream.decode import InputError, SessionDecoder

MIN_FRAMES = 10  # one clip: 4 frames at interval 3


@dataclass(eq=False)  # identity: a replayed session is a new object
class Session:
    """Chunks read, clips scored and the offsets held for one session (owned by the worker thread)."""

    sid: str
    tp: object
    container: str
    trace_id: str | None
    face_box: tuple | None
    first_timestamp_ms: int
    last_seen: float = field(default_factory=time.monotonic)
    offsets: list[int] = field(default_factory=list)
    last_chunk: int = -1  # offset of the session's latest chunk read
    marker_sent: float | None = None  # when this worker last appended a timeout marker for it
    next_seq: int = 0
    chunks: int = 0
    bytes: int = 0
    ended: bool = False
    timed_out: bool = False  # its timeout marker was read (never a clock: replays agree)
    decoder: SessionDecoder | None = None
    frames: int | None = None  # set when decoding finished
    clips: int | None = None
    scores: dict[int, float] = field(default_factory=dict)
    faceless: int = 0
    error: InputError | None = None
    last_message: object = None  # the latest raw chunk: dead-lettered if the session ends in an error
    closed: bool = False  # result published or session dropped: later stages skip its clips
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("decode", "face", "queue", "model"), 0.0))

    def check_seq(self, seq: int) -> None:
        """Raise :class:`InputError` unless ``seq`` is the next chunk number."""
        if seq == self.next_seq:
            self.next_seq += 1
            return
        kind, what = ("duplicate_chunk", "repeats") if seq < self.next_seq else ("missing_chunk", "skips to")
        raise InputError(kind, f"session {self.sid}: chunk seq {seq} {what} where {self.next_seq} was expected; "
                               "send every chunk once, numbered 0, 1, 2, ... in order")

    def fail(self, error: InputError) -> None:
        if self.error is None:
            self.error = error
        if self.decoder is not None:
            self.decoder.cancel()

    def ready(self) -> bool:
        """Whether every chunk was read and every clip decoded was scored (or failed)."""
        if self.error is not None:
            return True
        done = (self.ended or self.timed_out) and self.clips is not None
        return done and len(self.scores) + self.faceless >= self.clips

    def result(self, threshold: float, model_version: str, worker: str, rule: str = "mean") -> dict:
        """The result message; its score (its clips' by ``rule``, fasstream.model.aggregate) and decision depend
        only on the session's bytes and the model."""
        error = self.error
        valid = [s for _, s in sorted(self.scores.items()) if math.isfinite(s)]  # clip order: replays sum alike
        if error is None and not self.timed_out:
            if self.frames is not None and self.frames < MIN_FRAMES:
                error = InputError("too_few_frames", f"session {self.sid}: {self.frames} frames decoded, a clip "
                                                     f"needs {MIN_FRAMES}; send a longer session")
            elif len(valid) < len(self.scores):
                error = InputError("model_failed", f"session {self.sid}: the model failed on a batch; see the "
                                                   "worker log and resend the session")
            elif not valid:
                error = InputError("no_face", f"session {self.sid}: no face found in any of its {self.clips} clips; "
                                              "send video with one frontal face, or a face-box header")
        score = round(aggregate(valid, rule), 6) if valid and error is None else None
        status = "error" if error else "timeout" if self.timed_out else "ok"
        return {
            "session_id": self.sid, "status": status,
            "reason": error.reason if error else "timeout" if self.timed_out else None,
            "message": str(error) if error else None,
            "score": score, "decision": None if score is None else "live" if score >= threshold else "spoof",
            "threshold": threshold, "clips": len(valid) if score is not None else 0, "clips_total": self.clips,
            "frames": self.frames, "chunks": self.chunks, "model_version": model_version, "worker": worker,
            "trace_id": self.trace_id,
            "timings_ms": {k: round(1000 * v, 3) for k, v in self.timings.items()},
        }
