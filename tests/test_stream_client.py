"""The client commands ``fasstream send`` and ``fasstream results`` against a real broker (tansu on loopback)."""
import json
import threading
import time
import uuid

import numpy as np
import pytest

from fasstream.cli import main
from fasstream.data.video import write_video
from fasstream.stream import protocol
from fasstream.stream.broker import free_port
from fasstream.stream.chunker import remux
from fasstream.stream.topics import ensure_topics

kafka = pytest.importorskip("kafka")


def _topic(broker, tag: str) -> str:
    topic = f"{tag}-{uuid.uuid4().hex[:6]}"
    ensure_topics(broker, [topic])
    return topic


def _video(path, n: int, seed: int):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    return write_video(path, np.stack([np.roll(base, 2 * i, axis=1) for i in range(n)]), 25.0)


def _read(broker, topic, want: int, timeout: float = 20) -> list:
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=broker, group_id=None, auto_offset_reset="earliest")
    out, deadline = [], time.monotonic() + timeout
    try:
        while len(out) < want and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200).values():
                out.extend(messages)
    finally:
        consumer.close()
    return out


def test_send_streams_each_video_as_one_session(broker, tmp_path, capsys):
    videos = [_video(tmp_path / "cam-a.mp4", 26, 0), _video(tmp_path / "cam-b.mp4", 31, 1)]
    topic = _topic(broker, "send")
    assert main(["send", *map(str, videos), "--bootstrap-servers", broker, "--topic", topic, "--container", "mp4",
                 "--chunk-bytes", "5000", "--prefix", "t-", "--face-box", "10,12.5,80"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"t-cam-a\t{videos[0]}", f"t-cam-b\t{videos[1]}"]
    streams = {f"t-{v.stem}": remux(v, "mp4") for v in videos}
    want = sum(-(-len(data) // 5000) for data in streams.values())
    messages = _read(broker, topic, want)
    assert len(messages) == want
    sessions: dict = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        sessions.setdefault(m.key.decode(), []).append(m)
    assert sorted(sessions) == sorted(streams)
    traces = set()
    for sid, chunks in sessions.items():
        headers = [protocol.header_dict(m.headers) for m in chunks]
        assert [h["seq"] for h in headers] == [str(i) for i in range(len(chunks))]
        assert {h["session-id"] for h in headers} == {sid} and {h["container"] for h in headers} == {"mp4"}
        assert [h["end"] for h in headers] == ["0"] * (len(chunks) - 1) + ["1"]
        assert len({h["trace-id"] for h in headers}) == 1 and {h["face-box"] for h in headers} == {"10,12.5,80"}
        traces.add(headers[0]["trace-id"])
        assert all(len(m.value) <= 5000 for m in chunks)
        assert b"".join(m.value for m in chunks) == streams[sid]  # the remuxed file, byte for byte
    assert len(traces) == 2


def test_send_rejects_bad_arguments(broker, tmp_path):
    video = _video(tmp_path / "a.mp4", 12, 0)
    (tmp_path / "other").mkdir()
    twin = _video(tmp_path / "other" / "a.mp4", 12, 1)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    cases = {
        "no such video: " + str(tmp_path / "gone.mp4"): [str(tmp_path / "gone.mp4")],
        "--chunk-bytes 0 must be 1 or more": [str(video), "--chunk-bytes", "0"],
        "--face-box '10,20' is not 'x0,y0,size'": [str(video), "--face-box", "10,20"],
        "--face-box '1,2,0' is not 'x0,y0,size' with size > 0": [str(video), "--face-box", "1,2,0"],
        f"{video} and {twin} would both be session p-a": [str(video), str(twin), "--prefix", "p-"],
        f"{notes}": [str(notes), "--bootstrap-servers", broker],
        "no Kafka broker at 127.0.0.1:": [str(video), "--bootstrap-servers", f"127.0.0.1:{free_port()}",
                                          "--connect-timeout", "1"],
    }
    for expected, argv in cases.items():
        with pytest.raises(SystemExit) as err:
            main(["send", *argv])
        assert str(err.value).startswith("fasstream send: ") and expected in str(err.value), (argv, err.value)
    with pytest.raises(SystemExit) as err:
        main(["send", str(notes), "--bootstrap-servers", broker])
    assert "send video files" in str(err.value)


def _publish(broker, topic, sids) -> list[dict]:
    """Results as the worker publishes them: JSON keyed by session id, with status headers."""
    producer = kafka.KafkaProducer(bootstrap_servers=broker)
    out = []
    for i, sid in enumerate(sids):
        result = {"session_id": sid, "status": "ok", "score": round(0.1 * i, 6), "decision": "spoof", "clips": 3}
        producer.send(topic, key=sid.encode(), value=protocol.encode_result(result),
                      headers=protocol.result_headers(result))
        out.append(result)
    producer.flush()
    producer.close()
    return out


def _printed(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_results_prints_published_results(broker, capsys):
    topic = _topic(broker, "results")
    published = _publish(broker, topic, ["r-0", "r-1", "r-2"])
    by_sid = {r["session_id"]: r for r in published}
    assert main(["results", "--bootstrap-servers", broker, "--topic", topic, "--from-beginning", "--count", "2"]) == 0
    two = _printed(capsys)
    assert len(two) == 2 and all(by_sid[r["session_id"]] == r for r in two)
    assert main(["results", "--bootstrap-servers", broker, "--topic", topic, "--from-beginning",
                 "--idle-timeout", "2"]) == 0
    assert sorted(_printed(capsys), key=lambda r: r["session_id"]) == published


def test_results_tails_new_results_only(broker, capsys):
    topic = _topic(broker, "tail")
    _publish(broker, topic, ["old-0", "old-1"])
    argv = ["results", "--bootstrap-servers", broker, "--topic", topic, "--count", "1", "--idle-timeout", "30"]
    tail = threading.Thread(target=main, args=(argv,))
    tail.start()
    n = 0
    while tail.is_alive() and n < 40:  # keep publishing until the tail, positioned at the end, sees one
        _publish(broker, topic, [f"new-{n}"])
        n += 1
        tail.join(0.5)
    assert not tail.is_alive()
    (printed,) = _printed(capsys)
    assert printed["session_id"].startswith("new-")


def test_results_rejects_bad_arguments():
    for argv, expected in ((["--count", "-1"], "--count and --idle-timeout must be 0"),
                           (["--idle-timeout", "-2"], "--count and --idle-timeout must be 0"),
                           (["--bootstrap-servers", f"127.0.0.1:{free_port()}", "--connect-timeout", "1"],
                            "no Kafka broker at 127.0.0.1:")):
        with pytest.raises(SystemExit) as err:
            main(["results", *argv])
        assert str(err.value).startswith("fasstream results: ") and expected in str(err.value), argv
