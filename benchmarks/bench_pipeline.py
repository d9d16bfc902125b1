"""Streaming throughput and latency: the whole service at rising load, against its model-only ceiling.

    python benchmarks/bench_pipeline.py                       # tansu on loopback, 1 worker, CPU
    python benchmarks/bench_pipeline.py --model pipelines/models/tiny.pt --sessions 64 --concurrency 1 4 16

Ceilings, measured in the same run while the service is not running:
- model only: the worker's model (same device, precision and torch threads) on random crops at the
  serving batch size (``--max-batch``, 0: 16 on CUDA, 1 on a CPU): clips/s, divided by the videos'
  mean clips per session = the sessions/s no pipeline can pass. A session's model-only time is its
  clips' batches at that size, one after another. The fastest of 20 batches, before and after the
  pipeline runs (the faster of the two is the ceiling): on a shared machine the ratio errs low. Saturation is
  printed as a ratio of the ceiling, and p99 at half saturation against 2x a session's model-only time.
- face stage only: the worker's face stage (``--face-detector``) on the videos' clips, a track per
  video, ``face_batch`` clips of different videos per call.
- decode only: every video's MPEG-TS bytes through PyAV (the worker's SessionDecoder, sampled frames
  converted to RGB) with no Kafka and no model, sequentially, on 2 threads and in 2 processes.
- work ceiling: the machine's cores divided by a session's decode + face + model time, each stage
  alone on one thread (run with ``--threads 1``): what a worker whose stages share these cores could
  reach with Kafka, glue and contention free. Saturation is printed as a ratio of it too, and p99 at
  half saturation against 2x a session's work (its stages alone, one after another).
Every pipeline run also reads /proc for the CPU time the workers, the broker and this client spent
per session, and the cores they kept busy: where the cores went when the service saturated.
Pipeline (``--workers`` worker processes, 16 KiB chunks): closed loop with ``--concurrency`` sessions
in flight (a new one started when a result arrives), then open loop at ``--load`` times the best
closed-loop rate (the issue's "half saturation"). ``--pace burst`` sends each session's chunks at
once (a recorded video uploaded); ``--pace realtime`` spreads them over the video's duration, as a
camera streaming live would. Latency is from the broker's acknowledgement of a session's end chunk
to the client reading its result, p50/p95/p99.
Prints a table and writes JSON (``--out``).

The workers' face stage is ``--face-detector`` (default mtcnn, batched on the worker's device).
Client face boxes (``--client-boxes``): every session carries its video's face box and the workers
run with ``face_detector: client``, no detector in the service. ``--save-videos DIR`` writes the
synthetic videos and their boxes (``boxes.json``, found with the default face stage) and exits;
``--video-dir DIR`` benchmarks those instead of making new ones (benchmarks/gpu_checks.sh, step
pipeline, on a machine without the generator's face images).
"""
from __future__ import annotations

import argparse
import datetime
import heapq
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from fasstream import cores
from fasstream.stream import protocol
from fasstream.stream.chunker import remux, split

ROOT = Path(__file__).resolve().parents[1]


