"""Results tables (markdown and JSON), per-video scores (CSV) and the report folder: results.md,
results.json, scores.csv and figures.

``results`` is one :class:`Evaluation`, a sequence of them for a protocol with folds (OULU-NPU
3 and 4), summarised as mean ± std over the folds, or a sequence of :class:`HeldOutFold` for the
leave-one-family-out protocol, summarised as per-family APCER and mean ± std over the families.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence, Union

from .metrics import LIVE, Evaluation, HeldOutFold, fold_summary, held_out_summary

Results = Union[Evaluation, Sequence[Evaluation], Sequence[HeldOutFold]]
SPLITS = ("dev", "test")
_RATES = (("APCER (worst)", "apcer_worst"), ("BPCER", "bpcer"), ("ACER", "acer"), ("EER", "eer"), ("HTER", "hter"))
# the still probe (test live videos frozen): share accepted in %, and the mean score drop (a score, not a rate)
_STILL = (("still-probe APCER", "still_probe.apcer"), ("still-probe drop", "still_probe.mean_drop"))


def _folds(results: Results) -> list | None:
    """None for a single Evaluation, else the list of folds (checked)."""
    if isinstance(results, Evaluation):
        return None
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ValueError(f"results must be an Evaluation or a sequence of them (one per fold); "
                         f"got {type(results).__name__}.")
    return list(results)


def _held_out(folds: list | None) -> bool:
    """Whether ``folds`` are leave-one-family-out folds."""
    return bool(folds) and all(isinstance(f, HeldOutFold) for f in folds)


def results_dict(results: Results) -> dict:
    """JSON-ready numbers (rates as fractions): ``Evaluation.to_dict()``, or ``{"folds", "summary"}`` for folds
    (plus ``"protocol": "leave-one-family-out"`` for held-out families)."""
    folds = _folds(results)
    if folds is None:
        return results.to_dict()
    if _held_out(folds):
        return {"protocol": "leave-one-family-out", "folds": [f.to_dict() for f in folds],
                "summary": held_out_summary(folds)}
    summary = fold_summary(folds)
    return {"folds": [f.to_dict() for f in folds], "summary": summary}


def _cell(value, percent: bool) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        return f"{_cell(value['mean'], percent)} ± {_cell(value['std'], percent)}"
    return f"{100 * value:.2f}" if percent else f"{value:.4g}"


def _value(d: dict, key: str):
    """``d[key]``, following dots into nested dicts; None where a part is missing."""
    for part in key.split("."):
        d = d.get(part) if isinstance(d, dict) else None
    return d


def _table(rows: list[tuple[str, dict]], first: str, counts: bool) -> list[str]:
    species = sorted({s for _, d in rows for s in d["apcer"]})
    rates = list(_RATES)
    if any("still_probe" in d for _, d in rows):
        rates[3:3] = _STILL  # beside ACER
    header = [first] + [f"APCER {s}" for s in species] + [h for h, _ in rates] + ["threshold"]
    if counts:
        header += [f"n {s}" for s in (LIVE, *species)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, d in rows:
        cells = [name] + [_cell(d["apcer"].get(s), True) for s in species]
        cells += [_cell(_value(d, key), not key.endswith("mean_drop")) for _, key in rates]
        cells.append(_cell(d["threshold"], False))
        if counts:
            cells += [str(d["counts"].get(s, 0)) for s in (LIVE, *species)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_INTRO = ("Threshold chosen on dev at the EER (attacks pooled) and applied unchanged to test; a sample is "
          "accepted as live when score >= threshold. Rates in %; APCER (worst) is the worst attack species "
          "(family, with --apcer-by family), "
          "ACER = (APCER (worst) + BPCER) / 2, HTER = (pooled APCER + BPCER) / 2, EER is each split's own.")
_STILL_INTRO = (" Still-probe APCER: the share of test live videos accepted when every clip is frozen to its first "
                "frame (a perfect still of a live face); still-probe drop: their mean score minus frozen score.")
_HELD_OUT_INTRO = (
    "Leave-one-family-out: for each held-out attack family F, the model was trained without F, its threshold "
    "chosen at the EER of dev without F (source-only validation) and applied unchanged to the test live "
    "videos and the test attacks of F. APCER: share of F's test attacks accepted; ACER = (APCER + BPCER) / 2, "
    "equal to HTER as the test holds one attack family; test EER: the target's own, threshold-free EER (an oracle, "
    "as in OCIM papers' code, not an operating point); dev ACER: on dev without F (worst family). Rates in %.")
_HELD_OUT_COLUMNS = (("APCER", "apcer"), ("BPCER", "bpcer"), ("ACER", "acer"), ("HTER", "hter"),
                     ("test EER", "test_eer"), ("dev ACER", "dev_acer"),
                     ("still-probe APCER", "still_apcer"), ("still-probe drop", "still_drop"))


def _held_out_markdown(folds: list[HeldOutFold]) -> list[str]:
    summary = held_out_summary(folds)
    columns = [(h, k) for h, k in _HELD_OUT_COLUMNS if k in summary]
    intro = _HELD_OUT_INTRO + (_STILL_INTRO if "still_apcer" in summary else "")

    def cells(d: dict) -> list[str]:
        return [_cell(d.get(k), k != "still_drop") for _, k in columns]

    head = "| " + " | ".join(h for h, _ in columns) + " |"
    lines = ["# Results: leave-one-family-out", "", intro, "",
             f"## Mean ± std over {summary['n_folds']} held-out families (sample standard deviation)", "",
             "| folds " + head, "|---" + "|---" * len(columns) + "|",
             f"| {summary['n_folds']} | " + " | ".join(cells(summary)) + " |", "", "## Per held-out family", "",
             "| family | species " + head + " threshold | n live | n attack | model |",
             "|---|---" + "|---" * len(columns) + "|---|---|---|---|"]
    for f in folds:
        counts = f.evaluation.test.rates.counts
        lines.append(f"| {f.family} | {f.species} | " + " | ".join(cells(summary["folds"][f.family]))
                     + f" | {_cell(f.evaluation.threshold, False)} | {counts[LIVE]} | {counts[f.family]} | {f.model} |")
    return lines


def results_markdown(results: Results) -> str:
    """Markdown tables of every split's rates in percent, the threshold and sample counts."""
    folds = _folds(results)
    if _held_out(folds):
        return "\n".join(_held_out_markdown(folds)) + "\n"
    evaluations = [results] if folds is None else folds
    intro = _INTRO + (_STILL_INTRO if any(e.test.still for e in evaluations) else "")
    if folds is None:
        d = results.to_dict()
        lines = ["# Results", "", intro, ""] + _table([(s, d[s]) for s in SPLITS], "split", counts=True)
        return "\n".join(lines) + "\n"
    summary = fold_summary(folds)
    lines = ["# Results", "", intro, "",
             f"## Mean ± std over {summary['n_folds']} folds (sample standard deviation)", ""]
    lines += _table([(s, summary[s]) for s in SPLITS], "split", counts=False)
    lines += ["", "## Per fold", ""]
    rows = [(f"{i + 1} {s}", f.to_dict()[s]) for i, f in enumerate(folds) for s in SPLITS]
    lines += _table(rows, "fold split", counts=True)
    return "\n".join(lines) + "\n"


