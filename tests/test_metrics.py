"""Tests of fasstream.eval: metrics against sklearn and hand-computed values, reports and figures."""
import csv
import json
import statistics
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_curve

from fasstream.eval import (
    ScoreSet, apcer_bpcer, eer, eer_threshold, error_curve, evaluate, fold_summary, results_dict,
    results_markdown, video_level, video_scores, write_report,
)
from fasstream.eval import plots
from fasstream.model.aggregate import aggregate


def make_set(live_scores, attacks):
    """ScoreSet from bona fide scores and a {species: scores} mapping."""
    scores = list(live_scores) + [s for v in attacks.values() for s in v]
    species = ["live"] * len(live_scores) + [k for k, v in attacks.items() for _ in v]
    return ScoreSet(scores, np.array(species) == "live", species)


# --- against sklearn ------------------------------------------------------------------------------------------

# Quarter steps on a small range make ties, within and across classes, frequent.
samples = st.lists(st.tuples(st.integers(0, 12).map(lambda k: k / 4), st.booleans()), min_size=2, max_size=40)


@settings(max_examples=200, deadline=None)
@given(samples.filter(lambda xs: len({y for _, y in xs}) == 2))
def test_eer_matches_sklearn_roc(data):
    s = np.array([x for x, _ in data])
    y = np.array([l for _, l in data])
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    fnr = 1 - tpr
    t = eer_threshold(s, y)
    i = np.flatnonzero(thr == t)
    assert i.size == 1, "the threshold is one of the observed scores"
    i = i[0]
    gap = np.abs(fpr - fnr)
    assert gap[i] == pytest.approx(gap.min(), abs=1e-12)
    # Documented tie rule: smallest FPR + FNR among the closest, then the lowest threshold.
    close = np.isclose(gap, gap.min(), atol=1e-12)
    best_sum = (fpr + fnr)[close].min()
    assert fpr[i] + fnr[i] == pytest.approx(best_sum, abs=1e-12)
    assert t == thr[close & np.isclose(fpr + fnr, best_sum, atol=1e-12)].min()
    assert eer(s, y) == pytest.approx((fpr[i] + fnr[i]) / 2, abs=1e-12)
    r = apcer_bpcer(s, y, np.where(y, "live", "attack"), t)
    assert r.apcer_pooled == pytest.approx(fpr[i], abs=1e-12)
    assert r.bpcer == pytest.approx(fnr[i], abs=1e-12)
    assert r.hter == pytest.approx((fpr[i] + fnr[i]) / 2, abs=1e-12)
    # The whole curve agrees at every finite sklearn threshold.
    ts, apcer, bpcer = error_curve(s, y)
    finite = np.isfinite(thr)
    order = np.argsort(thr[finite])
    np.testing.assert_array_equal(ts, thr[finite][order])
    np.testing.assert_allclose(apcer, fpr[finite][order], atol=1e-12)
    np.testing.assert_allclose(bpcer, fnr[finite][order], atol=1e-12)


# --- hand-computed examples -----------------------------------------------------------------------------------

def test_per_species_apcer_bpcer_acer_by_hand():
    d = make_set([0.9, 0.8, 0.3, 0.7], {"print": [0.1, 0.6, 0.2], "replay": [0.75, 0.4]})
    r = apcer_bpcer(d.scores, d.live, d.species, 0.5)
    assert r.apcer == {"print": pytest.approx(1 / 3), "replay": pytest.approx(1 / 2)}
    assert r.worst_species == "replay" and r.apcer_worst == pytest.approx(0.5)
    assert r.bpcer == pytest.approx(0.25)
    assert r.acer == pytest.approx((0.5 + 0.25) / 2)
    assert r.apcer_pooled == pytest.approx(2 / 5)
    assert r.hter == pytest.approx((2 / 5 + 0.25) / 2)
    assert r.counts == {"live": 4, "print": 3, "replay": 2}