def _process_table() -> dict[int, tuple[int, float]]:
    """{pid: (parent pid, CPU seconds used so far, user + system)} of every process, from /proc."""
    tick, table = os.sysconf("SC_CLK_TCK"), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited meanwhile
                continue
            table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def _tree_cpu_seconds(table: dict[int, tuple[int, float]], pid: int) -> float:
    """CPU seconds of process ``pid`` and its live descendants in ``table``."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += table.get(p, (0, 0.0))[1]
        todo += [c for c, (ppid, _) in table.items() if ppid == p]
    return total


class CpuMeter:
    """CPU seconds spent between ``start()`` and ``stop()`` by named process trees and by this process."""

    def __init__(self, trees: dict[str, list[int]]):
        self.trees = trees

    def _now(self) -> dict[str, float]:
        table = _process_table()  # one scan of /proc a snapshot, whatever the number of trees
        return {**{name: sum(_tree_cpu_seconds(table, p) for p in pids) for name, pids in self.trees.items()},
                "client": time.process_time()}

    def start(self) -> None:
        self._t0, self._cpu0 = time.perf_counter(), self._now()

    def stop(self) -> dict:
        """Wall seconds and {name: CPU seconds} since ``start()``; "client" is this process (its threads)."""
        cpu = self._now()
        return {"wall_s": time.perf_counter() - self._t0, "cpu_s": {k: cpu[k] - self._cpu0[k] for k in cpu}}


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
    """``n`` synthetic videos of one identity (40-60 frames of 320x320), the species in turn."""
    from fasstream.data.synthetic import SPECIES, faces, make_identity, render_video
    from fasstream.data.video import write_video

    identity = make_identity(sorted(faces.source_faces())[0], 3)
    out = []
    for i in range(n):
        frames, _, fps = render_video(identity, SPECIES[i % len(SPECIES)], np.random.SeedSequence([3, i]))
        out.append(write_video(folder / f"v{i}.mp4", frames, fps))
    return out


def _face_boxes(videos: list[Path], crop_scale: float = 1.3) -> dict[str, list[float]]:
    """Each video's face box (x0, y0, side) as a client would send it: the first clip's, from the face stage."""
    from fasstream.data.video import read_video, sample_clips
    from fasstream.faces.stage import load_tracker

    tracker, out = load_tracker(crop_scale=crop_scale), {}
    for video in videos:
        frames, _ = read_video(video)
        box = tracker.boxes([(tracker.track(), sample_clips(frames)[0], None)])[0]
        if box is None:
            raise RuntimeError(f"{video}: no face in its first clip; a client box cannot be made")
        out[video.name] = [round(float(v), 2) for v in box]
    return out


def _duration(video: Path) -> float:
    """Seconds of video, from the container's frame count and rate (nothing decoded)."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        return stream.frames / float(stream.average_rate)


def _serving_batch(args) -> int:
    return args.max_batch or (16 if torch.cuda.is_available() else 1)


def model_only(model: Path, args, clips_per_session: float, repeats: int = 20) -> dict:
    """The worker's model alone at the serving batch size: clips/s, the sessions/s ceiling, a session's time."""
    from fasstream.stream.batcher import DynamicBatcher, load_model

    if args.threads and not torch.cuda.is_available():
        torch.set_num_threads(args.threads)
    loaded = load_model(model, "auto", args.precision)
    size, batch = loaded.model.size, _serving_batch(args)
    batcher = DynamicBatcher(loaded, lambda *a: None, max_batch=batch)
    batcher.stop()
    crops = np.random.default_rng(0).integers(0, 256, (batch, 4, size, size, 3), dtype=np.uint8)
    for _ in range(3):
        batcher.predict(crops)  # warm-up (and cuDNN's choices)
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        batcher.predict(crops)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
    per_batch = float(np.min(times))  # the uncontended cost: on a shared machine the ratio errs low, not high
    clips_per_s = batch / per_batch
    return {"batch": batch, "batch_ms": 1000 * per_batch, "batch_ms_median": 1000 * float(np.median(times)),
            "clips_per_s": clips_per_s,
            "clips_per_session": clips_per_session, "sessions_per_s": clips_per_s / clips_per_session,
            "session_ms": 1000 * per_batch * float(np.ceil(clips_per_session / batch))}


def face_only(clips: list[np.ndarray], args, model: Path) -> dict:
    """The worker's face stage alone (the crop of checkpoint ``model``: size, scale, stabilisation, resampling):
    clips/s over the videos' clips, a track per video, batched across videos."""
    from fasstream.model.checkpoint import load_checkpoint
    from fasstream.stream.crop import FaceCropper

    config = load_checkpoint(model)[1]["config"]
    cropper = FaceCropper.from_config(args.face_detector, "auto", config.get("size", 256),
                                      config.get("crop_scale", 1.3), bool(config.get("stabilise", False)),
                                      config.get("resample", "linear"))
    cropper.load()
    tracks = [cropper.track() for _ in clips]
    rounds = max(len(c) for c in clips)
    tic, done = time.perf_counter(), 0
    for k in range(rounds):
        items = [(t, c[k], None) for t, c in zip(tracks, clips) if k < len(c)]
        for i in range(0, len(items), args.face_batch):
            cropper.crops(items[i:i + args.face_batch])
        done += len(items)
    return {"clips_per_s": done / (time.perf_counter() - tic), "face_batch": args.face_batch}


