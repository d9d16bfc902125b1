"""The streaming service against a real Kafka-protocol broker (tansu on loopback).

A tiny EulerNet whose last layer is scaled up (so scores depend on the input) stands in for a
trained model; its threshold sits in the widest gap between the sessions' offline scores, so
every expected decision is known in advance.
"""
import contextlib
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from fasstream.data import synthetic
from fasstream.data.video import read_video, sample_clips, write_video
from fasstream.model import EulerNet
from fasstream.stream import protocol
from fasstream.stream.batcher import DynamicBatcher, load_model
from fasstream.stream.chaos import read_topic
from fasstream.stream.broker import free_port
from fasstream.stream.chunker import remux, split
from fasstream.stream.client import session_chunks
from fasstream.stream.config import load_config
from fasstream.stream.crop import FaceCropper
from fasstream.stream.worker import Worker

kafka = pytest.importorskip("kafka")
ROOT = Path(__file__).resolve().parents[1]
SPECIES = ("live", "print", "replay", "animated")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """One synthetic identity's four species as H.264 .mp4, and its live video as MPEG-4 Part 2."""
    folder = tmp_path_factory.mktemp("videos")
    identity = synthetic.make_identity(sorted(synthetic.faces.source_faces())[0], 7)
    out = {}
    for i, species in enumerate(SPECIES):
        frames, _, fps = synthetic.render_video(identity, species, np.random.SeedSequence([7, i]))
        frames = frames[:30]  # three clips: enough to average, cheap on a CPU
        out[species] = write_video(folder / f"{species}.mp4", frames, fps)
        if species == "live":
            out["live_mpeg4"] = write_video(folder / "live_mpeg4.mp4", frames, fps, codec="mpeg4")
            out["short"] = write_video(folder / "short.mp4", frames[:6], fps)
    return out


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper.from_config("mtcnn", "cpu", 256, 1.3)


def _offline_crops(cropper, clips, box=None):
    """A session's crops as a worker makes them: one track, its clips in order."""
    track = cropper.track(box)
    return np.stack([cropper.crops([(track, clip, None)])[0] for clip in clips])


@pytest.fixture(scope="module")
def model(tmp_path_factory, videos, cropper):
    """(checkpoint path, offline score of each video); the threshold splits the scores at their widest gap."""
    torch.manual_seed(0)
    net = EulerNet(width="tiny").eval()
    with torch.no_grad():
        net.head[-2].weight.mul_(300)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    ckpt = {"model": net.state_dict(), "config": {**net.config, "crop_scale": 1.3}, "threshold": 0.5,
            "metrics": {}, "version": "test"}
    torch.save(ckpt, path)
    batcher = DynamicBatcher(load_model(path, "cpu"), lambda *a: None)
    batcher.stop()
    offline = {}
    for name in ("live", "print", "replay", "animated"):
        frames, _ = read_video(videos[name])
        crops = _offline_crops(cropper, sample_clips(frames))
        offline[name] = float(batcher.predict(crops).mean())
    ordered = sorted(offline.values())
    gap = max(range(len(ordered) - 1), key=lambda i: ordered[i + 1] - ordered[i])
    ckpt["threshold"] = (ordered[gap] + ordered[gap + 1]) / 2
    torch.save(ckpt, path)
    return path, offline


def _topics(tag: str) -> dict:
    run = uuid.uuid4().hex[:6]
    return {"kafka.input_topic": f"{tag}-{run}-in", "kafka.output_topic": f"{tag}-{run}-out",
            "kafka.dead_letter_topic": f"{tag}-{run}-dlq", "kafka.group_id": f"{tag}-{run}"}


@contextlib.contextmanager
def running_worker(broker, model_path, cropper, flags: dict):
    cfg = load_config(None, flags={"model": str(model_path), "kafka.bootstrap_servers": broker,
                                   "metrics.port": 0, **flags})
    worker = Worker(cfg, cropper=cropper)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    assert worker.wait_ready(30), "worker did not join its group"
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(30)


