"""Streaming throughput and latency: the whole service at rising concurrency, beside decode-only ceilings.

    python benchmarks/bench_pipeline.py                       # tansu on loopback, 1 worker, CPU
    python benchmarks/bench_pipeline.py --model pipelines/models/tiny.pt --sessions 32 --concurrency 1 4 16

Decode-only: every session's MPEG-TS bytes through PyAV (the worker's SessionDecoder, sampled
frames converted to RGB) with no Kafka and no model, run sequentially, on 2 threads and in 2
processes: the ceiling for the pipeline and the measurement behind decoding in processes.
Pipeline: ``--concurrency`` sessions in flight at a time (a new one is sent when a result
arrives); sessions/s and end-to-end latency (first chunk's broker timestamp to result) p50/p95/p99.
Prints a table and writes JSON next to this file.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from fasstream.stream.chunker import remux, split


def _decode_session(data: bytes) -> int:
    from fasstream.stream.decode import Limits, SessionDecoder

    done, clips = threading.Event(), []
    decoder = SessionDecoder("bench", "mpegts", Limits(), clips.append, lambda *a: done.set())
    for chunk in split(data, 16 * 1024):
        decoder.feed(chunk)
    decoder.close()
    done.wait()
    return len(clips)


def decode_only(streams: list[bytes], workers: int, kind: str) -> float:
    """Sessions per second decoding ``streams`` with ``workers`` threads or processes."""
    if workers == 1:
        tic = time.perf_counter()
        for data in streams:
            _decode_session(data)
        return len(streams) / (time.perf_counter() - tic)
    pool = ThreadPoolExecutor(workers) if kind == "threads" else ProcessPoolExecutor(workers)
    with pool:
        list(pool.map(_decode_session, streams[:workers]))  # start the workers before timing
        tic = time.perf_counter()
        list(pool.map(_decode_session, streams))
        return len(streams) / (time.perf_counter() - tic)


def _videos(folder: Path, n: int) -> list[Path]:
    from fasstream.data.synthetic import SPECIES, faces, make_identity, render_video
    from fasstream.data.video import write_video

    identity = make_identity(sorted(faces.source_faces())[0], 3)
    out = []
    for i in range(n):
        frames, _, fps = render_video(identity, SPECIES[i % len(SPECIES)], np.random.SeedSequence([3, i]))
        out.append(write_video(folder / f"v{i}.mp4", frames, fps))
    return out


def _checkpoint(path: Path | None, folder: Path) -> Path:
    if path:
        return path
    from fasstream.model import EulerNet

    model, out = EulerNet(width="tiny"), folder / "tiny.pt"
    torch.save({"model": model.state_dict(), "config": {**model.config, "crop_scale": 1.3}, "threshold": 0.5,
                "metrics": {}, "version": "bench"}, out)
    return out


def pipeline(bootstrap: str, model: Path, videos: list[Path], concurrency: int, args) -> dict:
    """Run one worker in-process and keep ``concurrency`` sessions in flight; returns rates and percentiles."""
    from kafka import KafkaConsumer, KafkaProducer

    from fasstream.stream.client import session_chunks
    from fasstream.stream.config import load_config
    from fasstream.stream.worker import Worker

    run = f"bench-{concurrency}-{time.monotonic_ns()}"
    topics = {"kafka.input_topic": f"{run}-in", "kafka.output_topic": f"{run}-out",
              "kafka.dead_letter_topic": f"{run}-dlq", "kafka.group_id": run}
    cfg = load_config(None, flags={"model": str(model), "kafka.bootstrap_servers": bootstrap, "metrics.port": -1,
                                   "batch.max_batch": args.max_batch, "batch.max_delay_ms": args.max_delay_ms,
                                   **topics})
    worker = Worker(cfg)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    worker.wait_ready(60)
    streams = [list(session_chunks(f"{run}-{i}", split(remux(v, "mpegts"), 16 * 1024), "mpegts"))
               for i, v in enumerate(videos)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    consumer = KafkaConsumer(topics["kafka.output_topic"], bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest")
    latencies, sent, tic = [], 0, time.perf_counter()

    def send_next():
        nonlocal sent
        for key, value, headers in streams[sent]:
            producer.send(topics["kafka.input_topic"], key=key, value=value, headers=headers)
        producer.flush()
        sent += 1

    for _ in range(min(concurrency, len(streams))):
        send_next()
    deadline = time.monotonic() + args.timeout
    while len(latencies) < len(streams) and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=100).values():
            for message in messages:
                latencies.append(json.loads(message.value)["timings_ms"]["end_to_end"])
                if sent < len(streams):
                    send_next()
    elapsed = time.perf_counter() - tic
    worker.stop()
    thread.join(30)
    producer.close()
    consumer.close()
    p = np.percentile(latencies, [50, 95, 99]) if latencies else [float("nan")] * 3
    return {"concurrency": concurrency, "sessions": len(latencies), "sessions_per_s": len(latencies) / elapsed,
            "p50_ms": float(p[0]), "p95_ms": float(p[1]), "p99_ms": float(p[2])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", help="a running Kafka (default: tansu on loopback)")
    parser.add_argument("--model", type=Path, help="checkpoint (default: an untrained tiny EulerNet)")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-delay-ms", type=float, default=20.0)
    parser.add_argument("--decode-repeat", type=int, default=8, help="decode-only runs every session this often")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("bench_pipeline.json"))
    args = parser.parse_args()

    from fasstream.stream.broker import LocalBroker

    folder = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    videos = _videos(folder, args.sessions)
    streams = [remux(v, "mpegts") for v in videos] * args.decode_repeat
    frames = sum(len(s) for s in streams)
    decode = {f"{n} {kind}": decode_only(streams, n, kind) for n, kind in ((1, "sequential"), (2, "threads"),
                                                                         (2, "processes"))}
    print(f"decode only ({len(streams)} sessions, {frames / 1e6:.1f} MB of MPEG-TS):")
    for name, rate in decode.items():
        print(f"  {name:<14} {rate:8.1f} sessions/s")
    broker = None if args.bootstrap_servers else LocalBroker()
    bootstrap = args.bootstrap_servers or broker.start()
    try:
        model = _checkpoint(args.model, folder)
        rows = [pipeline(bootstrap, model, videos, c, args) for c in args.concurrency]
    finally:
        if broker:
            broker.stop()
    print(f"\npipeline (1 worker, device {'cuda' if torch.cuda.is_available() else 'cpu'}, "
          f"max_batch {args.max_batch}, max_delay_ms {args.max_delay_ms}):")
    print(f"  {'concurrency':>11} {'sessions/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"  {r['concurrency']:>11} {r['sessions_per_s']:>10.2f} {r['p50_ms']:>8.0f} {r['p95_ms']:>8.0f} "
              f"{r['p99_ms']:>8.0f}")
    args.out.write_text(json.dumps({
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.platform(), "cpus": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "decode_only_sessions_per_s": decode, "pipeline": rows}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
