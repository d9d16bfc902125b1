"""benchmarks/pool_tests.py: test splits of several datasets pooled under the first one's dev split."""
import csv
import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "pool_tests", Path(__file__).resolve().parents[1] / "benchmarks" / "pool_tests.py")
pool_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pool_tests)


def _dataset(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True)
    path = folder / "dataset.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "species", "split", "subject", "landmarks", "family"])
        for split in ("train", "dev", "test"):
            w.writerow([f"videos/{split}.mp4", "live", "live", split, f"id-{seed}-{split}", f"videos/{split}.npy", "live"])
    return path


def test_pools_test_splits_under_the_first_dev_split(tmp_path):
    a, b = _dataset(tmp_path / "a", 0), _dataset(tmp_path / "b", 7)
    header, rows = pool_tests.pooled_rows([a, b], tmp_path / "pooled.csv")
    assert header[:4] == ["path", "label", "species", "split"]
    assert [(r["split"], r["subject"], r["path"], r["landmarks"]) for r in rows] == [
        ("dev", "id-0-dev", "a/videos/dev.mp4", "a/videos/dev.npy"),
        ("test", "id-0-test", "a/videos/test.mp4", "a/videos/test.npy"),
        ("test", "id-7-test", "b/videos/test.mp4", "b/videos/test.npy")]
    with pytest.raises(ValueError, match="id-0-test is in .* different seeds"):
        pool_tests.pooled_rows([a, a], tmp_path / "pooled.csv")