def work_ceiling(decode_per_s: float, faces: dict | None, model: dict, cores: int) -> dict:
    """Sessions/s if every stage's one-thread work (decode, face stage, model, each measured alone) shared
    ``cores`` perfectly with no other cost: the bound for a worker whose stages run on the same CPU."""
    clips = model["clips_per_session"]
    stage_ms = {"decode": 1000 / decode_per_s, **({"face": 1000 * clips / faces["clips_per_s"]} if faces else {}),
                "model": 1000 * clips / model["clips_per_s"]}
    return {"stage_ms": stage_ms, "cores": cores, "session_ms": sum(stage_ms.values()),
            "sessions_per_s": 1000 * cores / sum(stage_ms.values())}


def _checkpoint(path: Path | None, folder: Path, width: str) -> Path:
    if path:
        return path
    from fasstream.model import EulerNet

    model, out = EulerNet(width=width), folder / f"{width}.pt"
    torch.save({"model": model.state_dict(), "config": {**model.config, "crop_scale": 1.3}, "threshold": 0.5,
                "metrics": {}, "version": "bench"}, out)
    return out


class _Service:
    """``--workers`` ``fasstream serve`` processes on fresh topics, a producer of sessions and a reader of results."""

    def __init__(self, bootstrap: str, model: Path, streams: list[list[bytes]], boxes: list, durations: list[float],
                 args, tag: str):
        from kafka import KafkaConsumer, KafkaProducer

        from fasstream.stream.broker import free_port
        from fasstream.stream.topics import ensure_topics

        self.run_id = f"bench-{tag}-{time.monotonic_ns()}"
        self.topics = {"kafka.input_topic": f"{self.run_id}-in", "kafka.output_topic": f"{self.run_id}-out",
                       "kafka.dead_letter_topic": f"{self.run_id}-dlq"}
        ensure_topics(bootstrap, list(self.topics.values()), partitions=4)
        sets = [f"{k}={v}" for k, v in {**self.topics, "batch.max_batch": args.max_batch, "batch.threads": args.threads,
                                        "batch.precision": args.precision, "crop_threads": args.crop_threads,
                                        "batch.max_delay_ms": args.max_delay_ms, "face_batch": args.face_batch,
                                        "face_detector": args.face_detector}.items()]
        self.ports = [free_port() for _ in range(args.workers)]
        self.procs = [subprocess.Popen(
            [sys.executable, "-m", "fasstream.cli", "serve", "--bootstrap-servers", bootstrap, "--model", str(model),
             "--group-id", self.run_id, "--metrics-port", str(port), "--log-level", "WARNING", "--set", *sets],
            cwd=ROOT) for port in self.ports]
        self._wait_ready(90)
        self.streams, self.boxes, self.durations, self.realtime = streams, boxes, durations, args.pace == "realtime"
        self.sent, self.ended, self.stages, self.due = 0, {}, [], []  # due: heap of (time, sid, seq, message)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        self.consumer = KafkaConsumer(self.topics["kafka.output_topic"], bootstrap_servers=bootstrap, group_id=None,
                                      auto_offset_reset="earliest", fetch_max_wait_ms=10)
        self.cpu = CpuMeter({"workers": [p.pid for p in self.procs],
                             "broker": [args.broker_pid] if args.broker_pid else []})

    def _wait_ready(self, timeout: float) -> None:
        """Until the workers hold every input partition between them (each has loaded its model by then)."""
        deadline, held = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            held = []
            for port in self.ports:
                try:
                    held += json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read())[
                        "partitions"]
                except (OSError, ValueError):
                    pass
            if sorted(held) == [0, 1, 2, 3]:
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.5)
        self.close()
        raise RuntimeError(f"workers did not share the 4 input partitions within {timeout:.0f} s (held: {held})")

    def send(self) -> None:
        """Start the next session: its chunks are due at once (burst) or over the video's duration (realtime)."""
        from fasstream.stream.client import session_chunks

        sid, k = f"{self.run_id}-{self.sent}", self.sent % len(self.streams)
        messages = list(session_chunks(sid, self.streams[k], "mpegts", self.boxes[k]))
        step = self.durations[k] / len(messages) if self.realtime else 0.0
        now = time.perf_counter()
        for seq, message in enumerate(messages):
            heapq.heappush(self.due, (now + seq * step, sid, seq, message))
        self.sent += 1
        self.pump()

    def pump(self) -> None:
        """Send the chunks that are due; an end chunk's acknowledgement starts its session's clock."""
        ends, now = [], time.perf_counter()
        while self.due and self.due[0][0] <= now:
            _, sid, _, (key, value, headers) = heapq.heappop(self.due)
            self.producer.send(self.topics["kafka.input_topic"], key=key, value=value, headers=headers)
            if dict(headers).get(protocol.END) == b"1":
                ends.append(sid)
        if ends:
            self.producer.flush()
            self.ended.update(dict.fromkeys(ends, time.perf_counter()))

    def wait_ms(self, most: int = 100) -> int:
        """How long to wait for results before the next chunk is due."""
        if not self.due:
            return most
        return max(1, min(most, int(1000 * (self.due[0][0] - time.perf_counter()))))

    def results(self, timeout_ms: int) -> list[float]:
        """End-chunk-to-result milliseconds of the results that arrived within ``timeout_ms``."""
        out = []
        for messages in self.consumer.poll(timeout_ms=timeout_ms).values():
            now = time.perf_counter()
            for message in messages:
                result = json.loads(message.value)
                if result["status"] != "ok":
                    raise RuntimeError(f"session {result['session_id']}: {result['status']} {result['message']}")
                out.append(1000 * (now - self.ended.pop(result["session_id"])))
                self.stages.append(result["timings_ms"])
        return out

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(30)
        for client in ("producer", "consumer"):
            if hasattr(self, client):
                getattr(self, client).close()


