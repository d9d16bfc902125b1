"""Results tables (markdown and JSON) and the report folder: results.md, results.json and figures.

``results`` is one :class:`Evaluation`, or a sequence of them for a protocol with folds
(OULU-NPU 3 and 4), which is summarised as mean ± std over the folds.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence, Union

from .metrics import LIVE, Evaluation, fold_summary

Results = Union[Evaluation, Sequence[Evaluation]]
SPLITS = ("dev", "test")
_RATES = (("APCER (worst)", "apcer_worst"), ("BPCER", "bpcer"), ("ACER", "acer"), ("EER", "eer"), ("HTER", "hter"))


def _folds(results: Results) -> list[Evaluation] | None:
    """None for a single Evaluation, else the list of folds (checked)."""
    if isinstance(results, Evaluation):
        return None
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ValueError(f"results must be an Evaluation or a sequence of them (one per fold); "
                         f"got {type(results).__name__}.")
    return list(results)


def results_dict(results: Results) -> dict:
    """JSON-ready numbers (rates as fractions): ``Evaluation.to_dict()``, or ``{"folds", "summary"}`` for folds."""
    folds = _folds(results)
    if folds is None:
        return results.to_dict()
    summary = fold_summary(folds)
    return {"folds": [f.to_dict() for f in folds], "summary": summary}


def _cell(value, percent: bool) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        return f"{_cell(value['mean'], percent)} ± {_cell(value['std'], percent)}"
    return f"{100 * value:.2f}" if percent else f"{value:.4g}"


def _table(rows: list[tuple[str, dict]], first: str, counts: bool) -> list[str]:
    species = sorted({s for _, d in rows for s in d["apcer"]})
    header = [first] + [f"APCER {s}" for s in species] + [h for h, _ in _RATES] + ["threshold"]
    if counts:
        header += [f"n {s}" for s in (LIVE, *species)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, d in rows:
        cells = [name] + [_cell(d["apcer"].get(s), True) for s in species]
        cells += [_cell(d[key], True) for _, key in _RATES] + [_cell(d["threshold"], False)]
        if counts:
            cells += [str(d["counts"].get(s, 0)) for s in (LIVE, *species)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def results_markdown(results: Results) -> str:
    """Markdown tables of every split's rates in percent, the threshold and sample counts."""
    folds = _folds(results)
    intro = ("Threshold chosen on dev at the EER (attacks pooled) and applied unchanged to test; a sample is "
             "accepted as live when score >= threshold. Rates in %; APCER (worst) is the worst attack species, "
             "ACER = (APCER (worst) + BPCER) / 2, HTER = (pooled APCER + BPCER) / 2, EER is each split's own.")
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


def write_report(results: Results, out_dir) -> dict[str, Path]:
    """Write results.md, results.json, ROC and DET curves and score histograms into ``out_dir``.

    Returns the written files by name. For folds, the ROC and DET figures overlay the test split of
    every fold and there is one histogram per fold and split.
    """
    from . import plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    folds = _folds(results)
    written = {"results.md": out / "results.md", "results.json": out / "results.json"}
    written["results.md"].write_text(results_markdown(results), encoding="utf-8")
    written["results.json"].write_text(json.dumps(results_dict(results), indent=2) + "\n", encoding="utf-8")
    if folds is None:
        curves = {s: getattr(results, s).scores for s in SPLITS}
        hists = {f"hist_{s}.png": (getattr(results, s).scores, results.threshold, f"Scores, {s}") for s in SPLITS}
    else:
        curves = {f"fold {i + 1} test": f.test.scores for i, f in enumerate(folds)}
        hists = {f"hist_fold{i + 1}_{s}.png": (getattr(f, s).scores, f.threshold, f"Scores, fold {i + 1} {s}")
                 for i, f in enumerate(folds) for s in SPLITS}
    written["roc.png"] = plots.plot_roc(curves, out / "roc.png")
    written["det.png"] = plots.plot_det(curves, out / "det.png")
    for name, (data, threshold, title) in hists.items():
        written[name] = plots.plot_histograms(data, threshold, out / name, title=title)
    return written
