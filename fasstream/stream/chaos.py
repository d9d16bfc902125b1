"""Fault injection against real workers: sessions sent while workers are killed, paused or added.

``run_chaos`` starts ``fasstream serve`` processes in one group on fresh topics, sends many
interleaved sessions (each its own id, staggered so that some are always open), applies
:class:`Fault` s once a given fraction of the sessions has a result, and audits the result topic
with a fresh consumer: every session must have exactly one distinct verdict (status, reason,
score, decision). Used by tests/test_stream_chaos.py and benchmarks/chaos.py.
"""
from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from kafka import KafkaConsumer, KafkaProducer

from fasstream.stream import protocol
from fasstream.stream.chunker import remux, split
from fasstream.stream.client import session_chunks
from fasstream.stream.topics import ensure_topics
from fasstream.stream.workers import WorkerProcess, wait_ready

FAULTS = ("kill", "pause", "add")


@dataclass(frozen=True)
class Fault:
    """``kill`` (SIGKILL, then a replacement starts), ``pause`` (SIGSTOP for ``seconds``, then SIGCONT) or
    ``add`` (one more worker), applied once ``at`` (0..1) of the sessions have a result."""

    kind: str
    at: float
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``kill@0.3``, ``pause@0.3:45``, ``add@0.5``."""
        kind, _, rest = text.partition("@")
        at, _, seconds = rest.partition(":")
        try:
            fault = cls(kind, float(at), float(seconds or 0))
        except ValueError:
            fault = None
        if fault is None or kind not in FAULTS or not 0 <= fault.at <= 1 or (kind == "pause") != (fault.seconds > 0):
            raise ValueError(f"fault {text!r} is not kill@F, pause@F:SECONDS or add@F with F in 0..1")
        return fault


@dataclass
class Report:
    sessions: int
    lost: list[str]
    duplicated: int  # sessions with more than one copy, all of one verdict
    conflicting: dict[str, list]  # session -> its distinct verdicts
    refused: list[str]  # answered with a capacity error
    wrong: dict[str, tuple]  # valid sessions not answered ok, malformed ones not with their expected error
    copies: int
    seconds: float
    events: list[str] = field(default_factory=list)
    verdicts: dict[str, tuple] = field(default_factory=dict)
    held_partitions: set[str] = field(default_factory=set)  # workers that held partitions at some point
    markers: int = 0  # timeout markers the workers appended to the input
    crashed: list[str] = field(default_factory=list)  # workers that exited on their own

    @property
    def sessions_per_s(self) -> float:
        return self.sessions / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"sessions {self.sessions}  lost {len(self.lost)}  duplicated {self.duplicated}  conflicting "
                f"{len(self.conflicting)}  refused {len(self.refused)}  wrong {len(self.wrong)}  results {self.copies}"
                f"  timeout markers {self.markers}  {self.sessions_per_s:.2f} sessions/s")


def verdict(result: dict) -> tuple:
    """What must agree between copies of a session's result (timings and the worker may differ)."""
    return result["status"], result["reason"], result["score"], result["decision"]


def make_videos(folder: Path, identities: int = 2, size: int = 160, frames: int = 12, seed: int = 11) -> dict:
    """Short synthetic videos, one per identity and species: name -> (path, face box from the rendered
    landmarks of the first clip), so that workers can run with ``face_detector: client``."""
    from fasstream.data import synthetic
    from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, write_video
    from fasstream.faces.geometry import face_crop_box

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(synthetic.faces.source_faces())
    out = {}
    for i in range(identities):
        identity = synthetic.make_identity(sources[i % len(sources)], seed + i, size=size)
        for j, species in enumerate(synthetic.SPECIES):
            images, landmarks, fps = synthetic.render_video(identity, species, np.random.SeedSequence([seed, i, j]))
            clip = landmarks[:(CLIP_LENGTH - 1) * CLIP_INTERVAL + 1:CLIP_INTERVAL]
            box = tuple(round(float(v), 1) for v in face_crop_box(clip.mean(0)))
            out[f"id{i}-{species}"] = (write_video(folder / f"id{i}-{species}.mp4", images[:frames], fps), box)
    return out


