"""Video files in and out (PyAV), and the 4-frame clips the model reads.

A video in memory is ``(N, H, W, 3) uint8`` RGB plus its frame rate. Clips follow
docs/CONTRACTS.md: 4 frames at interval 3 (raw frames i, i+3, i+6, i+9), one clip every 10 raw
frames, so consecutive clips cover disjoint runs of frames.
"""
from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLIP_LENGTH = 4
CLIP_INTERVAL = 3
CLIP_STEP = 10

# name accepted by write_video -> (FFmpeg encoder, encoder options)
_CODECS = {
    "h264": ("libx264", {"preset": "veryfast"}),
    "mpeg4": ("mpeg4", {}),
}
_MPEG4_QSCALE = 3  # fixed quantiser for mpeg4: 2 is best, 31 worst
_REPRODUCIBLE = {"h264": {"x264-params": "mbtree=0"}, "mpeg4": {}}


class VideoError(RuntimeError):
    """A video could not be read or written; the message names the input."""


def _describe(source) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes in memory>"
    return str(source)


def read_video(source, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video from a path or from its bytes into ``(frames (N,H,W,3) uint8 RGB, fps)``.

    ``max_frames`` stops decoding after that many frames. Raises ``VideoError`` naming the input
    when it cannot be opened or decoded, has no video stream, or holds no frame.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be a positive number or None, got {max_frames}")
    name = _describe(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise VideoError(f"cannot read video {name}: the buffer is empty")
        handle = io.BytesIO(bytes(source))
    else:
        if not os.path.isfile(source):
            raise VideoError(f"cannot read video {name}: no such file")
        handle = str(source)
    frames: list[np.ndarray] = []
    try:
        with av.open(handle, mode="r") as container:
            if not container.streams.video:
                raise VideoError(f"cannot read video {name}: it has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except av.FFmpegError as exc:
        raise VideoError(f"cannot read video {name}: {exc}; is it a complete video file?") from exc
    if not frames:
        raise VideoError(f"cannot read video {name}: it holds no decodable frame")
    if not rate:
        raise VideoError(f"cannot read video {name}: its frame rate is not stored in the container")
    if len({f.shape for f in frames}) > 1:
        raise VideoError(f"cannot read video {name}: its frame size changes mid-stream")
    return np.stack(frames), float(rate)


def write_video(path, frames: np.ndarray, fps: float, codec: str = "h264", reproducible: bool = False,
                crf: int = 17) -> Path:
    """Encode ``frames (N,H,W,3) uint8 RGB`` to ``path`` as yuv420p ``"h264"`` (at ``crf``, 0-51) or ``"mpeg4"``.

    The container follows the suffix (``.mp4``, ``.mkv``, ``.avi``, ``.ts``). Width and height must
    be even, as yuv420p needs. ``reproducible`` encodes on one thread and, for H.264, without
    macroblock-tree rate control, whose output varies from run to run; files are then
    byte-identical for identical frames (and somewhat larger). Returns the path.
    """
    path = Path(path)
    if codec not in _CODECS:
        raise ValueError(f"unknown codec {codec!r} for {path}: use one of {sorted(_CODECS)}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames for {path} must be a non-empty (N, H, W, 3) uint8 RGB array, "
                         f"got shape {frames.shape} dtype {frames.dtype}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"frames for {path} are {width}x{height}; yuv420p needs even width and height: "
                         "crop or pad them by one pixel")
    if not fps > 0:
        raise ValueError(f"fps for {path} must be positive, got {fps}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf for {path} must be 0 (lossless) to 51 (worst), got {crf}")
    encoder, options = _CODECS[codec]
    try:
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            opts = dict(options, **(_REPRODUCIBLE[codec] if reproducible else {}))
            stream.options = dict(opts, crf=str(crf)) if codec == "h264" else opts
            if reproducible:
                stream.codec_context.thread_count = 1
            if codec == "mpeg4":
                stream.codec_context.qscale = _MPEG4_QSCALE
            for image in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except av.FFmpegError as exc:
        raise VideoError(f"cannot write video {path}: {exc}") from exc
    return path


def clip_starts(n_frames: int, length: int = CLIP_LENGTH, interval: int = CLIP_INTERVAL,
                step: int = CLIP_STEP) -> list[int]:
    """First raw frame of every clip of a ``n_frames`` video: ``0, step, 2*step, ...`` while the clip fits.

    A clip spans ``(length - 1) * interval + 1`` raw frames. Raises ``ValueError`` when not even
    one clip fits.
    """
    if length < 1 or interval < 1 or step < 1:
        raise ValueError(f"length, interval and step must be >= 1, got {length}, {interval}, {step}")
    span = (length - 1) * interval + 1
    if n_frames < span:
        raise ValueError(f"a video of {n_frames} frames is too short for one clip: a clip of {length} "
                         f"frames at interval {interval} needs at least {span} frames")
    return list(range(0, n_frames - span + 1, step))


def sample_clips(frames: np.ndarray, length: int = CLIP_LENGTH, interval: int = CLIP_INTERVAL,
                 step: int = CLIP_STEP) -> np.ndarray:
    """Cut ``frames (N, ...)`` into clips ``(K, length, ...)`` at the starts of ``clip_starts``."""
    frames = np.asarray(frames)
    starts = np.asarray(clip_starts(len(frames), length, interval, step))
    index = starts[:, None] + interval * np.arange(length)[None, :]
    return frames[index]