def _row(service: _Service, latencies: list[float], n: int, **kw) -> dict:
    """Rate and latency percentiles, the median per-session stage times of the worker's results, and the
    CPU milliseconds per session of the workers, the broker and this client, with the cores they kept busy."""
    used = service.cpu.stop()
    p = np.percentile(latencies, [50, 95, 99]) if latencies else [float("nan")] * 3
    stages = {k: float(np.median([t[k] for t in service.stages])) for k in ("decode", "face", "queue", "model")}
    done = max(len(latencies), 1)
    return {**kw, "sessions": len(latencies), "missing": n - len(latencies),
            "sessions_per_s": len(latencies) / used["wall_s"],
            "p50_ms": float(p[0]), "p95_ms": float(p[1]), "p99_ms": float(p[2]), "stage_ms": stages,
            "cpu_ms_per_session": {k: 1000 * v / done for k, v in used["cpu_s"].items()},
            "busy_cores": sum(used["cpu_s"].values()) / used["wall_s"]}


def closed_loop(bootstrap, model, streams, boxes, durations, concurrency: int, args) -> dict:
    """``concurrency`` sessions in flight, a new one started when a result arrives."""
    service = _Service(bootstrap, model, streams, boxes, durations, args, f"c{concurrency}")
    try:
        latencies = []
        service.cpu.start()
        for _ in range(min(concurrency, args.sessions)):
            service.send()
        deadline = time.monotonic() + args.timeout
        while len(latencies) < args.sessions and time.monotonic() < deadline:
            service.pump()
            for latency in service.results(service.wait_ms()):
                latencies.append(latency)
                if service.sent < args.sessions:
                    service.send()
        return _row(service, latencies, args.sessions, concurrency=concurrency)
    finally:
        service.close()