def _producer(broker):
    return kafka.KafkaProducer(bootstrap_servers=broker)


def _send(producer, topic, messages):
    for key, value, headers in messages:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()


def _chunks(sid, path, container="mpegts", size=3000):
    return list(session_chunks(sid, split(remux(path, container), size), container))


def _read(broker, topic, want: int, timeout: float, settle: float = 1.5) -> list:
    """Messages of ``topic`` until ``want`` arrived (then ``settle`` s more, to catch duplicates) or ``timeout``."""
    return read_topic(broker, topic, lambda out: len(out) >= want, timeout, settle)


def _results(messages) -> dict:
    by_session: dict = {}
    for m in messages:
        result = json.loads(m.value)
        by_session.setdefault(result["session_id"], []).append(result)
    return by_session


def _committed_to_end(broker, group, topic) -> bool:
    """Whether the group committed every partition of ``topic`` past its last message.

    The ends come from reading the topic: tansu's ListOffsets can report a stale end.
    """
    ends: dict = {}
    for m in _read(broker, topic, 10**9, 2):
        ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)
    consumer = kafka.KafkaConsumer(bootstrap_servers=broker, group_id=group, enable_auto_commit=False)
    try:
        return all(consumer.committed(kafka.TopicPartition(topic, p)) == end for p, end in ends.items())
    finally:
        consumer.close()


def test_sessions_end_to_end_one_result_each(broker, videos, model, cropper):
    """Sessions in every container, chunks interleaved: one ok result each, offline scores, expected decisions."""
    model_path, offline = model
    threshold = torch.load(model_path, weights_only=True)["threshold"]
    topics = _topics("e2e")
    plan = {"live-ts": ("live", "mpegts"), "print-fmp4": ("print", "mp4"), "replay-h264": ("replay", "h264"),
            "animated-ts": ("animated", "mpegts"), "live-mpeg4": ("live_mpeg4", "mp4")}
    streams = [_chunks(sid, videos[name], container) for sid, (name, container) in plan.items()]
    interleaved = [m for group in zip(*[s + [None] * (max(map(len, streams)) - len(s)) for s in streams])
                   for m in group if m is not None]
    with running_worker(broker, model_path, cropper, topics) as worker:
        _send(_producer(broker), topics["kafka.input_topic"], interleaved)
        results = _results(_read(broker, topics["kafka.output_topic"], len(plan), 90))
        port = worker.http.server_port
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read())
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        time.sleep(0.5)  # one more commit round
    assert sorted(results) == sorted(plan)
    for sid, (name, _) in plan.items():
        (result,) = results[sid]
        assert result["status"] == "ok", result
        assert result["clips"] == 3 and result["frames"] == 30 and result["model_version"].startswith("test+")
        assert set(result["timings_ms"]) >= {"decode", "face", "queue", "model", "end_to_end"}
        if name in offline:  # the MPEG-4 re-encode differs slightly from the H.264 original
            assert result["score"] == pytest.approx(offline[name], abs=2e-5)
            assert result["decision"] == ("live" if offline[name] >= threshold else "spoof")
    assert health["ok"] and health["open_sessions"] == 0
    assert 'fas_sessions_done_total{status="ok"} 5.0' in metrics and "fas_batch_size_bucket" in metrics
    assert _committed_to_end(broker, topics["kafka.group_id"], topics["kafka.input_topic"])


def _faceless_video(path, n, size, codec="h264"):
    """A moving grey gradient: small to encode, no face in it."""
    ramp = np.add.outer(np.arange(size[1]), np.arange(size[0])) % 256
    frames = np.stack([np.repeat(((ramp + 8 * i) % 256)[..., None], 3, 2) for i in range(n)]).astype(np.uint8)
    return write_video(path, frames, 25.0, codec)


def _mpeg2_ts(frames) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mpegts") as container:
        stream = container.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return out.getvalue()