def make_model(path: Path, size: int = 64) -> Path:
    """A small untrained EulerNet checkpoint whose scores still depend on the input (last layer scaled up)."""
    import torch

    from fasstream.model import EulerNet

    torch.manual_seed(0)
    net = EulerNet(width="tiny", size=size).eval()
    with torch.no_grad():
        net.head[-2].weight.mul_(300)
    torch.save({"model": net.state_dict(), "config": {**net.config, "crop_scale": 1.3}, "threshold": 0.5,
                "metrics": {}, "version": f"chaos-{size}"}, path)
    return path


def make_sessions(videos: dict, n: int, chunk_bytes: int = 2000, malformed: int = 0,
                  prefix: str = "", face_boxes: bool = True) -> tuple[dict[str, list], dict[str, str | None]]:
    """``n`` valid sessions cycling over ``videos`` plus ``malformed`` bad ones (half a gap: seq 0 never
    sent, half undecodable bytes), each with its video's face box unless ``face_boxes`` is False (the
    workers then find faces themselves); returns (session id -> chunk messages, session id -> expected error)."""
    prefix = prefix or uuid.uuid4().hex[:6]
    streams = {name: split(remux(path, "mpegts"), chunk_bytes) for name, (path, _) in videos.items()}
    names = sorted(videos)
    box = {name: videos[name][1] if face_boxes else None for name in names}
    chunks, expected = {}, {}
    for i in range(n):
        name = names[i % len(names)]
        sid = f"{prefix}-{i:04d}-{name}"
        chunks[sid] = list(session_chunks(sid, streams[name], "mpegts", box[name]))
        expected[sid] = None
    for i in range(malformed):
        name = names[i % len(names)]
        sid = f"{prefix}-bad{i:03d}"
        if i % 2 == 0:
            chunks[sid] = list(session_chunks(sid, streams[name], "mpegts", box[name]))[1:]
            expected[sid] = "missing_chunk"
        else:
            chunks[sid] = [(sid.encode(), b"\x47garbage" * 300,
                            protocol.chunk_headers(sid, 0, "mpegts", True, box[name]))]
            expected[sid] = "undecodable"
    return chunks, expected


def video_of(sid: str) -> str:
    """The video name inside a valid session id made by :func:`make_sessions`."""
    return sid.split("-", 2)[2]


def _send(bootstrap: str, topic: str, chunks: dict[str, list], stagger: int, interval_s: float, stop,
          gate: threading.Event, released: threading.Event, held_back: int) -> None:
    """Interleave the sessions: while ``gate`` is set, ``stagger`` new sessions start every step; each open
    session sends one chunk per step. The last ``held_back`` sessions start only once ``released`` is set."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    order = list(chunks)
    active, futures = [], []
    try:
        while (order or active) and not stop.is_set():
            if gate.is_set():
                may_start = len(order) if released.is_set() else len(order) - held_back
                started = order[:max(0, min(stagger, may_start))]
                active += [[sid, 0] for sid in started]
                del order[:len(started)]
            for item in active:
                key, value, headers = chunks[item[0]][item[1]]
                futures.append(producer.send(topic, key=key, value=value, headers=headers))
                item[1] += 1
            active = [item for item in active if item[1] < len(chunks[item[0]])]
            time.sleep(interval_s)
        producer.flush()
        for f in futures:
            f.get(30)
    finally:
        producer.close()


def read_topic(bootstrap: str, topic: str, until, timeout: float, settle: float = 0.0) -> list:
    """Messages of ``topic`` read by a fresh consumer until ``until(messages)`` holds (then ``settle`` s more)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    out, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200).values():
                out.extend(messages)
            if until(out):
                deadline = min(deadline, time.monotonic() + settle)
    finally:
        consumer.close()
    return out