def test_score_equal_to_threshold_is_accepted():
    d = make_set([0.9, 0.7, 0.3], {"print": [0.6, 0.7]})
    r = apcer_bpcer(d.scores, d.live, d.species, 0.7)
    assert r.bpcer == pytest.approx(1 / 3)  # only 0.3 rejected; 0.7 accepted
    assert r.apcer["print"] == pytest.approx(1 / 2)  # the attack at 0.7 accepted


def test_worst_species_tie_goes_to_first_name():
    d = make_set([0.9], {"replay": [0.8, 0.1], "print": [0.1, 0.8]})
    assert apcer_bpcer(d.scores, d.live, d.species, 0.5).worst_species == "print"


@pytest.mark.parametrize("live_scores, attack_scores, threshold, value", [
    ([0.5, 0.6], [0.1, 0.55], 0.55, 0.5),  # rates cross at 0.55: APCER = BPCER = 1/2
    ([0.8, 0.9], [0.1, 0.2], 0.8, 0.0),  # separated: the lowest bona fide score
    ([2.0], [1.0, 3.0], 2.0, 0.25),  # |APCER - BPCER| = 1/2 at 2 and 3; 2 has the smaller sum
    ([0.0, 1.0], [1.0, 2.0], 1.0, 0.75),  # 1 and 2 tie on gap and sum; the lower threshold wins
])
def test_eer_and_tie_rule_by_hand(live_scores, attack_scores, threshold, value):
    s = np.array(live_scores + attack_scores)
    y = np.array([True] * len(live_scores) + [False] * len(attack_scores))
    assert eer_threshold(s, y) == threshold
    assert eer(s, y) == pytest.approx(value)


def test_dev_threshold_is_applied_unchanged_to_test():
    dev = make_set([0.6, 0.7, 0.8, 0.9], {"print": [0.1, 0.2], "replay": [0.3, 0.65]})
    test = make_set([0.4, 0.5, 0.9, 0.95], {"print": [0.1, 0.3], "replay": [0.45, 0.7]})
    assert eer_threshold(test.scores, test.live) == 0.5  # test's own threshold differs
    ev = evaluate(dev, test)
    assert ev.threshold == 0.65
    assert ev.dev.rates.threshold == ev.test.rates.threshold == 0.65
    t = ev.test.rates
    assert t.bpcer == pytest.approx(0.5)  # 0.4 and 0.5 rejected at 0.65
    assert t.apcer == {"print": 0.0, "replay": pytest.approx(0.5)}
    assert t.acer == pytest.approx(0.5)
    assert t.hter == pytest.approx((0.25 + 0.5) / 2)
    assert ev.test.eer == pytest.approx(0.25)  # threshold-free, the split's own
    assert ev.dev.rates.acer == pytest.approx((0.5 + 0.25) / 2)
    d = ev.to_dict()
    assert d["threshold"] == 0.65 and d["test"]["apcer"]["replay"] == pytest.approx(0.5)
    json.dumps(d)


def random_evaluation(rng, shift):
    def split(n):
        species = rng.choice(["live", "print", "replay"], n)
        return ScoreSet(rng.normal(shift * (species == "live"), 1.0), species == "live", species)
    return evaluate(split(60), split(60))


def test_fold_summary_mean_and_std():
    rng = np.random.default_rng(3)
    folds = [random_evaluation(rng, shift) for shift in (0.5, 1.5, 3.0)]
    acer = [f.test.rates.acer for f in folds]
    print_apcer = [f.test.rates.apcer["print"] for f in folds]
    s = fold_summary(folds)
    assert s["n_folds"] == 3
    assert s["test"]["acer"]["mean"] == pytest.approx(statistics.mean(acer))
    assert s["test"]["acer"]["std"] == pytest.approx(statistics.stdev(acer))
    assert s["test"]["apcer"]["print"]["std"] == pytest.approx(statistics.stdev(print_apcer))
    assert s["threshold"]["mean"] == pytest.approx(statistics.mean(f.threshold for f in folds))
    assert s["test"]["worst_species"] == [f.test.rates.worst_species for f in folds]
    assert fold_summary(folds, ddof=0)["test"]["acer"]["std"] == pytest.approx(statistics.pstdev(acer))
    assert fold_summary(folds[:1])["test"]["acer"]["std"] == 0.0


