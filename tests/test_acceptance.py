"""The committed tiny model on its recipe's synthetic dev and test splits, regenerated from their seed.

The still probe makes this test fail for a model that ignores time: every live test video, frozen
(each clip's 4 frames replaced by its first), must score below the dev threshold. The live videos
filmed by hand-held cameras make it fail for a model that takes camera motion for an attack (the
model committed before 2026-12-04 accepted 40% of them, and 91% of those on a stand).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fasstream.cli import main
from fasstream.data.faces import source_faces
from fasstream.data.records import read_layout_csv
from fasstream.data.synthetic import generate_dataset, read_capture
from fasstream.data.video import write_video
from fasstream.eval.portraits import MOTIONS, animated_portrait
from fasstream.eval.scoring import VideoScorer
from fasstream.model.checkpoint import load_checkpoint

MODEL = Path(__file__).resolve().parents[1] / "pipelines" / "models" / "tiny.pt"
# ACER by species measured 7.99%: 5 of 48 replays (phone), 1 of 48 animated and 1 of 48 rigid accepted, 4 of 72
# live lost (EER 4.4%); the target is 2% (docs/training.md: why it is not met)
ACER_BOUND = 0.10
BPCER_BOUND = 0.07  # measured 5.56%; one live video more is 6.94
HANDHELD_LIVE_BOUND = 0.9  # share of hand-held live test videos accepted; measured 44 of 46
TEST_COUNTS = {"live": 72, "print": 48, "replay": 48, "animated": 48, "still": 48, "rigid": 48}


def test_committed_model_reads_time_on_synthetic_test(tmp_path):
    model, meta = load_checkpoint(MODEL)
    assert meta["config"]["width"] == "tiny" and meta["config"]["label"] == "position" and meta["config"]["stabilise"]
    # the recipe's data (fasstream synth --identities 120 --seed 0), only the identities of dev and test
    generate_dataset(tmp_path / "data", n_identities=120, seed=0, workers=2, splits=("dev", "test"))
    assert main(["eval", "--model", str(MODEL), "--data", str(tmp_path / "data" / "dataset.csv"),
                 "--out", str(tmp_path / "report")]) == 0
    test = json.loads((tmp_path / "report" / "results.json").read_text())["test"]
    assert test["counts"] == TEST_COUNTS
    assert test["still_probe"]["videos"] == 72 and test["still_probe"]["apcer"] == 0.0, test["still_probe"]
    assert test["apcer"]["still"] <= 0.05 and test["apcer"]["rigid"] <= 0.05, test["apcer"]  # the bound
    assert test["bpcer"] <= BPCER_BOUND and test["acer"] <= ACER_BOUND, test
    scorer = VideoScorer.from_checkpoint(model, meta)
    handheld = [r for r in read_layout_csv(tmp_path / "data" / "dataset.csv")
                if r.split == "test" and r.live and read_capture(r.path)["camera"]["handheld"]]
    accepted = [scorer.score_file(r.path, r.landmarks).live for r in handheld]
    assert len(handheld) >= 40 and np.mean(accepted) >= HANDHELD_LIVE_BOUND, (sum(accepted), len(handheld))


def test_committed_model_rejects_portraits_animated_by_zoom_and_pan(tmp_path):
    # outside the generator: no face model, no capture, no sensor; only the portrait moved as a plane.
    # The issue measured the model of a50c085 accepting the astronaut slowly zoomed (0.43, threshold 0.29);
    # the model of 2026-12-04 (4-channel stem) accepted 3 of these 8. Measured: 0.029-0.082, threshold 0.2084.
    # Encoded byte-reproducibly: x264's default rate control varies from run to run, and with it these scores
    # (the astronaut fast zoom read 0.09-0.15 for one model across four runs).
    videos = [write_video(tmp_path / f"{name}-{motion}.mp4", animated_portrait(image, marks, 75, *MOTIONS[motion])[0],
                          25.0, reproducible=True)
              for name, (image, marks) in source_faces().items() for motion in MOTIONS]
    assert main(["verify", *map(str, videos), "--json", str(tmp_path / "verify.json")]) == 0
    results = json.loads((tmp_path / "verify.json").read_text())["results"]
    assert [r["decision"] for r in results] == ["spoof"] * len(videos), [(r["video"], r["score"]) for r in results]
