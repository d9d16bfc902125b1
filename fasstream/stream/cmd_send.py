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


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from fasstream.stream.client import send_videos

    prefix = args.prefix or f"{uuid.uuid4().hex[:8]}-"
    missing = [str(v) for v in args.videos if not v.is_file()]
    if missing:
        raise SystemExit(f"fasstream send: no such video: {', '.join(missing)}")
    videos = {f"{prefix}{v.stem}": v for v in args.videos}
    producer = KafkaProducer(bootstrap_servers=args.bootstrap_servers)
    try:
        send_videos(producer, args.topic, videos, args.container, args.chunk_bytes, args.interval_ms / 1000)
    finally:
        producer.close()
    for sid, path in videos.items():
        print(f"{sid}\t{path}")
    return 0
