"""Checkpoints, video scoring, `fasstream verify` and `fasstream eval` on real (synthetic) H.264 videos."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fasstream.cli import main
from fasstream.data import faces
from fasstream.data.faceclips import clip_windows, crop_clip
from fasstream.data.synthetic import generate_dataset
from fasstream.data.video import read_video
from fasstream.eval.portraits import MOTIONS, SIDE, animated_portrait
from fasstream.eval.scoring import VideoScorer
from fasstream.model import EulerNet, score
from fasstream.model.checkpoint import CheckpointError, export_checkpoint, load_checkpoint

SIZE = 32  # small crops keep the tests fast; the paper's 256 works the same way


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    records = generate_dataset(out, n_identities=5, seed=3, workers=1, live_videos=1,
                               families=["print-flat", "replay-lcd", "animated-warp"])
    return out, records


def _checkpoint(path, threshold=0.5, config_extra=None, **extra):
    torch.manual_seed(0)
    model = EulerNet("tiny", size=SIZE)
    config = {**model.config, "label": "position", "crop_scale": 1.3, **(config_extra or {})}
    torch.save({"model": model.state_dict(), "config": config,
                "threshold": threshold, "metrics": {}, "version": "test", **extra}, path)
    return model.eval()


def test_checkpoint_round_trip_and_export(tmp_path):
    model = _checkpoint(tmp_path / "full.pt", optimizer={"state": {}}, history=[1, 2],
                        trained_with={"torch": "2.14.1", "threads": 1})
    slim = export_checkpoint(tmp_path / "full.pt", tmp_path / "slim.pt")
    loaded, meta = load_checkpoint(slim)
    assert "optimizer" not in meta and "history" not in meta and meta["threshold"] == 0.5
    assert meta["trained_with"] == {"torch": "2.14.1", "threads": 1}  # what a bit-exact retraining needs
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "corrupt.pt")
    torch.save({"model": {}}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="lacks model, config, threshold"):
        load_checkpoint(tmp_path / "partial.pt")
    _checkpoint(tmp_path / "tiny.pt")
    ckpt = torch.load(tmp_path / "tiny.pt", weights_only=True)
    ckpt["config"]["width"] = "base"
    torch.save(ckpt, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_checkpoint(tmp_path / "mismatch.pt")
    ckpt = torch.load(tmp_path / "tiny.pt", weights_only=True)  # a tiny model of before 2026-12-05: a 4-channel stem
    ckpt["model"]["stem.0.weight"] = ckpt["model"]["stem.0.weight"][:4]
    torch.save(ckpt, tmp_path / "old-preset.pt")
    with pytest.raises(CheckpointError, match=r"stem\.0\.weight \(4, 3, 3, 3\) in the file, \(8, 3, 3, 3\) here.*"
                                              r"another version of the 'tiny' preset"):
        load_checkpoint(tmp_path / "old-preset.pt")
    _checkpoint(tmp_path / "median.pt", config_extra={"aggregate": "median"})
    with pytest.raises(CheckpointError, match=r"median.pt scores videos by 'median'.*\(mean, max\). Fix: upgrade"):
        load_checkpoint(tmp_path / "median.pt")


def test_video_score_is_the_mean_or_max_of_clip_map_means(dataset, tmp_path):
    _, records = dataset
    model = _checkpoint(tmp_path / "m.pt")
    rec = records[0]
    result = VideoScorer(model, 0.5, 1.3).score_file(rec.path, rec.landmarks)
    frames, _ = read_video(rec.path)
    windows = clip_windows(np.load(rec.landmarks), 1.3)
    clips = torch.from_numpy(np.stack([crop_clip(frames, w, SIZE) for w in windows])).permute(0, 1, 4, 2, 3)
    with torch.no_grad():
        expected = score(model(clips.float() / 255))
    assert result.clips == len(windows) > 0
    np.testing.assert_allclose(result.clip_scores, expected.numpy(), rtol=1e-5)
    assert result.score == pytest.approx(float(expected.mean()), rel=1e-5)
    assert result.live == (result.score >= 0.5)
    _checkpoint(tmp_path / "max.pt", config_extra={"aggregate": "max"})
    by_max = VideoScorer.from_checkpoint(*load_checkpoint(tmp_path / "max.pt")).score_file(rec.path, rec.landmarks)
    assert by_max.score == pytest.approx(float(expected.max()), rel=1e-5) and by_max.clip_scores == result.clip_scores


def test_verify_scores_videos_and_reports_bad_ones(dataset, tmp_path, capsys):
    _, records = dataset
    _checkpoint(tmp_path / "m.pt", threshold=0.0)  # every score >= 0: all live
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    out_json = tmp_path / "verify.json"
    code = main(["verify", str(records[0].path), str(records[1].path), str(bad), "--model", str(tmp_path / "m.pt"),
                 "--json", str(out_json)])
    printed = capsys.readouterr().out
    assert code == 0 and "2 scored, 1 skipped" in printed
    results = json.loads(out_json.read_text())["results"]
    assert [r.get("decision") for r in results] == ["live", "live", None]
    assert "error" in results[2] and results[0]["clips"] > 0
    assert main(["verify", str(records[0].path), "--model", str(tmp_path / "none.pt")]) == 2
    assert "none.pt does not exist. Fix:" in capsys.readouterr().err


def test_eval_writes_report_with_dev_threshold(dataset, tmp_path, capsys):
    out, records = dataset
    _checkpoint(tmp_path / "m.pt")
    report = tmp_path / "report"
    assert main(["eval", "--model", str(tmp_path / "m.pt"), "--data", str(out / "dataset.csv"),
                 "--out", str(report)]) == 0
    results = json.loads((report / "results.json").read_text())
    assert set(results) >= {"dev", "test", "threshold"}
    n_test = sum(r.split == "test" for r in records)
    assert sum(results["test"]["counts"].values()) == n_test
    assert results["test"]["threshold"] == results["dev"]["threshold"] == results["threshold"]
    for png in ("roc.png", "det.png", "hist_dev.png", "hist_test.png"):
        assert (report / png).stat().st_size > 1000
    assert "ACER" in capsys.readouterr().out


def test_scores_from_the_label_cache_match_the_landmark_files(dataset, tmp_path, capsys):
    from fasstream.labels.cache import cached_landmarks, label_records

    out, records = dataset
    model = _checkpoint(tmp_path / "m.pt")
    summary = label_records(records[:1], tmp_path / "cache", labels=("position",), detector="precomputed",
                            progress=False)
    assert summary.labelled == [records[0].video_id]
    scorer = VideoScorer(model, 0.5)
    assert scorer.score_file(records[0].path, cached_landmarks(tmp_path / "cache", records[0].video_id)) == \
        scorer.score_file(records[0].path, records[0].landmarks) == \
        VideoScorer(model, 0.5, faces="precomputed").score_file(records[0].path)  # the .npy beside the video
    with pytest.raises(ValueError, match="expected \\("):
        scorer.score_file(records[0].path, np.zeros((3, 68, 2), np.float32))
    assert main(["eval", "--model", str(tmp_path / "m.pt"), "--data", str(out / "dataset.csv"),
                 "--cache", str(tmp_path / "nowhere")]) == 2
    assert "nowhere is not a folder" in capsys.readouterr().err


def test_animated_portrait_moves_the_photo_and_its_landmarks_together():
    image, marks = faces.source_faces()["grace_hopper"]
    frames, tracks = animated_portrait(image, marks, 20, *MOTIONS["zoom-and-pan"])
    assert frames.shape == (20, SIDE, SIDE, 3) and frames.dtype == np.uint8 and tracks.shape == (20, 68, 2)
    colours = lambda frame, points: np.stack([faces.sample(frame[..., c].astype(np.float32), points)
                                             for c in range(3)], 1)
    first = colours(frames[0], tracks[0])
    assert max(np.abs(colours(f, t) - first).mean() for f, t in zip(frames, tracks)) < 5  # pixels ride on the marks
    assert np.abs(colours(frames[-1], tracks[0]) - first).mean() > 15  # and they moved
    spread = np.ptp(tracks[:, :, 0], axis=1)
    assert spread[-1] > spread[0] and np.ptp(tracks[:, :, 0].mean(1)) > 4  # zoomed in and panned
