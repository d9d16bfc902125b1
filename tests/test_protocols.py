"""Evaluation protocols on small data made here: leave-one-family-out (fold selection, the recipe key
data.exclude_families, `fasstream eval --leave-out`, pipelines/lofo.py) and the still probe (frozen clips,
still APCER in `fasstream eval`, `fasstream verify --probe-still`)."""
from __future__ import annotations

import importlib.util
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from fasstream.cli import main
from fasstream.data.faceclips import clip_windows, crop_clip
from fasstream.data.lofo import attack_families, check_families, lofo_fold, without_families
from fasstream.data.records import VideoRecord, read_layout_csv, write_layout_csv
from fasstream.data.video import read_video, write_video
from fasstream.eval.metrics import ScoreSet, eer_threshold, still_probe
from fasstream.eval.scoring import VideoScorer, freeze_clips
from fasstream.model import EulerNet
from fasstream.model.checkpoint import load_checkpoint
from fasstream.train.config import ConfigError, TrainConfig, load_config
from fasstream.train.dataset import split_records

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ROOT / "pipelines" / "train"
SIZE = 32  # model input side: small crops keep the tests fast

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


# --- a miniature dataset of real H.264 videos with families ---------------------------------------

def _landmarks(n_frames: int) -> np.ndarray:
    """68 points of a face in a 64x64 frame: jaw arc (0-16), brow line (17-26), the rest inside."""
    t = np.linspace(0.1, np.pi - 0.1, 17)
    jaw = np.stack([32 - 17 * np.cos(t), 26 + 21 * np.sin(t)], 1)
    brows = np.stack([np.linspace(17, 47, 10), np.full(10, 19.0)], 1)
    inner = np.stack([np.linspace(24, 40, 41), np.linspace(25, 43, 41)], 1)
    return np.repeat(np.concatenate([jaw, brows, inner])[None], n_frames, 0).astype(np.float32)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """LAYOUT as videos (20 frames, 2 clips each): moving noise, a skin patch on live ones. (csv, records)."""
    folder = tmp_path_factory.mktemp("mini")
    records = _records(folder)
    for rec in records:
        rng = np.random.default_rng(zlib.crc32(rec.video_id.encode()))
        frames = rng.integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
        frames[:, 22:46, 18:46] = (205, 150, 120) if rec.live else (130, 130, 190)
        write_video(rec.path, frames, 25.0)
        np.save(rec.path.with_suffix(".npy"), _landmarks(20))
    records = [VideoRecord(r.path, r.live, r.species, r.split, r.video_id, r.subject, r.path.with_suffix(".npy"),
                           r.family) for r in records]
    return write_layout_csv(records, folder / "dataset.csv"), read_layout_csv(folder / "dataset.csv")


def _checkpoint(path: Path, seed: int, exclude=(), threshold: float = 0.5) -> Path:
    """An untrained tiny EulerNet whose recorded recipe left out the families ``exclude``."""
    torch.manual_seed(seed)
    model = EulerNet("tiny", size=SIZE)
    recipe = TrainConfig.from_dict({"data": {"path": "x.csv", "exclude_families": list(exclude)}}).to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": {**model.config, "label": "position", "crop_scale": 1.3,
                "recipe": recipe}, "threshold": threshold, "metrics": {}, "version": "test"}, path)
    return path


def _scores(scorer: VideoScorer, records, still: bool = False) -> np.ndarray:
    return np.array([scorer.score_file(r.path, r.landmarks, still=still).score for r in records])


# --- fasstream eval --leave-out -------------------------------------------------------------------

