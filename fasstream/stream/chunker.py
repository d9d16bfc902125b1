"""Client side: a local video remuxed (no re-encoding) into a live stream format and cut into chunks."""
from __future__ import annotations

import io
from pathlib import Path

import av
from av.bitstream import BitStreamFilterContext

# container -> (FFmpeg muxer, muxer options)
MUXERS = {
    "mpegts": ("mpegts", {}),
    "mp4": ("mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof"}),
    "h264": ("h264", {}),
}


def remux(path, container: str = "mpegts") -> bytes:
    """The video stream of ``path`` as one ``container`` byte stream (fragmented MP4, MPEG-TS or Annex-B H.264)."""
    if container not in MUXERS:
        raise ValueError(f"container {container!r} for {path}: use one of {', '.join(MUXERS)}")
    muxer, options = MUXERS[container]
    out = io.BytesIO()
    with av.open(str(path)) as src:
        if not src.streams.video:
            raise ValueError(f"{path} has no video stream to send")
        stream = src.streams.video[0]
        if container == "h264" and stream.codec_context.name != "h264":
            raise ValueError(f"{path} holds {stream.codec_context.name}, not H.264: send it as mpegts or mp4")
        # MPEG-TS carries MPEG-4 Part 2 headers in-band: copy them from the MP4 extradata into keyframes
        inband = BitStreamFilterContext("dump_extra", stream) if (
            container == "mpegts" and stream.codec_context.name == "mpeg4") else None
        with av.open(out, mode="w", format=muxer, options=options) as dst:
            target = dst.add_stream_from_template(stream)
            for packet in src.demux(stream):
                if packet.dts is None:
                    continue  # the demuxer's final flush packet
                for filtered in inband.filter(packet) if inband else (packet,):
                    filtered.stream = target
                    dst.mux(filtered)
    return out.getvalue()


def split(data: bytes, chunk_bytes: int) -> list[bytes]:
    """``data`` cut every ``chunk_bytes`` bytes (the last chunk may be shorter)."""
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")
    return [data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]


def video_chunks(path, container: str = "mpegts", chunk_bytes: int = 64 * 1024) -> list[bytes]:
    """A local video as the chunks a camera client would send."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video {path} not found")
    return split(remux(path, container), chunk_bytes)
