"""Streaming stages without a broker: incremental decode, clip sampling, offsets, headers, claim checks."""
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasstream.data.video import read_video, sample_clips, write_video
from fasstream.stream import protocol
from fasstream.stream.chunker import remux
from fasstream.stream.claimcheck import allowed, fetch
from fasstream.stream.decode import FrameSampler, InputError, Limits, SessionDecoder
from fasstream.stream.ledger import OffsetLedger
from fasstream.stream.session import Session


def _frames(n=26, size=64, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 2 * i, axis=1) for i in range(n)])


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    """Each container's byte stream of one small H.264 video, and the clips of the whole file."""
    folder = tmp_path_factory.mktemp("decode")
    path = write_video(folder / "v.mp4", _frames(), 25.0)
    whole, _ = read_video(path)
    return {c: remux(path, c) for c in ("mpegts", "mp4", "h264")}, sample_clips(whole)


def _decode(container, pieces, limits=Limits(), pause=0.0):
    clips, done = [], threading.Event()
    result = {}

    def finished(frames, n_clips, error, seconds):
        result.update(frames=frames, clips=n_clips, error=error, seconds=seconds)
        done.set()

    decoder = SessionDecoder("test", container, limits, clips.append, finished)
    for piece in pieces:
        decoder.feed(piece)
        time.sleep(pause)
    decoder.close()
    assert done.wait(20), "decoder never finished"
    return clips, result


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(container=st.sampled_from(["mpegts", "mp4", "h264"]), cuts=st.lists(st.floats(0, 1), max_size=12))
def test_chunks_cut_anywhere_decode_to_the_whole_files_clips(streams, container, cuts):
    data, expected = streams[0][container], streams[1]
    offsets = sorted({int(c * len(data)) for c in cuts} | {0, len(data)})
    pieces = [data[a:b] for a, b in zip(offsets, offsets[1:])]
    clips, result = _decode(container, pieces)
    assert result["error"] is None and result["frames"] == 26 and result["clips"] == len(expected) == 2
    assert [c.start for c in clips] == [0, 10]
    for clip, want in zip(clips, expected):
        np.testing.assert_array_equal(clip.frames, want)