def test_bad_input_gets_error_results_and_dead_letters(broker, videos, model, cropper, tmp_path):
    model_path, _ = model
    topics = _topics("bad")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "good.ts").write_bytes(remux(videos["print"], "mpegts"))
    (tmp_path / "outside.ts").write_bytes(remux(videos["print"], "mpegts"))
    live = _chunks("x", videos["live"])
    hd = remux(_faceless_video(tmp_path / "hd.mp4", 12, (640, 480), "mpeg4"), "mp4")
    noface = remux(_faceless_video(tmp_path / "noise.mp4", 12, (320, 320)), "mpegts")

    def one(sid, data, container="mpegts", **kw):
        return [(sid.encode(), data, protocol.chunk_headers(sid, 0, container, True, **kw))]

    def relabel(sid, messages, seqs):
        return [(sid.encode(), value, protocol.chunk_headers(sid, seq, "mpegts", seq == seqs[-1]))
                for seq, (_, value, _) in zip(seqs, messages)]

    cases = {
        "undecodable": one("undecodable", b"\x47garbage" * 500),
        "unsupported_codec": one("unsupported_codec", _mpeg2_ts(np.zeros((12, 64, 64, 3), np.uint8))),
        "unsupported_container": one("unsupported_container", b"RIFF....", "avi"),
        "chunk_too_large": one("chunk_too_large", b"\0" * 150_000),
        "frame_too_large": one("frame_too_large", hd, "mp4"),
        "missing_chunk": relabel("missing_chunk", live[:2], [0, 2]),
        "duplicate_chunk": relabel("duplicate_chunk", live[:2], [0, 0]),
        "no_face": one("no_face", noface),
        "too_few_frames": one("too_few_frames", remux(videos["short"], "mpegts")),
        "ref_not_allowed": one("ref_not_allowed", b"", ref=(tmp_path / "outside.ts").as_uri()),
    }
    good = {"good": _chunks("good", videos["live"]), "good-ref": one("good-ref", b"", ref=(allowed / "good.ts").as_uri())}
    timeout = [(b"timeout", live[0][1], protocol.chunk_headers("timeout", 0, "mpegts", False))]  # never ends
    flags = {**topics, "limits.chunk_bytes": 100_000, "limits.frame_pixels": 320 * 320,
             "limits.session_timeout_s": 3, "claim_check.allow": [allowed.as_uri() + "/"]}
    with running_worker(broker, model_path, cropper, flags):
        producer = _producer(broker)
        _send(producer, topics["kafka.input_topic"], timeout + [m for ms in cases.values() for m in ms]
              + [m for ms in good.values() for m in ms])
        producer.send(topics["kafka.input_topic"], key=None, value=b"no session", headers=[])  # unattributable
        producer.flush()
        results = _results(_read(broker, topics["kafka.output_topic"], len(cases) + len(good) + 1, 60))
        dead = _read(broker, topics["kafka.dead_letter_topic"], len(cases) + 1, 10)
    for reason in cases:
        (result,) = results[reason]
        assert (result["status"], result["reason"], result["score"]) == ("error", reason, None), result
        assert result["message"]
    for sid in good:
        (result,) = results[sid]
        assert result["status"] == "ok" and result["clips"] == 3, result
    (late,) = results["timeout"]
    assert late["status"] == "timeout" and late["clips_total"] == 0, json.dumps(late)
    dead_reasons = {dict(m.headers)["error-reason"].decode(): m for m in dead}
    assert set(dead_reasons) == set(cases) | {"no_session"}
    assert dead_reasons["undecodable"].value == b"\x47garbage" * 500
    assert dict(dead_reasons["chunk_too_large"].headers)["source-topic"].decode() == topics["kafka.input_topic"]


@contextlib.contextmanager
def http_files(folder: Path, redirects: dict):
    """An HTTP server on loopback serving ``folder``, ``redirects`` mapping paths to 302 targets.

    Yields (port, the paths asked for).
    """
    asked = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kw):
            super().__init__(*args, directory=str(folder), **kw)

        def do_GET(self):  # noqa: N802 (http.server's name)
            asked.append(self.path)
            if self.path in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[self.path])
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, asked
    finally:
        server.shutdown()
        server.server_close()


