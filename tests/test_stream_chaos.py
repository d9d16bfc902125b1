"""Chaos against the real broker and real worker processes: >= 100 interleaved sessions while a
worker is SIGKILLed (and replaced), SIGSTOPped past the group's session timeout, or added.

Every session must get exactly one distinct verdict, valid ones `ok`, malformed ones their own
error (a seq-0 gap stays `missing_chunk`), none refused or lost. Small and fast on purpose: 12-frame
160-pixel clips, a 64-pixel tiny model, client face boxes (no dlib), 4 sessions open per worker
at most so that replays after a failover are deferred and re-read, never refused.
"""
import pytest

from fasstream.stream.chaos import Fault, make_model, make_sessions, make_videos, run_chaos, video_of
from fasstream.stream.protocol import FACE_BOX

pytest.importorskip("kafka")

FLAGS = {"face_detector": "client", "batch.threads": 1, "crop_threads": 1, "limits.open_sessions": 4,
         "limits.session_timeout_s": 5, "kafka.session_timeout_ms": 6000}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chaos")
    return make_model(folder / "tiny64.pt"), make_videos(folder / "videos")


def _check(report):
    print("\n".join(report.events + [report.summary()]))
    assert not report.crashed, report.crashed
    assert not report.lost, report.lost
    assert not report.conflicting, report.conflicting
    assert not report.refused and not report.wrong, (report.refused, report.wrong)
    scores = {}  # one video, one score, whichever worker scored it
    for sid, (status, _, score, _) in report.verdicts.items():
        if status == "ok":
            scores.setdefault(video_of(sid), set()).add(score)
    assert all(len(s) == 1 for s in scores.values()), scores


@pytest.mark.parametrize("fault", [Fault("kill", 0.3), Fault("pause", 0.3, 10.0), Fault("add", 0.15)],
                         ids=["sigkill-and-replace", "sigstop-past-session-timeout", "worker-added"])
def test_every_session_one_distinct_result(broker, setup, fault, tmp_path):
    model, videos = setup
    chunks, expected = make_sessions(videos, 100, chunk_bytes=1500, malformed=6)
    report = run_chaos(broker, model, chunks, expected, [fault], workers=1 if fault.kind == "add" else 2,
                       flags=FLAGS, log_dir=tmp_path)
    _check(report)
    newcomer = {"kill": "w2", "add": "w1"}.get(fault.kind)
    if newcomer:  # the replacement or the added worker took partitions over mid-stream
        assert newcomer in report.held_partitions, report.held_partitions


def test_a_video_gets_one_score_whichever_worker_and_batch_find_its_face(broker, setup, tmp_path):
    """With the licence-clean face stage in the workers (sessions carry no box), a video's score must not
    depend on the worker or on the sessions that shared its face and model batches: the same six-decimal
    score for every session of it, duplicates of a paused worker included (docs/faces.md)."""
    model, _ = setup
    videos = make_videos(tmp_path / "videos", size=320, frames=40)  # 4 clips: a face track carried across clips
    chunks, expected = make_sessions(videos, 48, chunk_bytes=3000, malformed=2, face_boxes=False)
    assert not any(k == FACE_BOX for messages in chunks.values() for _, _, h in messages for k, _ in h)
    report = run_chaos(broker, model, chunks, expected, [Fault("pause", 0.3, 10.0)], workers=2,
                       flags={**FLAGS, "face_detector": "mtcnn"}, log_dir=tmp_path)
    _check(report)