def _boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level MP4 boxes: type -> (start, end) of the first of each type."""
    out, at = {}, 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        out.setdefault(data[at + 4:at + 8], (at, at + size))
        at += size
    return out


def test_fragmented_mp4_header_cut_anywhere(streams):
    """A chunk boundary inside the moov box, its sample description (stsd) included: FFmpeg's demuxer
    misreads a header that arrives in pieces unless the decoder reads it whole."""
    data, expected = streams[0]["mp4"], streams[1]
    start, end = _boxes(data)[b"moov"]
    for cut in range(start + 1, end, 16):
        clips, result = _decode("mp4", [data[:cut], data[cut:]])
        assert result["error"] is None and len(clips) == len(expected), (cut, result)


def test_decode_time_leaves_out_waiting_for_chunks(streams):
    """A session streamed live spends most of its time waiting for bytes: the reported decode time
    is the decoding alone."""
    data = streams[0]["mpegts"]
    clips, result = _decode("mpegts", [data[:len(data) // 2], data[len(data) // 2:]], pause=0.5)
    assert result["error"] is None and len(clips) == 2
    assert 0 < result["seconds"] < 0.25  # the decoder waited 0.5 s for the second half


def test_mpeg4_part2_in_mpegts_and_mp4(tmp_path):
    path = write_video(tmp_path / "v.mp4", _frames(), 25.0, codec="mpeg4")
    for container in ("mpegts", "mp4"):
        clips, result = _decode(container, [remux(path, container)])
        assert result["error"] is None and len(clips) == 2


def test_garbage_and_limits_are_input_errors(streams):
    _, result = _decode("mpegts", [b"\x00garbage" * 100])
    assert isinstance(result["error"], InputError) and result["error"].reason == "undecodable"
    _, result = _decode("h264", [streams[0]["h264"]], Limits(frame_pixels=64 * 64 - 1))
    assert result["error"].reason == "frame_too_large"
    _, result = _decode("mp4", [streams[0]["mp4"]], Limits(session_frames=20))
    assert result["error"].reason == "too_many_frames"
    with pytest.raises(InputError, match="container 'avi'"):
        SessionDecoder("s", "avi", Limits(), print, print)


def test_sampler_matches_clip_starts():
    sampler, clips = FrameSampler(), []
    frames = np.arange(35)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    for i, frame in enumerate(frames):
        if sampler.wants(i) and (clip := sampler.push(i, frame)) is not None:
            clips.append(clip)
    np.testing.assert_array_equal(np.stack([c.frames for c in clips]), sample_clips(frames))


def test_a_sessions_score_is_its_clips_by_the_models_rule():
    s = Session("s1", ("t", 0), "mpegts", None, None, 0, ended=True, frames=40, clips=3,
                scores={2: 0.25, 0: 0.5}, faceless=1)
    mean, best = s.result(0.4, "v", "w"), s.result(0.4, "v", "w", rule="max")
    assert (mean["score"], mean["decision"], mean["clips"]) == (0.375, "spoof", 2)
    assert (best["score"], best["decision"], best["clips"]) == (0.5, "live", 2)


def test_ledger_commits_only_below_unfinished_work():
    ledger, tp = OffsetLedger(), "p0"
    assert ledger.commit_point(tp) is None
    for offset in range(5):
        ledger.hold(tp, offset)
    ledger.release(tp, [1, 2, 4])  # sessions finish out of order
    assert ledger.commit_point(tp) == 0
    ledger.release(tp, [0])
    assert ledger.commit_point(tp) == 3
    ledger.release(tp, [3])
    assert ledger.commit_point(tp) == 5


def test_chunk_headers_round_trip_and_errors():
    headers = protocol.chunk_headers("s1", 3, "mp4", True, (10, 20.5, 100), "t1")
    chunk = protocol.parse_chunk(b"s1", b"xyz", headers)
    assert (chunk.session, chunk.seq, chunk.container, chunk.end, chunk.face_box, chunk.trace_id) == (
        "s1", 3, "mp4", True, (10.0, 20.5, 100.0), "t1")
    with pytest.raises(InputError, match="seq"):
        protocol.parse_chunk(b"s1", b"", [("seq", b"x"), ("container", b"mp4")])
    with pytest.raises(InputError, match="face-box"):
        protocol.parse_chunk(b"s1", b"", protocol.chunk_headers("s1", 0, "mp4", False) + [("face-box", b"1,2")])
    with pytest.raises(InputError, match="neither"):
        protocol.parse_chunk(None, b"", [])


def test_claim_check_allow_list(tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.ts").write_bytes(b"abc")
    (tmp_path / "secret").write_bytes(b"no")
    allow = [(tmp_path / "ok").as_uri() + "/"]
    assert fetch((tmp_path / "ok" / "a.ts").as_uri(), allow, 10) == b"abc"
    assert not allowed((tmp_path / "ok").as_uri() + "/../secret", allow)
    assert not allowed("http://example.invalid/x", allow)
    with pytest.raises(InputError) as err:
        fetch((tmp_path / "secret").as_uri(), allow, 10)
    assert err.value.reason == "ref_not_allowed"
    with pytest.raises(InputError) as err:
        fetch((tmp_path / "ok" / "a.ts").as_uri(), allow, 2)
    assert err.value.reason == "chunk_too_large"


def test_claim_check_http_urls_stay_under_the_prefix():
    allow = ["http://127.0.0.1:8000/sessions/"]
    assert allowed("http://127.0.0.1:8000/sessions/a/b.ts", allow)
    for ref in ("http://127.0.0.1:8000/sessions/../secret", "http://127.0.0.1:8000/sessions/%2e%2e/secret",
                "http://127.0.0.1:8000/sessions/a/%2E%2E%2F%2E%2E%2Fsecret", "http://127.0.0.1:8000/sessions/./a",
                "http://127.0.0.1:8000/sessions-old/a.ts", "http://127.0.0.1:8001/sessions/a.ts",
                "http://127.0.0.1:8000.evil.example/sessions/a.ts", "https://127.0.0.1:8000/sessions/a.ts"):
        assert not allowed(ref, allow), ref
    assert not allowed("http://h/data-old/x", ["http://h/data"]) and allowed("http://h/data/x", ["http://h/data"])


def test_config_layers_yaml_env_set_flags():
    from fasstream.stream.config import ConfigError, load_config

    env = {"FASSTREAM_SERVE__KAFKA__BOOTSTRAP_SERVERS": "b:9", "FASSTREAM_SERVE__BATCH__MAX_BATCH": "4",
           "FASSTREAM_SERVE__KAFKA__CLIENT": "{security_protocol: SASL_SSL}"}
    cfg = load_config(None, ["batch.max_batch=8", "limits.chunk_bytes=1000"], {"model": "m.pt"}, environ=env)
    assert (cfg.kafka.bootstrap_servers, cfg.batch.max_batch, cfg.limits.chunk_bytes, cfg.model) == (
        "b:9", 8, 1000, "m.pt")
    assert cfg.kafka.client == {"security_protocol": "SASL_SSL"}
    with pytest.raises(ConfigError, match="unknown key 'batch.size'"):
        load_config(None, ["batch.size=3"], {"model": "m.pt"}, environ={})
    assert load_config(None, [], {}, environ={}).model.endswith("pipelines/models/tiny.pt")  # as verify's default


def test_cpu_serving_model_matches_the_training_module(tmp_path):
    import torch

    from fasstream.model import EulerNet, score
    from fasstream.model.fold import cpu_serving_model
    from fasstream.stream.batcher import DynamicBatcher, load_model

    net = EulerNet(width="tiny", size=64).eval()
    with torch.no_grad():  # BatchNorm statistics far from the identity, so that folding has work to do
        for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    served = cpu_serving_model(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in served.modules())
    clips = torch.rand(3, 4, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(served(clips), net(clips), atol=1e-5, rtol=1e-4)
    path = tmp_path / "m.pt"
    torch.save({"model": net.state_dict(), "config": net.config, "threshold": 0.5, "metrics": {}}, path)
    crops = np.random.default_rng(0).integers(0, 255, (2, 4, 64, 64, 3), dtype=np.uint8)
    scores = {}
    for precision in ("fp32", "bf16"):
        batcher = DynamicBatcher(load_model(path, "cpu", precision), lambda *a: None)
        batcher.stop()
        scores[precision] = batcher.predict(crops)
    with torch.inference_mode():
        want = score(net(torch.from_numpy(crops).permute(0, 1, 4, 2, 3).float() / 255)).numpy()
    np.testing.assert_allclose(scores["fp32"], want, atol=1e-6)
    np.testing.assert_allclose(scores["bf16"], want, atol=2e-2)
    with pytest.raises(ValueError, match="batch.precision"):
        load_model(path, "cpu", "fp16")


def test_a_clips_score_does_not_depend_on_the_clips_beside_it():
    """The served model runs on exactly max_batch clips a call, so a session scored twice, in other
    company, gets the same score bit for bit (oneDNN's kernels for 1 and 8 clips differ in the last digits)."""
    from fasstream.model.checkpoint import DEFAULT_MODEL
    from fasstream.stream.batcher import DynamicBatcher, load_model

    loaded = load_model(DEFAULT_MODEL, "cpu")
    size = loaded.model.size
    crops = np.random.default_rng(0).integers(0, 256, (12, 4, size, size, 3), dtype=np.uint8)
    batcher = DynamicBatcher(loaded, lambda *a: None, max_batch=8)
    batcher.stop()
    together = batcher.predict(crops)
    alone = np.concatenate([batcher.predict(crops[i:i + 1]) for i in range(len(crops))])
    reordered = batcher.predict(crops[::-1])[::-1]
    assert together.shape == (12,) and np.array_equal(together, alone) and np.array_equal(together, reordered)


def test_face_crop_matches_the_training_crop_of_exact_landmarks():
    """The worker's default face stage (MTCNN, calibrated) puts a clip's box where training would put it."""
    import cv2

    from fasstream.data.synthetic import faces, make_identity, render_video
    from fasstream.faces.geometry import face_crop_box
    from fasstream.stream.crop import FaceCropper

    frames, marks, _ = render_video(make_identity(sorted(faces.source_faces())[0], 7), "replay",
                                    np.random.SeedSequence(7))
    clip, points = sample_clips(frames)[1], sample_clips(marks)[1]
    want = np.array(face_crop_box(points.mean(0)))
    cropper = FaceCropper.from_config("mtcnn", "cpu", 64, 1.3)
    track = cropper.track()
    got = np.array(cropper.tracker.boxes([(track, clip, None)])[0])
    assert np.abs(got - want).max() < 0.06 * want[2]
    assert cropper(clip).shape == (4, 64, 64, 3)
    big = np.stack([cv2.resize(f, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR) for f in clip])
    big_box = np.array(cropper.tracker.boxes([(cropper.track(), big, None)])[0])
    assert np.abs(big_box / 2 - want).max() < 0.06 * want[2]
    assert cropper(np.zeros_like(clip)) is None
    with pytest.raises(ValueError, match="uint8 RGB"):
        cropper(clip[..., 0])


def test_a_stabilised_model_is_served_stabilised_crops(tmp_path):
    """A checkpoint trained with data.stabilise, data.resample and aggregate: the worker loads them, and its face
    stage crops and stabilises as verify (VideoScorer) and training do."""
    import cv2
    import skimage.data
    import torch

    from fasstream.data.faceclips import ClipWindow, stabilised_crop
    from fasstream.eval.scoring import VideoScorer
    from fasstream.faces.geometry import crop_frame
    from fasstream.model import EulerNet
    from fasstream.stream.batcher import load_model
    from fasstream.stream.crop import FaceCropper

    net = EulerNet(width="tiny", size=64).eval()
    path = tmp_path / "m.pt"
    config = {**net.config, "stabilise": True, "resample": "lanczos", "aggregate": "max"}
    torch.save({"model": net.state_dict(), "config": config, "threshold": 0.5, "metrics": {}}, path)
    torch.save({"model": net.state_dict(), "config": net.config, "threshold": 0.5}, tmp_path / "plain.pt")
    loaded = load_model(path, "cpu", "fp32")
    plain_model = load_model(tmp_path / "plain.pt", "cpu", "fp32")
    assert loaded.stabilise and loaded.resample == "lanczos" and loaded.aggregate == "max"
    assert not plain_model.stabilise and plain_model.resample == "linear" and plain_model.aggregate == "mean"  # older
    photo = cv2.resize(skimage.data.astronaut(), (200, 200), interpolation=cv2.INTER_AREA)
    clip = np.stack([np.roll(photo, (i, 2 * i), axis=(0, 1))[20:180, 20:180] for i in range(4)])  # a panned photo
    box = (30.0, 30.0, 100.0)
    cropper = FaceCropper.from_config("client", "cpu", 64, 1.3, loaded.stabilise, loaded.resample)
    got = cropper(clip, box)
    plain = np.stack([crop_frame(f, box, 64, resample="lanczos") for f in clip])
    np.testing.assert_array_equal(got, stabilised_crop(clip, ClipWindow(np.arange(4), box), 64, "lanczos")[0])
    assert np.abs(got[3].astype(int) - got[0]).mean() < 0.5 * np.abs(plain[3].astype(int) - plain[0]).mean()
    scorer = VideoScorer.from_checkpoint(net, {"threshold": 0.5, "config": config})
    assert scorer.stabilise and scorer.resample == "lanczos"
