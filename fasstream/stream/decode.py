"""Incremental decoding of one session: bytes in as chunks arrive, sampled RGB frames out.

Each open session owns a :class:`SessionDecoder`: a daemon thread whose PyAV demuxer reads a
blocking in-memory pipe, so chunks can be cut at any byte offset. Every frame is decoded (the
codec needs them), but only the frames that a clip uses (docs/CONTRACTS.md: 4 frames at
interval 3, a clip every 10 frames) are converted to RGB.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import av
import numpy as np

from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, CLIP_STEP

av.logging.set_level(None)  # FFmpeg's logging callback takes the GIL from decoder threads

# container header value -> FFmpeg demuxer
FORMATS = {"mpegts": "mpegts", "mp4": "mp4", "h264": "h264"}
CODECS = ("h264", "mpeg4")
_OPEN_OPTIONS = {"probesize": "32768", "analyzeduration": "0", "fpsprobesize": "0"}


class InputError(ValueError):
    """Bad session input; ``reason`` is a short machine-readable code, the message says the fix."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Per-session decode limits (``limits`` in the serve config)."""

    frame_pixels: int = 1920 * 1080
    session_frames: int = 1800
    session_seconds: float = 60.0


@dataclass
class Clip:
    """Four sampled frames of one session, ``frames (4, H, W, 3) uint8`` RGB, starting at raw frame ``start``."""

    index: int
    start: int
    frames: np.ndarray
    decoded_at: float = field(default_factory=time.perf_counter)


class _Pipe:
    """A read-only, non-seekable file that blocks until bytes are written or the writer closes it.

    While ``whole_reads`` is set, a read returns the full size asked for (less only at the end):
    FFmpeg's MP4 demuxer misparses a sample description (stsd) that a short read cuts in two
    ("overread end of atom 'stsd'"), so the container header is read that way. Afterwards a read
    returns what has arrived, so frames decode as soon as their bytes come.
    """

    def __init__(self):
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._buffer = memoryview(b"")
        self._eof = False
        self.whole_reads = False
        self.waited = 0.0  # seconds spent waiting for the writer
        self.written = 0  # bytes written (writer thread) and read (reader thread): one writer each
        self.read_bytes = 0

    def write(self, data: bytes) -> None:
        if data:
            self.written += len(data)
            self._chunks.put(bytes(data))

    def close_writer(self) -> None:
        self._chunks.put(None)

    def _more(self) -> bytes | None:
        tic = time.perf_counter()
        item = self._chunks.get()
        self.waited += time.perf_counter() - tic
        if item is None:
            self._eof = True
        return item

    def read(self, size: int = -1) -> bytes:
        while not self._buffer and not self._eof:
            self._buffer = memoryview(self._more() or b"")
        size = len(self._buffer) if size is None or size < 0 else size
        if self.whole_reads and len(self._buffer) < size:
            pieces, have = [bytes(self._buffer)], len(self._buffer)
            while have < size and not self._eof and (item := self._more()) is not None:
                pieces.append(item)
                have += len(item)
            self._buffer = memoryview(b"".join(pieces))
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.read_bytes += len(out)
        return bytes(out)


