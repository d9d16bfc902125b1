"""``fasstream send VIDEO...``: stream local videos as sessions, chunked like camera clients."""
from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path

from fasstream.stream import protocol


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", type=Path, help="video files; each becomes one session")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("FASSTREAM_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--topic", default=protocol.INPUT_TOPIC)
    parser.add_argument("--container", default="mpegts", choices=("mpegts", "mp4", "h264"),
                        help="stream format the video is remuxed to (no re-encoding)")
    parser.add_argument("--chunk-bytes", type=int, default=64 * 1024, help="bytes per chunk message")
    parser.add_argument("--interval-ms", type=float, default=0.0, help="pause between rounds of chunks")
    parser.add_argument("--prefix", default="", help="session id prefix (default: a random one per run)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="seconds to reach the broker")
    parser.add_argument("--face-box", metavar="X0,Y0,SIZE",
                        help="square face box in frame pixels sent with every session (workers with "
                             "face_detector: client need one)")


def _check(args: argparse.Namespace) -> tuple[dict[str, Path], tuple | None]:
    """(session id -> video, face box); raises SystemExit naming the bad argument and the fix."""
    try:
        box = protocol.parse_face_box(args.face_box)
    except ValueError as err:
        raise SystemExit(f"fasstream send: --face-box {err}; give the square face box in frame pixels") from None
    if args.chunk_bytes < 1:
        raise SystemExit(f"fasstream send: --chunk-bytes {args.chunk_bytes} must be 1 or more")
    if args.interval_ms < 0 or args.connect_timeout <= 0:
        raise SystemExit("fasstream send: --interval-ms must be 0 or more and --connect-timeout more than 0")
    missing = [str(v) for v in args.videos if not v.is_file()]
    if missing:
        raise SystemExit(f"fasstream send: no such video: {', '.join(missing)}")
    prefix = args.prefix or f"{uuid.uuid4().hex[:8]}-"
    videos: dict[str, Path] = {}
    for video in args.videos:
        sid = f"{prefix}{video.stem}"
        if sid in videos:
            raise SystemExit(f"fasstream send: {videos[sid]} and {video} would both be session {sid}; "
                             "give the files different names or send them in separate runs")
        videos[sid] = video
    return videos, box


def run(args: argparse.Namespace) -> int:
    import av
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from fasstream.stream.client import send_videos

    videos, box = _check(args)
    try:
        producer = KafkaProducer(bootstrap_servers=args.bootstrap_servers,
                                 bootstrap_timeout_ms=int(1000 * args.connect_timeout))
    except KafkaError as err:
        raise SystemExit(f"fasstream send: no Kafka broker at {args.bootstrap_servers} ({err}); start one or pass "
                         "--bootstrap-servers HOST:PORT") from None
    try:
        send_videos(producer, args.topic, videos, args.container, args.chunk_bytes, args.interval_ms / 1000, box)
    except (av.FFmpegError, ValueError) as err:
        raise SystemExit(f"fasstream send: {err}; send video files (H.264 or MPEG-4)") from None
    except KafkaError as err:
        raise SystemExit(f"fasstream send: the broker refused a chunk of topic {args.topic} ({err}); check the "
                         "topic and lower --chunk-bytes below the broker's message.max.bytes") from None
    finally:
        producer.close()
    for sid, path in videos.items():
        print(f"{sid}\t{path}")
    return 0