def test_http_claim_checks_are_fetched_only_under_the_allow_list(broker, videos, model, cropper, tmp_path):
    model_path, offline = model
    topics = _topics("http")
    for folder in ("allowed", "outside"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "print.ts").write_bytes(remux(videos["print"], "mpegts"))
    with http_files(tmp_path, {"/allowed/jump": "/outside/print.ts"}) as (port, asked):
        base = f"http://127.0.0.1:{port}"
        refs = {"http-good": "/allowed/print.ts", "http-outside": "/outside/print.ts",
                "http-dotdot": "/allowed/%2e%2e/outside/print.ts", "http-redirect": "/allowed/jump",
                "http-missing": "/allowed/missing.ts"}
        flags = {**topics, "claim_check.allow": [f"{base}/allowed/"]}
        with running_worker(broker, model_path, cropper, flags):
            _send(_producer(broker), topics["kafka.input_topic"],
                  [(sid.encode(), b"", protocol.chunk_headers(sid, 0, "mpegts", True, ref=base + path))
                   for sid, path in refs.items()])
            results = _results(_read(broker, topics["kafka.output_topic"], len(refs), 60))
            dead = _read(broker, topics["kafka.dead_letter_topic"], len(refs) - 1, 10)
    (good,) = results["http-good"]
    assert good["status"] == "ok" and good["clips"] == 3
    assert good["score"] == pytest.approx(offline["print"], abs=2e-5)  # the bytes served are the ones decoded
    expected = {"http-outside": "ref_not_allowed", "http-dotdot": "ref_not_allowed",
                "http-redirect": "ref_not_allowed", "http-missing": "ref_unreadable"}
    for sid, reason in expected.items():
        (result,) = results[sid]
        assert (result["status"], result["reason"]) == ("error", reason), result
    assert {m.key.decode(): dict(m.headers)["error-reason"].decode() for m in dead} == expected
    assert sorted(asked) == ["/allowed/jump", "/allowed/missing.ts", "/allowed/print.ts"]  # nothing outside


def test_client_face_boxes_only(broker, videos, model, cropper):
    """face_detector: client loads no detector: a session is scored on the box it sends, and one that
    sends none gets the no_face_box error and a dead letter."""
    model_path, _ = model
    topics = _topics("boxes")
    frames, _ = read_video(videos["print"])
    clips = sample_clips(frames)
    box = tuple(float(v) for v in cropper.tracker.boxes([(cropper.track(), clips[0], None)])[0])  # crop_scale 1.3
    batcher = DynamicBatcher(load_model(model_path, "cpu"), lambda *a: None)
    batcher.stop()
    offline = float(batcher.predict(_offline_crops(cropper, clips, box)).mean())
    stream = split(remux(videos["print"], "mpegts"), 3000)
    with running_worker(broker, model_path, None, {**topics, "face_detector": "client"}) as worker:
        assert worker.cropper.tracker is None
        producer = _producer(broker)
        _send(producer, topics["kafka.input_topic"], list(session_chunks("boxed", stream, "mpegts", box)))
        _send(producer, topics["kafka.input_topic"], list(session_chunks("unboxed", stream, "mpegts")))
        results = _results(_read(broker, topics["kafka.output_topic"], 2, 60))
        dead = _read(broker, topics["kafka.dead_letter_topic"], 1, 10)
    (boxed,), (unboxed,) = results["boxed"], results["unboxed"]
    assert boxed["status"] == "ok" and boxed["score"] == pytest.approx(offline, abs=2e-5), boxed
    assert (unboxed["status"], unboxed["reason"]) == ("error", "no_face_box") and "face-box" in unboxed["message"]
    assert [(m.key, dict(m.headers)["error-reason"]) for m in dead] == [(b"unboxed", b"no_face_box")]