def test_eval_leave_out_all_scores_every_fold_with_its_checkpoint(mini, tmp_path, capsys):
    csv, records = mini
    families = attack_families(records)
    for seed, family in enumerate(families):
        _checkpoint(tmp_path / "lofo" / family / "best.pt", seed, exclude=[family])
    out = tmp_path / "report"
    assert main(["eval", "--data", str(csv), "--model", str(tmp_path / "lofo" / "{family}" / "best.pt"),
                 "--leave-out", "all", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"] == "leave-one-family-out" and [f["family"] for f in results["folds"]] == families
    acers = []
    for fold in results["folds"]:  # recompute each fold from its own checkpoint and its own videos
        family = fold["family"]
        scorer = VideoScorer(load_checkpoint(tmp_path / "lofo" / family / "best.pt")[0], 0.5)
        dev, test = lofo_fold(records, family, "dev"), lofo_fold(records, family, "test")
        dev_scores = _scores(scorer, dev)
        threshold = eer_threshold(dev_scores, [r.live for r in dev])
        test_scores, live = _scores(scorer, test), np.array([r.live for r in test])
        apcer, bpcer = float((test_scores[~live] >= threshold).mean()), float((test_scores[live] < threshold).mean())
        assert fold["threshold"] == pytest.approx(threshold)
        assert fold["test"]["apcer"] == pytest.approx({family: apcer})  # the held-out family only
        assert fold["test"]["bpcer"] == pytest.approx(bpcer)
        assert fold["test"]["acer"] == pytest.approx((apcer + bpcer) / 2)
        assert fold["test"]["counts"] == {"live": 2, family: sum(not r.live for r in test)}
        assert set(fold["dev"]["apcer"]) == set(families) - {family}  # source-only validation
        frozen = _scores(scorer, [r for r in test if r.live], still=True)
        assert fold["test"]["still_probe"]["apcer"] == pytest.approx(float((frozen >= threshold).mean()))
        assert results["summary"]["apcer_per_family"][family] == pytest.approx(apcer)
        acers.append((apcer + bpcer) / 2)
    assert results["summary"]["acer"] == pytest.approx({"mean": np.mean(acers), "std": np.std(acers, ddof=1)})
    markdown = (out / "results.md").read_text()
    assert "leave-one-family-out" in markdown and all(f"| {f} |" in markdown for f in families)
    for png in ("roc.png", "det.png", "still_probe.png", "hist_print-flat_test.png", "hist_replay-lcd_dev.png"):
        assert (out / png).stat().st_size > 1000, png
    assert "fold 3/3: family replay-lcd (replay) held out" in capsys.readouterr().out


def test_eval_leave_out_errors_name_the_input_and_fix(mini, tmp_path, capsys):
    csv, records = mini
    model = str(_checkpoint(tmp_path / "print-flat" / "best.pt", 0, exclude=["print-flat"]))
    template = str(tmp_path / "{family}" / "best.pt")

    def fails(*args: str) -> str:
        assert main(["eval", "--data", str(csv), "--out", str(tmp_path / "r"), *args]) == 2
        return capsys.readouterr().err

    assert "no attack family 'print' in the data. Fix: use one of print-curved, print-flat, replay-lcd" in \
        fails("--model", model, "--leave-out", "print")
    assert "'live' is bona fide" in fails("--model", model, "--leave-out", "live")
    assert "names no family. Fix: name families" in fails("--model", model, "--leave-out", ",")
    assert "has no {family} placeholder. Fix: e.g. --model 'runs/lofo/{family}/best.pt'" in \
        fails("--model", model, "--leave-out", "all")
    err = fails("--model", template, "--leave-out", "print-flat,replay-lcd")
    assert "fold replay-lcd: checkpoint" in err and "does not exist. Fix: train it without the family" in err
    leaky = str(_checkpoint(tmp_path / "leaky.pt", 0, exclude=["replay-lcd"]))
    assert "was trained with family print-flat (its data.exclude_families is ['replay-lcd'])" in \
        fails("--model", leaky, "--leave-out", "print-flat")
    no_test_attacks = write_layout_csv([r for r in records if r.video_id != "spf"], csv.parent / "no_spf.csv")
    assert main(["eval", "--data", str(no_test_attacks), "--model", model, "--leave-out", "print-flat"]) == 2
    err = capsys.readouterr().err
    assert "no_spf.csv: fold print-flat: the test split has no attack of family 'print-flat'" in err
    assert "Fix: add test videos of print-flat or leave print-flat out of the folds" in err


# --- the still probe ------------------------------------------------------------------------------

class MotionOnly(torch.nn.Module):
    """A fixed model whose map is each frame's mean absolute difference to the previous frame (0 for the first)."""

    size = SIZE

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        diff = (clips[:, 1:] - clips[:, :-1]).abs().mean(dim=(2, 3, 4))
        per_frame = torch.cat([torch.zeros_like(diff[:, :1]), diff], 1)
        return per_frame[:, :, None, None, None].expand(-1, -1, 1, SIZE // 8, SIZE // 8)


class FirstFrameOnly(MotionOnly):
    """A fixed model that sees only each clip's first frame (its mean brightness), i.e. ignores time."""

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        first = clips[:, :1].mean(dim=(2, 3, 4), keepdim=True)
        return first.expand(-1, clips.shape[1], 1, SIZE // 8, SIZE // 8)


def test_freeze_clips_holds_the_first_frame():
    clips = np.arange(2 * 4 * 3 * 3 * 3, dtype=np.uint8).reshape(2, 4, 3, 3, 3)
    frozen = freeze_clips(clips)
    assert frozen.shape == clips.shape
    for t in range(4):
        np.testing.assert_array_equal(frozen[:, t], clips[:, 0])


def test_still_scores_of_fixed_models(mini):
    _, records = mini
    rec = next(r for r in records if r.live)
    frames, _ = read_video(rec.path)
    clips = np.stack([crop_clip(frames, w, SIZE) for w in clip_windows(np.load(rec.landmarks), 1.3)])
    clips = clips.astype(np.float64) / 255  # (clips, 4, S, S, 3)
    expected = np.abs(np.diff(clips, axis=1)).mean(axis=(2, 3, 4)).sum(axis=1) / 4  # per clip
    motion = VideoScorer(MotionOnly(), threshold=0.01)
    moving, still = motion.score_file(rec.path, rec.landmarks), motion.score_file(rec.path, rec.landmarks, still=True)
    np.testing.assert_allclose(moving.clip_scores, expected, rtol=1e-5)
    assert moving.score > 0.05 and moving.live
    assert still.clip_scores == (0.0,) * len(expected) and still.score == 0.0 and not still.live
    blind = VideoScorer(FirstFrameOnly(), threshold=0.5)  # a model that ignores time: the still scores the same
    assert blind.score_file(rec.path, rec.landmarks, still=True).clip_scores == pytest.approx(
        blind.score_file(rec.path, rec.landmarks).clip_scores)
    np.testing.assert_allclose(blind.score_file(rec.path, rec.landmarks).clip_scores, clips[:, 0].mean(axis=(1, 2, 3)),
                               rtol=1e-5)


def test_still_probe_numbers_by_hand():
    test = ScoreSet([0.9, 0.8, 0.4, 0.7], [True, True, True, False], ["live", "live", "live", "print"],
                    ["a", "b", "c", "d"])
    frozen = ScoreSet([0.2, 0.7, 0.1], [True] * 3, ["live"] * 3, ["c", "a", "b"])
    probe = still_probe(test, frozen, threshold=0.5)
    assert probe.to_dict() == pytest.approx({"apcer": 1 / 3, "mean_drop": (0.2 + 0.2 + 0.7) / 3,
                                             "live_accepted": 2 / 3, "videos": 3})
    with pytest.raises(ValueError, match="first 'd', are not live videos"):
        still_probe(test, ScoreSet([0.1], [True], ["live"], ["d"]), 0.5)
    with pytest.raises(ValueError, match="live videos only"):
        still_probe(test, ScoreSet([0.1], [False], ["print"], ["d"]), 0.5)


def test_eval_reports_the_still_apcer(mini, tmp_path):
    csv, records = mini
    model = _checkpoint(tmp_path / "m.pt", 3)
    out = tmp_path / "report"
    assert main(["eval", "--data", str(csv), "--model", str(model), "--out", str(out), "--apcer-by", "family"]) == 0
    results = json.loads((out / "results.json").read_text())
    scorer = VideoScorer(load_checkpoint(model)[0], 0.5)
    live = [r for r in records if r.split == "test" and r.live]
    moving, frozen = _scores(scorer, live), _scores(scorer, live, still=True)
    threshold = results["threshold"]
    assert results["test"]["still_probe"] == pytest.approx({
        "apcer": float((frozen >= threshold).mean()), "mean_drop": float((moving - frozen).mean()),
        "live_accepted": float((moving >= threshold).mean()), "videos": 2})
    assert "still_probe" not in results["dev"]
    assert set(results["test"]["apcer"]) == {"print-curved", "print-flat", "replay-lcd"}  # --apcer-by family
    assert "still-probe APCER" in (out / "results.md").read_text() and (out / "still_probe.png").stat().st_size > 1000
    assert main(["eval", "--data", str(csv), "--model", str(model), "--out", str(tmp_path / "r2"),
                 "--no-still-probe"]) == 0
    assert "still_probe" not in json.loads((tmp_path / "r2" / "results.json").read_text())["test"]


def test_eval_pools_bona_fide_families_into_bpcer(mini, tmp_path):
    """Live videos of another renderer (family live-mesh) count as bona fide, by species and by family."""
    csv, records = mini
    model = _checkpoint(tmp_path / "m.pt", 3)
    renamed = [VideoRecord(r.path, r.live, r.species, r.split, r.video_id, r.subject, r.landmarks,
                           "live-mesh" if r.live and r.split == "test" and i % 2 else r.family)
               for i, r in enumerate(records)]
    assert {r.family for r in renamed if r.live} == {"live", "live-mesh"}
    other = write_layout_csv(renamed, csv.parent / "two-live.csv")
    for by in ("species", "family"):
        got = {}
        for name, data in (("one", csv), ("two", other)):
            out = tmp_path / f"{name}-{by}"
            assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(out), "--apcer-by", by]) == 0
            got[name] = json.loads((out / "results.json").read_text())["test"]
        assert got["two"]["bpcer"] == got["one"]["bpcer"] and got["two"]["apcer"] == got["one"]["apcer"]
        assert got["two"]["still_probe"] == got["one"]["still_probe"]


def test_verify_probe_still_prints_both_decisions(mini, tmp_path, capsys):
    _, records = mini
    model = _checkpoint(tmp_path / "m.pt", 3, threshold=0.0)  # every score >= 0: live, frozen or not
    paths = [str(r.path) for r in records[:2]]
    assert main(["verify", *paths, "--model", str(model), "--probe-still", "--face-detector", "precomputed",
                 "--json", str(tmp_path / "v.json")]) == 0
    printed = capsys.readouterr().out
    assert "still decision" in printed and "still probe: 2 of 2 frozen videos accepted as live" in printed
    scorer = VideoScorer(load_checkpoint(model)[0], 0.0)
    for result, rec in zip(json.loads((tmp_path / "v.json").read_text())["results"], records[:2]):
        assert result["still_score"] == pytest.approx(scorer.score_file(rec.path, rec.landmarks, still=True).score)
        assert result["still_decision"] == result["decision"] == "live"
        assert f"{result['score']:7.4f} {'live':>9s}" in printed and f"{result['still_score']:7.4f}" in printed


# --- pipelines/lofo.py: one training per family, then the evaluation ---------------------------------

def _lofo_runner():
    spec = importlib.util.spec_from_file_location("lofo", ROOT / "pipelines" / "lofo.py")
    lofo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lofo)
    return lofo


def _lofo_argv(csv: Path, out: Path, *extra: str) -> list[str]:
    overrides = [f"data.path={csv}", f"model.size={SIZE}", "epochs=1", "batch_size=2", "device=cpu"]
    return [str(PIPELINES / "baseline.yaml"), "--families", "print-flat", "replay-lcd", "--out", str(out),
            *[x for s in overrides for x in ("--set", s)], *extra]


def _check_lofo_report(out: Path, summary: dict) -> None:
    """Each fold's checkpoint left its family out, and the report holds both folds and the returned summary."""
    for family in ("print-flat", "replay-lcd"):
        ckpt = torch.load(out / family / "best.pt", weights_only=True)
        assert ckpt["config"]["recipe"]["data"]["exclude_families"] == [family]
    results = json.loads((out / "eval" / "results.json").read_text())
    assert [f["family"] for f in results["folds"]] == ["print-flat", "replay-lcd"]
    assert summary == results["summary"] and 0 <= summary["acer"]["mean"] <= 1


def test_lofo_runner_trains_without_each_family_and_evaluates(mini, tmp_path):
    csv, _ = mini
    lofo, out = _lofo_runner(), tmp_path / "lofo"
    _check_lofo_report(out, lofo.main(_lofo_argv(csv, out)))


def test_lofo_runner_jobs_trains_folds_in_processes_of_their_own(mini, tmp_path, capsys):
    csv, _ = mini
    lofo, out = _lofo_runner(), tmp_path / "lofo"
    summary = lofo.main(_lofo_argv(csv, out, "--jobs", "2"))
    _check_lofo_report(out, summary)
    for family in ("print-flat", "replay-lcd"):
        assert f"{family} epoch 1/1" in (out / f"{family}.log").read_text()  # each fold's output in its own log
    trained = {f: (out / f / "last.pt").stat().st_mtime_ns for f in ("print-flat", "replay-lcd")}
    capsys.readouterr()
    assert lofo.main(_lofo_argv(csv, out, "--jobs", "2")) == summary  # done folds are not trained again
    assert "2 of 2 folds already trained" in capsys.readouterr().out
    assert {f: (out / f / "last.pt").stat().st_mtime_ns for f in trained} == trained


def test_lofo_runner_jobs_names_the_failed_fold_and_its_log(mini, tmp_path):
    csv, records = mini
    broken = write_layout_csv([VideoRecord(tmp_path / "gone" / r.path.name, r.live, r.species, r.split, r.video_id,
                                           r.subject, None, r.family) for r in records], tmp_path / "broken.csv")
    lofo, out = _lofo_runner(), tmp_path / "lofo"
    with pytest.raises(SystemExit, match=r"training failed for print-flat, replay-lcd; the output of each is in "
                                         r".*lofo/print-flat\.log, .*lofo/replay-lcd\.log"):
        lofo.main(_lofo_argv(broken, out, "--jobs", "2"))
    assert "gone" in (out / "print-flat.log").read_text()  # the training's own error, kept for the user
    with pytest.raises(SystemExit):
        lofo.main(_lofo_argv(csv, out, "--jobs", "0"))