def test_fold_summary_by_hand():
    a = evaluate(make_set([0.9], {"print": [0.1]}), make_set([0.9, 0.2], {"print": [0.1]}))
    b = evaluate(make_set([0.9], {"print": [0.1]}), make_set([0.9], {"print": [0.1, 0.95]}))
    assert (a.test.rates.acer, b.test.rates.acer) == (0.25, 0.25)
    assert (a.test.rates.bpcer, b.test.rates.bpcer) == (0.5, 0.0)
    s = fold_summary([a, b])
    assert s["test"]["bpcer"] == {"mean": 0.25, "std": pytest.approx(np.sqrt(0.125))}
    assert s["test"]["acer"] == {"mean": 0.25, "std": 0.0}


def test_fold_summary_needs_same_species():
    a = evaluate(make_set([0.9], {"print": [0.1]}), make_set([0.9], {"print": [0.1]}))
    b = evaluate(make_set([0.9], {"replay": [0.1]}), make_set([0.9], {"replay": [0.1]}))
    with pytest.raises(ValueError, match="same attack species"):
        fold_summary([a, b])


def test_video_scores_mean_per_video_in_first_seen_order():
    ids, means = video_scores([1.0, 2.0, 4.0, 3.0, 0.0], ["b", "a", "b", "a", "c"])
    assert list(ids) == ["b", "a", "c"]
    np.testing.assert_allclose(means, [2.5, 2.5, 0.0])
    ids, best = video_scores([1.0, 2.0, 4.0, 3.0, -1.0], ["b", "a", "b", "a", "c"], rule="max")
    assert list(ids) == ["b", "a", "c"]
    np.testing.assert_allclose(best, [4.0, 3.0, -1.0])
    assert aggregate([1.0, 4.0], "max") == 4.0 and aggregate([1.0, 4.0]) == 2.5
    with pytest.raises(ValueError, match="rule 'median' is unknown; use one of mean, max"):
        video_scores([0.1], ["a"], rule="median")
    with pytest.raises(ValueError, match="non-empty"):
        aggregate([], "max")


def test_video_level_collapses_clips():
    clips = ScoreSet([0.2, 0.4, 0.9, 0.7], [False, False, True, True], ["print", "print", "live", "live"],
                     ["v1", "v1", "v2", "v2"])
    videos = video_level(clips)
    assert list(videos.ids) == ["v1", "v2"]
    np.testing.assert_allclose(videos.scores, [0.3, 0.8])
    np.testing.assert_allclose(video_level(clips, "max").scores, [0.4, 0.9])
    assert list(videos.live) == [False, True] and list(videos.species) == ["print", "live"]
    mixed = ScoreSet([0.2, 0.4], [False, False], ["print", "replay"], ["v1", "v1"])
    with pytest.raises(ValueError, match="video 'v1'"):
        video_level(mixed)


# --- bad inputs -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scores, live, match", [
    ([], [], "empty"),
    ([0.1, 0.2], [True, True], "no attack"),
    ([0.1, 0.2], [False, False], "no bona fide"),
    ([0.1, np.nan], [True, False], "NaN"),
    ([0.1, np.inf], [True, False], "infinite"),
    ([0.1, 0.2, 0.3], [True, False], "3 values but live has 2"),
    ([[0.1, 0.2]], [[True, False]], "1-D"),
    ([0.1, 0.2], [0.5, 1.0], "live must be booleans"),
])
def test_bad_scores_raise(scores, live, match):
    with pytest.raises(ValueError, match=match):
        eer_threshold(scores, live)


def test_bad_species_and_threshold_raise():
    s, y = [0.1, 0.9], [False, True]
    with pytest.raises(ValueError, match="species and live disagree"):
        apcer_bpcer(s, y, ["live", "live"], 0.5)
    with pytest.raises(ValueError, match="species must be 1-D"):
        apcer_bpcer(s, y, ["live"], 0.5)
    with pytest.raises(ValueError, match="threshold must be a finite"):
        apcer_bpcer(s, y, ["print", "live"], float("nan"))