def test_redelivered_session_republishes_the_same_result(broker, videos, model, cropper):
    model_path, _ = model
    topics = _topics("again")
    chunks = _chunks("again-1", videos["replay"], "h264")
    with running_worker(broker, model_path, cropper, topics):
        producer = _producer(broker)
        _send(producer, topics["kafka.input_topic"], chunks)
        first = _read(broker, topics["kafka.output_topic"], 1, 60, settle=0)
        _send(producer, topics["kafka.input_topic"], chunks)  # the same session delivered again
        both = _results(_read(broker, topics["kafka.output_topic"], 2, 30))["again-1"]
    assert len(first) == 1 and len(both) == 2 and both[0] == both[1]


def test_rebalance_commits_answered_sessions_before_handing_partitions_over(broker, videos, model, cropper):
    """A second worker joins after the first answered every session but, its commit timer far off,
    committed nothing: the first commits as its partitions are revoked, so the newcomer replays none."""
    model_path, _ = model
    topics = _topics("handover")
    flags = {**topics, "kafka.commit_interval_ms": 600_000}
    sessions = {f"h{i}-{name}": videos[name] for i, name in enumerate(SPECIES * 2)}
    with running_worker(broker, model_path, cropper, flags) as first:
        _send(_producer(broker), topics["kafka.input_topic"],
              [m for sid, path in sessions.items() for m in _chunks(sid, path)])
        assert len(_read(broker, topics["kafka.output_topic"], len(sessions), 120, settle=0)) == len(sessions)
        time.sleep(1)  # the acknowledgements reach the first worker's ledger
        with running_worker(broker, model_path, cropper, flags) as second:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(first._assigned) + len(second._assigned) != 4:
                time.sleep(0.2)
            moved = set(second._assigned)
            outputs = _read(broker, topics["kafka.output_topic"], 10**9, 6)
            chunks_read = second.metrics.registry.get_sample_value("fas_chunks_received_total")
    by_partition = {m.key.decode(): m.partition for m in _read(broker, topics["kafka.input_topic"], 10**9, 2)}
    assert moved and len(moved) < 4, f"the partitions were not shared: {moved}"
    assert {by_partition[sid] for sid in sessions} & moved, "no session on a moved partition: pick other ids"
    results = _results(outputs)
    assert sorted(results) == sorted(sessions) and all(len(r) == 1 for r in results.values()), results
    assert chunks_read == 0  # the newcomer started after every answered session


def _serve(broker, model_path, flags: dict, port: int) -> subprocess.Popen:
    sets = [f"{k}={v}" for k, v in flags.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "fasstream.cli", "serve", "--bootstrap-servers", broker,
                             "--model", str(model_path), "--metrics-port", str(port), "--log-level", "WARNING",
                             "--set", *sets], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


def _health(port: int) -> dict | None:
    try:
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read())
    except OSError:
        return None