def open_loop(bootstrap, model, streams, boxes, durations, rate: float, args) -> dict:
    """A new session every ``1 / rate`` seconds, whatever the results do."""
    service = _Service(bootstrap, model, streams, boxes, durations, args, "open")
    try:
        latencies, tic = [], time.perf_counter()
        service.cpu.start()
        deadline = time.monotonic() + args.timeout
        while len(latencies) < args.sessions and time.monotonic() < deadline:
            if service.sent < args.sessions and time.perf_counter() >= tic + service.sent / rate:
                service.send()
            service.pump()
            wait = tic + service.sent / rate - time.perf_counter() if service.sent < args.sessions else 0.1
            latencies += service.results(min(service.wait_ms(), max(1, int(1000 * wait))))
        return _row(service, latencies, args.sessions, rate=rate)
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", help="a running Kafka (default: tansu on loopback)")
    parser.add_argument("--model", type=Path, help="checkpoint (default: an untrained EulerNet of --width)")
    parser.add_argument("--width", default="tiny", choices=("tiny", "base"), help="the untrained model's width")
    parser.add_argument("--videos", type=int, default=8, help="distinct synthetic videos, sent in turn")
    parser.add_argument("--sessions", type=int, default=32, help="sessions per pipeline run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--load", type=float, default=0.5,
                        help="open-loop run at this fraction of the best closed-loop sessions/s (0: skip)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes in the group")
    parser.add_argument("--max-batch", type=int, default=0, help="batch.max_batch (0: the device's default)")
    parser.add_argument("--max-delay-ms", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=0, help="batch.threads (0: torch's default)")
    parser.add_argument("--crop-threads", type=int, default=1, help="crop_threads (face stage threads)")
    parser.add_argument("--face-detector", default="mtcnn", choices=("mtcnn", "lbp-cascade", "dlib", "client"),
                        help="the workers' face_detector (--client-boxes: client)")
    parser.add_argument("--face-batch", type=int, default=8, help="face_batch: clips per batched detector call")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="batch.precision")
    parser.add_argument("--decode-repeat", type=int, default=8, help="decode-only runs every video this often")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--pace", default="burst", choices=("burst", "realtime"),
                        help="a session's chunks sent at once, or over the video's duration like a live camera")
    parser.add_argument("--client-boxes", action="store_true",
                        help="sessions carry face boxes; workers run with face_detector: client (no detector)")
    parser.add_argument("--video-dir", type=Path, help="benchmark the videos (and boxes.json) of --save-videos")
    parser.add_argument("--save-videos", type=Path, metavar="DIR",
                        help="write the synthetic videos and their client face boxes to DIR, then exit")
    parser.add_argument("--out", type=Path, default=Path("out/bench_pipeline.json"),
                        help="JSON results file (default: %(default)s)")
    args = parser.parse_args()
    if args.client_boxes:
        args.face_detector = "client"

    from fasstream.data.video import read_video, sample_clips
    from fasstream.stream.broker import LocalBroker

    folder = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    if args.save_videos:
        args.save_videos.mkdir(parents=True, exist_ok=True)
        paths = _videos(args.save_videos, args.videos)
        (args.save_videos / "boxes.json").write_text(json.dumps(_face_boxes(paths), indent=1))
        print(f"wrote {len(paths)} videos and boxes.json to {args.save_videos}")
        return
    if args.video_dir:
        paths = sorted(args.video_dir.glob("*.mp4"))
        if not paths:
            raise SystemExit(f"bench_pipeline: no .mp4 in --video-dir {args.video_dir}; make them with --save-videos")
        box_file = args.video_dir / "boxes.json"
        found = json.loads(box_file.read_text()) if box_file.is_file() else None
    else:
        paths, found = _videos(folder, args.videos), None
    boxes = [None] * len(paths)
    if args.client_boxes:
        found = found or _face_boxes(paths)
        missing = [p.name for p in paths if p.name not in found]
        if missing:
            raise SystemExit(f"bench_pipeline: no face box for {', '.join(missing)} in {args.video_dir}/boxes.json; "
                             "rerun --save-videos")
        boxes = [found[p.name] for p in paths]
    videos = [remux(v, "mpegts") for v in paths]
    durations = [_duration(v) for v in paths]
    streams = videos * args.decode_repeat
    decode = {f"{n} {kind}": decode_only(streams, n, kind) for n, kind in ((1, "sequential"), (2, "threads"),
                                                                         (2, "processes"))}
    print(f"decode only ({len(streams)} sessions, {sum(map(len, streams)) / 1e6:.1f} MB of MPEG-TS):")
    for name, rate in decode.items():
        print(f"  {name:<14} {rate:8.1f} sessions/s")
    clips = [sample_clips(read_video(p)[0]) for p in paths]
    model = _checkpoint(args.model, folder, args.width)
    per_session = float(np.mean([len(c) for c in clips]))
    ceiling = model_only(model, args, per_session)
    print(f"model only (batch {ceiling['batch']}, {ceiling['batch_ms']:.1f} ms a batch): {ceiling['clips_per_s']:.1f} "
          f"clips/s / {ceiling['clips_per_session']:.2f} clips a session = {ceiling['sessions_per_s']:.2f} sessions/s; "
          f"a session's model-only time {ceiling['session_ms']:.0f} ms")
    faces = None
    if args.face_detector != "client":
        faces = face_only(clips, args, model)
        print(f"face stage only ({args.face_detector}, {args.face_batch} clips a call): {faces['clips_per_s']:.1f} "
              f"clips/s = {faces['clips_per_s'] / ceiling['clips_per_session']:.2f} sessions/s")
    chunks = [split(v, 16 * 1024) for v in videos]
    broker = None if args.bootstrap_servers else LocalBroker()
    bootstrap = args.bootstrap_servers or broker.start()
    args.broker_pid = broker.pid if broker else None
    try:
        rows = [closed_loop(bootstrap, model, chunks, boxes, durations, c, args) for c in args.concurrency]
        best = max(r["sessions_per_s"] for r in rows)
        if args.load:
            rows.append(open_loop(bootstrap, model, chunks, boxes, durations, args.load * best, args))
    finally:
        if broker:
            broker.stop()
    after = model_only(model, args, per_session)
    print(f"model only again, after the pipeline: {after['clips_per_s']:.1f} clips/s (before: "
          f"{ceiling['clips_per_s']:.1f}); the ceiling is the faster")
    before, ceiling = ceiling, max(ceiling, after, key=lambda c: c["clips_per_s"])
    device, n_cores = "cuda" if torch.cuda.is_available() else "cpu", cores.available()
    print(f"\npipeline ({args.workers} worker process(es), device {device}, model {args.model or args.width}, "
          f"{args.sessions} sessions "
          f"per run, max_batch {args.max_batch or 'auto'}, max_delay_ms {args.max_delay_ms}, "
          f"torch threads {args.threads or torch.get_num_threads()}, precision {args.precision}, "
          f"crop threads {args.crop_threads}, face detector {args.face_detector}, "
          f"pace {args.pace}); "
          "latency: end chunk acknowledged -> result read")
    print(f"  {'load':>16} {'sessions/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   median ms per session: "
          "decode, face, queue, model")
    for r in rows:
        load = f"{r['concurrency']} in flight" if "concurrency" in r else f"{r['rate']:.2f}/s offered"
        print(f"  {load:>16} {r['sessions_per_s']:>10.2f} {r['p50_ms']:>8.0f} {r['p95_ms']:>8.0f} "
              f"{r['p99_ms']:>8.0f}   "
              + " ".join(f"{v:6.0f}" for v in r["stage_ms"].values())
              + (f"  ({r['missing']} results missing)" if r["missing"] else ""))
    print(f"  CPU ms per session (workers, broker, client) and cores busy, of {n_cores}:")
    for r in rows:
        load = f"{r['concurrency']} in flight" if "concurrency" in r else f"{r['rate']:.2f}/s offered"
        print(f"  {load:>16} " + " ".join(f"{v:6.0f}" for v in r["cpu_ms_per_session"].values())
              + f"   {r['busy_cores']:.2f}")
    print(f"\nsaturation {best:.2f} sessions/s = {100 * best / ceiling['sessions_per_s']:.0f}% of the model-only "
          f"ceiling ({ceiling['sessions_per_s']:.2f} sessions/s; {100 * best / decode['1 sequential']:.0f}% of the "
          f"1-thread decode-only one)")
    work = work_ceiling(decode["1 sequential"], faces, ceiling, n_cores)
    print(f"work ceiling: {n_cores} cores / ({' + '.join(f'{v:.0f}' for v in work['stage_ms'].values())} ms of "
          f"{', '.join(work['stage_ms'])} a session, each stage alone on one thread) = {work['sessions_per_s']:.2f} "
          f"sessions/s; saturation is {100 * best / work['sessions_per_s']:.0f}% of it")
    if args.load:
        half = rows[-1]
        print(f"p99 at {args.load:g} x saturation: {half['p99_ms']:.0f} ms = "
              f"{half['p99_ms'] / (2 * ceiling['session_ms']):.2f} x (2 x a session's model-only time, "
              f"{2 * ceiling['session_ms']:.0f} ms) = {half['p99_ms'] / (2 * work['session_ms']):.2f} x (2 x its "
              f"work, the stages alone one after another, {2 * work['session_ms']:.0f} ms)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "args": vars(args) | {k: str(getattr(args, k)) for k in ("model", "out", "video_dir", "save_videos")},
        "decode_only_sessions_per_s": decode, "model_only": ceiling, "model_only_runs": [before, after],
        "face_only": faces, "work_ceiling": work,
        "saturation_ratio": best / ceiling["sessions_per_s"],
        "saturation_ratio_work": best / work["sessions_per_s"], "pipeline": rows}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
