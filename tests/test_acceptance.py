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
from fasstream.data.records import read_layout_csv
from fasstream.data.synthetic import generate_dataset, read_capture
from fasstream.eval.scoring import VideoScorer
from fasstream.model.checkpoint import load_checkpoint

MODEL = Path(__file__).resolve().parents[1] / "pipelines" / "models" / "tiny.pt"
# measured 29.17%: every attack of nine families rejected, 6 of 12 replay-phone accepted, 3 of 36 live lost (EER 5.7%);
# the target is 2% (docs/training.md: why it is not met)
ACER_BOUND = 0.30
BPCER_BOUND = 0.10  # measured 8.33%
HANDHELD_LIVE_BOUND = 0.85  # share of hand-held live test videos accepted; measured 23 of 25
TEST_COUNTS = {"live": 36, "print": 24, "replay": 24, "animated": 24, "still": 24, "rigid": 24}


def test_committed_model_reads_time_on_synthetic_test(tmp_path):
    model, meta = load_checkpoint(MODEL)
    assert meta["config"]["width"] == "tiny" and meta["config"]["label"] == "position" and meta["config"]["stabilise"]
    # the recipe's data (fasstream synth --identities 60 --seed 0), only the identities of dev and test
    generate_dataset(tmp_path / "data", n_identities=60, seed=0, workers=2, splits=("dev", "test"))
    assert main(["eval", "--model", str(MODEL), "--data", str(tmp_path / "data" / "dataset.csv"),
                 "--out", str(tmp_path / "report")]) == 0
    test = json.loads((tmp_path / "report" / "results.json").read_text())["test"]
    assert test["counts"] == TEST_COUNTS
    assert test["still_probe"]["videos"] == 36 and test["still_probe"]["apcer"] == 0.0, test["still_probe"]
    assert test["apcer"]["still"] <= 0.05 and test["apcer"]["rigid"] <= 0.05, test["apcer"]  # the bound
    assert test["bpcer"] <= BPCER_BOUND and test["acer"] <= ACER_BOUND, test
    scorer = VideoScorer.from_checkpoint(model, meta)
    handheld = [r for r in read_layout_csv(tmp_path / "data" / "dataset.csv")
                if r.split == "test" and r.live and read_capture(r.path)["camera"]["handheld"]]
    accepted = [scorer.score_file(r.path, r.landmarks).live for r in handheld]
    assert len(handheld) >= 20 and np.mean(accepted) >= HANDHELD_LIVE_BOUND, (sum(accepted), len(handheld))