def test_bad_score_sets_raise():
    good = make_set([0.9], {"print": [0.1]})
    with pytest.raises(ValueError, match="ids must be"):
        ScoreSet([0.1, 0.9], [False, True], ["print", "live"], ["a"])
    with pytest.raises(ValueError, match="^test has no attack"):
        evaluate(good, make_set([0.9, 0.8], {}))
    with pytest.raises(ValueError, match="^dev has no bona fide"):
        evaluate(make_set([], {"print": [0.1]}), good)
    with pytest.raises(ValueError, match="dev must be a ScoreSet"):
        evaluate({"scores": [0.1]}, good)
    with pytest.raises(ValueError, match="results is empty"):
        fold_summary([])
    with pytest.raises(ValueError, match="clip_scores has 2 values"):
        video_scores([0.1, 0.2], ["a"])


# --- reports and figures --------------------------------------------------------------------------------------

def is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n")


def test_plots_write_png_files(tmp_path):
    ev = random_evaluation(np.random.default_rng(0), 2.0)
    sets = {"dev": ev.dev.scores, "test": ev.test.scores}
    for path in (plots.plot_roc(sets, tmp_path / "roc.png"), plots.plot_det(sets, tmp_path / "sub" / "det.png"),
                 plots.plot_histograms(ev.test.scores, ev.threshold, tmp_path / "hist.png")):
        assert is_png(path)


def test_write_report_single_and_folds(tmp_path):
    rng = np.random.default_rng(1)
    ev = random_evaluation(rng, 2.0)
    files = write_report(ev, tmp_path / "one")
    assert {"results.md", "results.json", "roc.png", "det.png", "hist_dev.png", "hist_test.png"} <= set(files)
    assert all(is_png(p) for n, p in files.items() if n.endswith(".png"))
    assert json.loads(files["results.json"].read_text()) == json.loads(json.dumps(results_dict(ev)))
    md = files["results.md"].read_text()
    assert "| test |" in md and "APCER print" in md and f"{100 * ev.test.rates.acer:.2f}" in md

    folds = [random_evaluation(rng, shift) for shift in (1.0, 2.0)]
    files = write_report(folds, tmp_path / "folds")
    assert {"hist_fold1_test.png", "hist_fold2_dev.png"} <= set(files)
    summary = json.loads(files["results.json"].read_text())["summary"]
    assert summary["n_folds"] == 2
    acer = summary["test"]["acer"]
    assert f"{100 * acer['mean']:.2f} ± {100 * acer['std']:.2f}" in results_markdown(folds)
    with pytest.raises(ValueError, match="results must be an Evaluation"):
        results_markdown({"acer": 0.1})


def test_scores_csv_reproduces_the_rates(tmp_path):
    rng = np.random.default_rng(5)
    dev, test = random_evaluation(rng, 1.5).dev.scores, random_evaluation(rng, 1.5).test.scores
    live_ids = test.ids[test.live]
    frozen = ScoreSet(rng.normal(0.0, 1.0, live_ids.size), np.ones(live_ids.size, bool),
                      np.full(live_ids.size, "live", dtype=object), live_ids)
    ev = evaluate(dev, test, frozen)
    path = write_report(ev, tmp_path)["scores.csv"]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(dev) + len(test)
    t = [r for r in rows if r["split"] == "test"]
    for species in ("print", "replay"):
        mine = [r for r in t if r["group"] == species]
        assert sum(int(r["accepted"]) for r in mine) / len(mine) == pytest.approx(ev.test.rates.apcer[species])
    live = [r for r in t if r["live"] == "1"]
    assert 1 - sum(int(r["accepted"]) for r in live) / len(live) == pytest.approx(ev.test.rates.bpcer)
    assert sum(int(r["frozen_accepted"]) for r in live) / len(live) == pytest.approx(ev.test.still.apcer)
    assert all(r["frozen_score"] == "" for r in rows if r["split"] == "dev" or r["live"] == "0")


def test_metrics_do_not_import_matplotlib():
    code = "import sys, fasstream.eval; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