class FrameSampler:
    """Collects the frames of the clips in decode order: ``push(index, frame)`` returns a finished Clip or None."""

    def __init__(self, length: int = CLIP_LENGTH, interval: int = CLIP_INTERVAL, step: int = CLIP_STEP):
        self.length, self.interval, self.step = length, interval, step
        self.span = (length - 1) * interval + 1
        if self.span > step:
            raise ValueError(f"clips of {length} frames at interval {interval} span {self.span} frames, more than "
                             f"the step {step}; clips must not overlap")
        self._frames: list[np.ndarray] = []

    def wants(self, index: int) -> bool:
        """Whether raw frame ``index`` belongs to a clip."""
        offset = index % self.step
        return offset < self.span and offset % self.interval == 0

    def push(self, index: int, frame: np.ndarray) -> Clip | None:
        self._frames.append(frame)
        if len(self._frames) < self.length:
            return None
        frames, self._frames = np.stack(self._frames), []
        return Clip(index=index // self.step, start=index - self.span + 1, frames=frames)


class SessionDecoder:
    """Decodes one session's byte stream on its own thread.

    ``feed(data)`` and ``close()`` come from the consumer thread; ``on_clip(clip)`` runs on the
    decoder thread for every finished clip and ``on_done(frames, clips, error, seconds)`` once at
    the end, with ``error`` an :class:`InputError` or None and ``seconds`` the time spent decoding,
    not waiting for bytes.
    """

    def __init__(self, name: str, container: str, limits: Limits, on_clip: Callable[[Clip], None],
                 on_done: Callable[[int, int, InputError | None, float], None], sampler: FrameSampler | None = None):
        if container not in FORMATS:
            raise InputError("unsupported_container", f"session {name}: container {container!r} is not supported; "
                                                      f"send one of {', '.join(FORMATS)}")
        self.name, self.container, self.limits = name, container, limits
        self._on_clip, self._on_done = on_clip, on_done
        self._sampler = sampler or FrameSampler()
        self._pipe = _Pipe()
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name=f"decode-{name}", daemon=True)
        self._thread.start()

    def feed(self, data: bytes) -> None:
        self._pipe.write(data)

    @property
    def pending_bytes(self) -> int:
        """Bytes fed but not yet read by the demuxer."""
        return self._pipe.written - self._pipe.read_bytes

    def close(self) -> None:
        """No more bytes: the decoder drains what it has and reports ``on_done``."""
        self._pipe.close_writer()

    def cancel(self) -> None:
        """Stop without reporting anything (the session was dropped)."""
        self._cancelled = True
        self._pipe.close_writer()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        frames = clips = 0
        start = time.perf_counter()
        error = None
        try:
            self._pipe.whole_reads = True
            with av.open(self._pipe, mode="r", format=FORMATS[self.container], options=_OPEN_OPTIONS) as container:
                self._pipe.whole_reads = False
                if not container.streams.video:
                    raise InputError("no_video", f"session {self.name}: the {self.container} stream has no video "
                                                 "track; send H.264 or MPEG-4 video")
                stream = container.streams.video[0]
                if stream.codec_context.name not in CODECS:
                    raise InputError("unsupported_codec", f"session {self.name}: codec {stream.codec_context.name!r} "
                                                          f"is not supported; encode with {' or '.join(CODECS)}")
                for packet in container.demux(stream):
                    if self._cancelled:
                        return
                    for frame in packet.decode():
                        self._check(frame, frames)
                        if self._sampler.wants(frames):
                            clip = self._sampler.push(frames, frame.to_ndarray(format="rgb24"))
                            if clip is not None:
                                clips += 1
                                self._on_clip(clip)
                        frames += 1
        except InputError as err:
            error = err
        except av.FFmpegError as err:
            error = InputError("undecodable", f"session {self.name}: the {self.container} bytes do not decode "
                                              f"after {frames} frames ({err}); send a valid {self.container} stream")
        except (ValueError, EOFError) as err:  # PyAV raises these for streams that end before any header
            error = InputError("undecodable", f"session {self.name}: no {self.container} stream could be read "
                                              f"({err}); send a valid {self.container} stream")
        if not self._cancelled:
            self._on_done(frames, clips, error, time.perf_counter() - start - self._pipe.waited)

    def _check(self, frame: av.VideoFrame, index: int) -> None:
        lim = self.limits
        if frame.width * frame.height > lim.frame_pixels:
            raise InputError("frame_too_large", f"session {self.name}: frames are {frame.width}x{frame.height}, "
                                                f"over limits.frame_pixels={lim.frame_pixels}; scale the video down")
        if index >= lim.session_frames:
            raise InputError("too_many_frames", f"session {self.name}: more than limits.session_frames="
                                                f"{lim.session_frames} frames; send shorter sessions")
        if frame.time is not None and frame.time > lim.session_seconds:
            raise InputError("too_long", f"session {self.name}: frame at {frame.time:.1f} s is past "
                                         f"limits.session_seconds={lim.session_seconds}; send shorter sessions")
