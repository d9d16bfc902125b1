"""Leave-one-family-out: fold selection, the recipe key data.exclude_families, `fasstream eval --leave-out`."""
from __future__ import annotations

from pathlib import Path

import pytest

from fasstream.data.families import attack_families, check_families, lofo_fold, without_families
from fasstream.data.records import VideoRecord, write_layout_csv
from fasstream.train.config import ConfigError, TrainConfig, load_config
from fasstream.train.dataset import split_records

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines" / "train"

# (name, family) per split; species is the family's first word
LAYOUT = {
    "train": [("tl1", "live"), ("tl2", "live"), ("tpf", "print-flat"), ("tpc", "print-curved"), ("trl", "replay-lcd")],
    "dev": [("dl1", "live"), ("dpf", "print-flat"), ("dpc", "print-curved"), ("drl", "replay-lcd")],
    "test": [("sl1", "live"), ("sl2", "live"), ("spf", "print-flat"), ("spc", "print-curved"), ("srl", "replay-lcd"),
             ("srl2", "replay-lcd")],
}


def _records(folder: Path, layout=LAYOUT) -> list[VideoRecord]:
    return [VideoRecord(folder / f"{name}.mp4", family == "live", family.split("-")[0], split, name, name, None,
                        family) for split, rows in layout.items() for name, family in rows]


def _ids(records) -> set[str]:
    return {r.video_id for r in records}


def test_lofo_fold_membership_is_exact(tmp_path):
    records = _records(tmp_path)
    assert attack_families(records) == ["print-curved", "print-flat", "replay-lcd"]
    assert _ids(lofo_fold(records, "print-flat", "train")) == {"tl1", "tl2", "tpc", "trl"}
    assert _ids(lofo_fold(records, "print-flat", "dev")) == {"dl1", "dpc", "drl"}  # source-only validation
    assert _ids(lofo_fold(records, "print-flat", "test")) == {"sl1", "sl2", "spf"}
    assert _ids(lofo_fold(records, "replay-lcd", "test")) == {"sl1", "sl2", "srl", "srl2"}
    # the sibling family of the same species stays in training: families, not species, are held out
    assert _ids(lofo_fold(records, "print-curved", "train")) == {"tl1", "tl2", "tpf", "trl"}
    assert _ids(without_families(records, ["print-flat", "replay-lcd"])) == \
        _ids(records) - {"tpf", "dpf", "spf", "trl", "drl", "srl", "srl2"}


def test_lofo_fold_errors_name_the_fold_and_fix(tmp_path):
    layout = {**LAYOUT, "test": [("sl1", "live"), ("spc", "print-curved")]}
    with pytest.raises(ValueError, match=r"fold print-flat: the test split has no attack of family 'print-flat'\. "
                                         r"Fix: add test videos of print-flat"):
        lofo_fold(_records(tmp_path, layout), "print-flat", "test")
    layout = {**LAYOUT, "dev": [("dl1", "live"), ("dpf", "print-flat")]}
    with pytest.raises(ValueError, match=r"fold print-flat: the dev split has no attack of a family other than"):
        lofo_fold(_records(tmp_path, layout), "print-flat", "dev")
    with pytest.raises(ValueError, match=r"no attack family 'print' in the data\. Fix: use one of print-curved, "
                                         r"print-flat, replay-lcd"):
        check_families(attack_families(_records(tmp_path)), ["print"], "--leave-out")
    with pytest.raises(ValueError, match="'live' is bona fide"):
        check_families(["print-flat"], ["live"], "--leave-out")


def test_recipe_exclude_families_drops_train_and_dev_attacks(tmp_path):
    csv = write_layout_csv(_records(tmp_path), tmp_path / "dataset.csv")
    cfg = load_config(PIPELINES / "baseline.yaml", [f"data.path={csv}", "data.exclude_families=[print-flat]"])
    assert cfg.data.exclude_families == ["print-flat"]
    assert _ids(split_records(cfg, "train")) == {"tl1", "tl2", "tpc", "trl"}
    assert _ids(split_records(cfg, "dev")) == {"dl1", "dpc", "drl"}
    assert _ids(split_records(cfg, "test")) == {r[0] for r in LAYOUT["test"]}  # test is the eval's business
    one = load_config(PIPELINES / "baseline.yaml", [f"data.path={csv}", "data.exclude_families=replay-lcd"])
    assert one.data.exclude_families == ["replay-lcd"]  # one name is a list of one
    assert load_config(PIPELINES / "baseline.yaml").data.exclude_families == []
    unknown = load_config(PIPELINES / "baseline.yaml", [f"data.path={csv}", "data.exclude_families=[print]"])
    with pytest.raises(ValueError, match=r"data\.exclude_families of .*dataset\.csv: no attack family 'print'"):
        split_records(unknown, "train")
    every = load_config(PIPELINES / "baseline.yaml",
                        [f"data.path={csv}", "data.exclude_families=[print-flat, print-curved, replay-lcd]"])
    with pytest.raises(ValueError, match=r"leaves the dev split of .* without attacks"):
        split_records(every, "dev")


@pytest.mark.parametrize("value, match", [
    ("live", r"data\.exclude_families='live' is invalid"),
    ("[a/b]", r"data\.exclude_families='a/b' is invalid"),
    ("{a: 1}", r"data\.exclude_families must be a list of strings"),
])
def test_recipe_exclude_families_errors(value, match):
    with pytest.raises(ConfigError, match=match):
        load_config(PIPELINES / "baseline.yaml", [f"data.exclude_families={value}"])
    assert TrainConfig.from_dict({"data": {"path": "x.csv", "exclude_families": ["print-flat"]}}).data.exclude_families