SCORE_COLUMNS = ("fold", "split", "video_id", "live", "group", "score", "accepted", "frozen_score", "frozen_accepted")


def write_scores(named: list[tuple[str, Evaluation]], path: Path) -> Path:
    """One CSV row per scored video and fold: its split, label, group (species or family), score, whether
    it was accepted at the fold's dev threshold and, for test live videos under the still probe, the same
    for its frozen version (blank otherwise)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        rows = csv.writer(f)
        rows.writerow(SCORE_COLUMNS)
        for name, e in named:
            for split in SPLITS:
                result = getattr(e, split)
                frozen = {} if result.still is None else dict(zip(map(str, result.still.ids), result.still.frozen))
                s = result.scores
                for vid, live, group, score in zip(s.ids, s.live, s.species, s.scores):
                    held = frozen.get(str(vid))
                    held_cells = ["", ""] if held is None else [f"{held:.6f}", int(held >= e.threshold)]
                    rows.writerow([name, split, vid, int(live), group, f"{score:.6f}", int(score >= e.threshold),
                                   *held_cells])
    return path


def write_report(results: Results, out_dir) -> dict[str, Path]:
    """Write results.md, results.json, scores.csv (every video's score, see :func:`write_scores`), ROC and
    DET curves, score histograms and, where the still probe ran, still_probe.png into ``out_dir``.

    Returns the written files by name. For folds, the ROC, DET and still-probe figures overlay the test
    split of every fold (named by number, or by held-out family) and there is one histogram per fold and split.
    """
    from . import plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    folds = _folds(results)
    written = {"results.md": out / "results.md", "results.json": out / "results.json"}
    written["results.md"].write_text(results_markdown(results), encoding="utf-8")
    written["results.json"].write_text(json.dumps(results_dict(results), indent=2) + "\n", encoding="utf-8")
    if folds is None:
        named = [("", results)]
        curves = {s: getattr(results, s).scores for s in SPLITS}
    else:
        named = ([(f.family, f.evaluation) for f in folds] if _held_out(folds)
                 else [(f"fold {i + 1}", f) for i, f in enumerate(folds)])
        curves = {f"{name} test": e.test.scores for name, e in named}
    written["scores.csv"] = write_scores(named, out / "scores.csv")
    hists = {}
    for name, e in named:
        for s in SPLITS:
            tag = f"{name.replace(' ', '')}_{s}" if name else s
            hists[f"hist_{tag}.png"] = (getattr(e, s).scores, e.threshold, f"Scores, {name + ' ' if name else ''}{s}")
    written["roc.png"] = plots.plot_roc(curves, out / "roc.png")
    written["det.png"] = plots.plot_det(curves, out / "det.png")
    for name, (data, threshold, title) in hists.items():
        written[name] = plots.plot_histograms(data, threshold, out / name, title=title)
    probes = {name or "test": e.test.still for name, e in named if e.test.still is not None}
    if probes:
        written["still_probe.png"] = plots.plot_still_probe(probes, out / "still_probe.png")
    return written
