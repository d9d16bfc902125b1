"""The wire format: topics, chunk headers and the result message (all header values UTF-8 text).

A chunk is one Kafka message keyed by the session id. Headers:
  session-id   the session (also the key)           seq        0, 1, 2, ... per session
  container    mpegts | mp4 (fragmented) | h264 (Annex-B)
  end          "1" on the session's last chunk      face-box   optional "x0,y0,size" square, frame pixels
  trace-id     optional, copied to the result       content-ref optional claim check: a file:// or http(s)://
                                                                URL to read instead of the value
Workers also append one control record to the input: a timeout marker (``control: timeout``,
``after-offset``: the session's last chunk offset the worker had read), docs/streaming.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from fasstream.stream.decode import FORMATS, InputError

INPUT_TOPIC = "fas.sessions.chunks"
OUTPUT_TOPIC = "fas.sessions.results"
DEAD_LETTER_TOPIC = "fas.sessions.deadletter"

SESSION, SEQ, CONTAINER, END, FACE_BOX, TRACE, REF = (
    "session-id", "seq", "container", "end", "face-box", "trace-id", "content-ref")
ERROR, STATUS = "error", "status"
CONTROL, AFTER_OFFSET = "control", "after-offset"


@dataclass(frozen=True)
class Chunk:
    """One parsed chunk message; ``data`` is empty when ``ref`` points at the bytes."""

    session: str
    seq: int
    container: str
    end: bool
    data: bytes
    ref: str | None = None
    face_box: tuple[float, float, float] | None = None
    trace_id: str | None = None


def chunk_headers(session: str, seq: int, container: str, end: bool, face_box=None, trace_id: str | None = None,
                  ref: str | None = None) -> list[tuple[str, bytes]]:
    """Kafka headers of one chunk."""
    items = {SESSION: session, SEQ: str(seq), CONTAINER: container, END: "1" if end else "0",
             FACE_BOX: ",".join(f"{v:g}" for v in face_box) if face_box is not None else None,
             TRACE: trace_id, REF: ref}
    return [(k, v.encode()) for k, v in items.items() if v is not None]


def header_dict(headers) -> dict[str, str]:
    """Kafka headers as text; undecodable values become U+FFFD."""
    return {k: (v or b"").decode("utf-8", "replace") for k, v in headers or ()}


def session_of(key: bytes | None, headers) -> str:
    """The session a message belongs to: its session-id header, else its key ("" for neither)."""
    return header_dict(headers).get(SESSION) or (key or b"").decode("utf-8", "replace")


@dataclass(frozen=True)
class TimeoutMarker:
    """A worker's decision, made durable in the input partition, that ``session`` timed out after the
    chunk at ``after_offset``; it takes effect only if that chunk is still the session's last one."""

    session: str
    after_offset: int


def timeout_marker(session: str, after_offset: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """``(key, value, headers)`` of a timeout marker."""
    return session.encode(), b"", [(SESSION, session.encode()), (CONTROL, b"timeout"),
                                   (AFTER_OFFSET, str(after_offset).encode())]


def parse_marker(headers) -> TimeoutMarker | None:
    """The timeout marker a message holds, or None for a chunk."""
    h = header_dict(headers)
    if h.get(CONTROL) != "timeout":
        return None
    try:
        return TimeoutMarker(h.get(SESSION, ""), int(h.get(AFTER_OFFSET, "")))
    except ValueError:
        return TimeoutMarker(h.get(SESSION, ""), -1)  # never matches a chunk offset: void


def parse_chunk(key: bytes | None, value: bytes | None, headers) -> Chunk:
    """Read a chunk message; raises :class:`InputError` naming the bad header and the fix."""
    h = header_dict(headers)
    session = h.get(SESSION) or (key or b"").decode("utf-8", "replace")
    if not session:
        raise InputError("no_session", f"a chunk has neither a {SESSION} header nor a key; set both to the session id")
    try:
        seq = int(h.get(SEQ, ""))
    except ValueError:
        raise InputError("bad_header", f"session {session}: {SEQ} header {h.get(SEQ)!r} is not an integer; "
                                       "number chunks 0, 1, 2, ...") from None
    container = h.get(CONTAINER, "")
    if container not in FORMATS:
        raise InputError("unsupported_container", f"session {session}: {CONTAINER} header {container!r} is not "
                                                  f"supported; use one of {', '.join(FORMATS)}")
    return Chunk(session=session, seq=seq, container=container, end=h.get(END, "0") in ("1", "true"),
                 data=bytes(value or b""), ref=h.get(REF) or None, face_box=_face_box(session, h.get(FACE_BOX)),
                 trace_id=h.get(TRACE) or None)


def parse_face_box(text: str | None) -> tuple[float, float, float] | None:
    """``"x0,y0,size"`` -> (x0, y0, size); None for no text; ValueError when it is not three numbers with size > 0."""
    if not text:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 3 or not all(math.isfinite(v) for v in box) or box[2] <= 0:
        raise ValueError(f"{text!r} is not 'x0,y0,size' with size > 0")
    return box


def _face_box(session: str, text: str | None) -> tuple[float, float, float] | None:
    try:
        return parse_face_box(text)
    except ValueError as err:
        raise InputError("bad_header", f"session {session}: {FACE_BOX} header {err}; send the square face box "
                                       "in frame pixels or leave it out") from None


def encode_result(result: dict) -> bytes:
    return json.dumps(result, sort_keys=True, separators=(",", ":")).encode()


def result_headers(result: dict) -> list[tuple[str, bytes]]:
    items = {SESSION: result["session_id"], STATUS: result["status"], TRACE: result.get("trace_id")}
    return [(k, str(v).encode()) for k, v in items.items() if v is not None]