def test_two_workers_share_partitions_and_survive_sigkill(broker, videos, model):
    """Kill one of two workers mid-session: every session still gets a result, and never two different ones."""
    model_path, _ = model
    topics = _topics("kill")
    sessions = {f"s{i}-{name}": videos[name] for i, name in enumerate(SPECIES * 2)}
    streams = {sid: _chunks(sid, path, "mpegts", 2000) for sid, path in sessions.items()}
    ports = [free_port(), free_port()]
    procs = [_serve(broker, model_path, topics, port) for port in ports]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [_health(p) for p in ports]
            if all(s and s["partitions"] for s in states):
                break
            time.sleep(0.5)
        assert all(s and s["partitions"] for s in states), f"workers did not share the partitions: {states}"
        assert not set(states[0]["partitions"]) & set(states[1]["partitions"])
        producer = _producer(broker)
        _send(producer, topics["kafka.input_topic"], [m for s in streams.values() for m in s[:len(s) // 2]])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (_health(ports[0]) or {}).get("open_sessions"):
            time.sleep(0.2)
        assert _health(ports[0])["open_sessions"] > 0, "the worker to kill holds no session"
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        _send(producer, topics["kafka.input_topic"], [m for s in streams.values() for m in s[len(s) // 2:]])
        results = _results(_read(broker, topics["kafka.output_topic"], len(sessions), 120, settle=3))
        assert sorted(results) == sorted(sessions)
        for sid, copies in results.items():
            assert all(r["status"] == "ok" for r in copies), copies
            assert len({(r["score"], r["decision"]) for r in copies}) == 1, copies
        assert _health(ports[1])["partitions"] and len(_health(ports[1])["partitions"]) == 4
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            proc.wait(30)


def _send_at(producer, topic, message, partition=0):
    key, value, headers = message
    return producer.send(topic, key=key, value=value, headers=headers, partition=partition).get(10)


def test_new_owner_recognises_sessions_its_predecessor_answered(broker, videos, model, cropper):
    """The commit point lies inside an answered session's chunks (an open session started before it):
    the next owner re-reads them, finds the session in the restored result partition and publishes
    nothing; a session whose seq 0 was never sent still gets its missing_chunk error."""
    model_path, _ = model
    topics = _topics("restore")
    inp, out = topics["kafka.input_topic"], topics["kafka.output_topic"]
    still_open, answered = _chunks("r-open", videos["live"]), _chunks("r-done", videos["print"])
    producer = _producer(broker)
    with running_worker(broker, model_path, cropper, topics):
        _send_at(producer, inp, still_open[0])  # holds the commit point at its offset
        first = [_send_at(producer, inp, m) for m in answered]
        assert len(_read(broker, out, 1, 60, settle=0)) == 1
        time.sleep(1)  # acknowledged and committed up to r-open's first chunk
    assert first[0].partition == 0 and first[0].offset > 0
    with running_worker(broker, model_path, cropper, topics) as second:
        for m in _chunks("r-gap", videos["replay"])[1:]:  # seq 0 never sent
            _send_at(producer, inp, m)
        results = _results(_read(broker, out, 2, 60))
        reread = second.metrics.registry.get_sample_value("fas_chunks_received_total")
    assert reread >= len(answered) + 1, "the second worker did not re-read the answered session"
    (done,) = results["r-done"]
    assert done["status"] == "ok" and done["source"] == {"topic": inp, "partition": 0,
                                                         "offsets": [first[0].offset, first[-1].offset]}
    (gap,) = results["r-gap"]
    assert (gap["status"], gap["reason"]) == ("error", "missing_chunk"), gap
    assert "r-open" not in results


def test_timeout_markers_act_only_after_the_chunk_they_name(broker, videos, model, cropper):
    """A session times out when a marker naming its last chunk is read back. A stale marker (a chunk
    came after the one it names, as with a worker that was frozen or behind) is void, and chunks after
    a timeout get no second result."""
    model_path, offline = model
    topics = _topics("marker")
    inp, out = topics["kafka.input_topic"], topics["kafka.output_topic"]
    live, quiet = _chunks("m-live", videos["live"]), _chunks("m-quiet", videos["print"])
    with running_worker(broker, model_path, cropper, {**topics, "limits.session_timeout_s": 600}):
        producer = _producer(broker)
        chunk0 = _send_at(producer, inp, live[0])
        _send_at(producer, inp, live[1])
        _send_at(producer, inp, protocol.timeout_marker("m-live", chunk0.offset))  # stale: void
        for m in live[2:]:
            _send_at(producer, inp, m)
        last = _send_at(producer, inp, quiet[0])
        _send_at(producer, inp, protocol.timeout_marker("m-quiet", last.offset))
        assert len(_read(broker, out, 2, 60, settle=0)) == 2
        for m in quiet[1:]:  # too late
            _send_at(producer, inp, m)
        results = _results(_read(broker, out, 3, 6))
    (ok,) = results["m-live"]
    assert ok["status"] == "ok" and ok["score"] == pytest.approx(offline["live"], abs=2e-5), ok
    (late,) = results["m-quiet"]
    assert (late["status"], late["clips"]) == ("timeout", 0) and late["source"]["offsets"][1] == last.offset + 1