def run_chaos(bootstrap: str, model: Path, chunks: dict[str, list], expected: dict[str, str | None],
              faults: list[Fault], workers: int = 2, flags: dict | None = None, stagger: int = 4,
              interval_s: float = 0.35, timeout: float = 240.0, settle: float = 3.0, log_dir: Path | None = None,
              partitions: int = 4, join_timeout: float = 60.0, hold_back: float = 0.4) -> Report:
    """Serve ``chunks`` with ``workers`` workers while ``faults`` happen; audit the result topic.

    After a worker is replaced or added, no new session starts until the newcomer holds partitions (or
    ``join_timeout`` s passed), and the last ``hold_back`` share of the sessions (at most 0.9 less the latest
    fault's fraction, so that every fault can fire) starts only after every fault has happened and its newcomer
    joined: the stream goes on past the join however fast the other sessions are answered, so the handover is
    exercised, not raced (open sessions keep sending)."""
    run = uuid.uuid4().hex[:6]
    topics = {"kafka.input_topic": f"chaos-{run}-in", "kafka.output_topic": f"chaos-{run}-out",
              "kafka.dead_letter_topic": f"chaos-{run}-dlq", "kafka.group_id": f"chaos-{run}"}
    ensure_topics(bootstrap, list(topics.values())[:3], partitions)
    flags = {**(flags or {}), **topics}
    names = iter(f"w{i}" for i in range(100))
    pool = [WorkerProcess(bootstrap, model, flags, next(names), log_dir) for _ in range(workers)]
    events: list[str] = []
    answered: set[str] = set()
    held: set[str] = set()
    stop, gate, released = threading.Event(), threading.Event(), threading.Event()
    gate.set()
    if not faults:
        released.set()
    held_back = int(len(chunks) * min(hold_back, max(0.0, 0.9 - max((f.at for f in faults), default=0.0))))
    newcomer = None  # (worker, deadline) while new sessions wait for a replacement or added worker to join
    try:
        wait_ready(pool)
        tic = time.monotonic()
        sender = threading.Thread(target=_send, args=(bootstrap, topics["kafka.input_topic"], chunks, stagger,
                                                      interval_s, stop, gate, released,
                                                      held_back), daemon=True)
        sender.start()
        pending = sorted(faults, key=lambda f: f.at)
        consumer = KafkaConsumer(topics["kafka.output_topic"], bootstrap_servers=bootstrap, group_id=None,
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        try:
            deadline, next_look = tic + timeout, 0.0
            while len(answered) < len(chunks) and time.monotonic() < deadline:
                if time.monotonic() > next_look:  # who holds partitions (a paused worker does not answer)
                    held.update(w.name for w in pool if w.alive() and not w.paused and (w.health() or {}).get(
                        "partitions"))
                    next_look = time.monotonic() + 1.0
                for messages in consumer.poll(timeout_ms=200).values():
                    answered.update(json.loads(m.value)["session_id"] for m in messages)
                while pending and len(answered) >= pending[0].at * len(chunks):
                    fault = pending.pop(0)
                    events.append(_apply(fault, pool, bootstrap, model, flags, names, log_dir, answered,
                                         len(chunks), tic))
                    if fault.kind in ("kill", "add"):
                        gate.clear()
                        newcomer = (pool[-1], time.monotonic() + join_timeout)
                if newcomer and (newcomer[0].name in held or time.monotonic() > newcomer[1]):
                    joined = ("holds partitions" if newcomer[0].name in held
                              else f"took no partition in {join_timeout:g} s")
                    events.append(f"{time.monotonic() - tic:6.1f} s  {newcomer[0].name} {joined}: new sessions go on")
                    gate.set()
                    newcomer = None
                if not pending and newcomer is None and not released.is_set():
                    released.set()
                    events.append(f"{time.monotonic() - tic:6.1f} s  the held-back sessions start")
                for w in pool:
                    if w.paused and time.monotonic() >= w.resume_at:
                        w.signal(signal.SIGCONT)
                        w.paused = False
                        events.append(f"{time.monotonic() - tic:6.1f} s  SIGCONT {w.name}")
            seconds = time.monotonic() - tic
        finally:
            consumer.close()
        resumed = [w for w in pool if w.paused]
        for w in resumed:  # a pause still running when the results were in ends now
            w.signal(signal.SIGCONT)
            w.paused = False
            events.append(f"{time.monotonic() - tic:6.1f} s  SIGCONT {w.name} (every session had a result)")
        if resumed:  # whatever the zombie still publishes is in the audit: it runs on, then rejoins its group
            time.sleep(5)
            try:
                wait_ready(resumed, 60)
            except (TimeoutError, RuntimeError) as err:
                events.append(f"resumed workers did not rejoin: {err}")
        sender.join(60)
        results = [json.loads(m.value) for m in read_topic(
            bootstrap, topics["kafka.output_topic"],
            lambda out: {json.loads(m.value)["session_id"] for m in out} >= set(chunks), 60, settle)]
        markers = sum(protocol.parse_marker(m.headers) is not None
                      for m in read_topic(bootstrap, topics["kafka.input_topic"], lambda out: False, 3))
        crashed = [f"{w.name} (exit {w.proc.returncode})" for w in pool if not w.alive() and not w.killed]
    finally:
        stop.set()
        for w in pool:
            w.stop()
    report = audit(results, expected, seconds, events)
    report.held_partitions, report.markers, report.crashed = held, markers, crashed
    return report


def _apply(fault: Fault, pool, bootstrap, model, flags, names, log_dir, answered, n, tic) -> str:
    live = [w for w in pool if w.alive() and not w.paused]
    busiest = max(live, key=lambda w: (w.health() or {}).get("open_sessions", -1))
    when = f"{time.monotonic() - tic:6.1f} s  {len(answered)}/{n} answered:"
    if fault.kind == "add":
        pool.append(WorkerProcess(bootstrap, model, flags, next(names), log_dir))
        return f"{when} added {pool[-1].name}"
    open_sessions = (busiest.health() or {}).get("open_sessions")
    if fault.kind == "kill":
        busiest.signal(signal.SIGKILL)
        busiest.killed = True
        busiest.proc.wait()
        pool.append(WorkerProcess(bootstrap, model, flags, next(names), log_dir))
        return f"{when} SIGKILL {busiest.name} ({open_sessions} open sessions), replacement {pool[-1].name}"
    busiest.signal(signal.SIGSTOP)
    busiest.paused, busiest.resume_at = True, time.monotonic() + fault.seconds
    return f"{when} SIGSTOP {busiest.name} ({open_sessions} open sessions) for {fault.seconds:g} s"


def audit(results: list[dict], expected: dict[str, str | None], seconds: float, events=()) -> Report:
    """Count lost, duplicated, conflicting, refused and wrong sessions among ``results``."""
    by_session: dict[str, list[dict]] = {}
    for r in results:
        if r["session_id"] in expected:
            by_session.setdefault(r["session_id"], []).append(r)
    conflicting, wrong, refused, verdicts = {}, {}, [], {}
    for sid, copies in by_session.items():
        distinct = list(dict.fromkeys(verdict(r) for r in copies))
        verdicts[sid] = distinct[0]
        if len(distinct) > 1:
            conflicting[sid] = distinct
        if any(r["reason"] == "capacity" for r in copies):
            refused.append(sid)
        status, reason = distinct[0][:2]
        want = expected[sid]
        if (want is None and status != "ok") or (want is not None and reason != want):
            wrong[sid] = distinct[0]
    counts = Counter(len(c) for c in by_session.values())
    return Report(sessions=len(expected), lost=sorted(set(expected) - set(by_session)),
                  duplicated=sum(v for k, v in counts.items() if k > 1) - len(conflicting), conflicting=conflicting,
                  refused=refused, wrong=wrong, copies=sum(map(len, by_session.values())), seconds=seconds,
                  events=list(events), verdicts=verdicts)
