"""The committed tiny model meets issue #3's bar on the synthetic test split, regenerated from its seed."""
from __future__ import annotations

import json
from pathlib import Path

from fasstream.cli import main
from fasstream.data.synthetic import generate_dataset
from fasstream.model.checkpoint import load_checkpoint

MODEL = Path(__file__).resolve().parents[1] / "pipelines" / "models" / "tiny.pt"


def test_committed_model_reaches_acer_2_percent_on_synthetic_test(tmp_path):
    model, meta = load_checkpoint(MODEL)
    assert meta["config"]["width"] == "tiny" and meta["config"]["label"] == "position"
    generate_dataset(tmp_path / "data", n_identities=30, videos_per_species=2, seed=0, workers=2)  # the recipe's data
    assert main(["eval", "--model", str(MODEL), "--data", str(tmp_path / "data" / "dataset.csv"),
                 "--out", str(tmp_path / "report")]) == 0
    test = json.loads((tmp_path / "report" / "results.json").read_text())["test"]
    assert test["counts"] == {"live": 12, "animated": 12, "print": 12, "replay": 12}
    assert test["acer"] <= 0.02, test
