"""ROC, DET, score-histogram and still-probe figures saved as PNG files.

matplotlib is imported only when a figure is drawn, and always through its Agg canvas, so no
display and no global pyplot state are needed.
"""
from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Mapping

import numpy as np

from .metrics import LIVE, ScoreSet, StillProbe, error_curve

# DET axes: rates are clipped to [_FLOOR, 1 - _FLOOR] before the normal-deviate transform, and
# shown from at most 1 % (lower when the curves reach lower rates) up to _TOP.
_FLOOR = 1e-4
_TOP = 0.99
_DET_TICKS = (0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def _curves(sets: Mapping[str, ScoreSet]):
    if not sets:
        raise ValueError("sets is empty; pass a mapping such as {'dev': dev_scores, 'test': test_scores}.")
    for label, data in sets.items():
        if not isinstance(data, ScoreSet):
            raise ValueError(f"sets[{label!r}] must be a ScoreSet; got {type(data).__name__}.")
        _, apcer, bpcer = error_curve(data.scores, data.live)
        # Prepend the point of a threshold above every score: nothing accepted.
        yield label, np.r_[0.0, apcer[::-1]], np.r_[1.0, bpcer[::-1]]


def plot_roc(sets: Mapping[str, ScoreSet], path, title: str = "ROC") -> Path:
    """ROC curve (bona fide acceptance vs pooled APCER) of each labelled ScoreSet; returns the PNG path."""
    fig, ax = _figure()
    for label, apcer, bpcer in _curves(sets):
        ax.plot(apcer, 1.0 - bpcer, label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), title=title,
           xlabel="APCER, attacks pooled (false acceptance rate)", ylabel="1 - BPCER (bona fide acceptance rate)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_det(sets: Mapping[str, ScoreSet], path, title: str = "DET") -> Path:
    """DET curve (BPCER vs pooled APCER, normal-deviate axes) of each labelled ScoreSet; returns the PNG path."""
    probit = np.vectorize(NormalDist().inv_cdf)

    def warp(rate):
        return probit(np.clip(rate, _FLOOR, 1 - _FLOOR))

    fig, ax = _figure()
    low = 0.01
    for label, apcer, bpcer in _curves(sets):
        ax.plot(warp(apcer), warp(bpcer), label=label)
        low = min(low, apcer[apcer > 0].min(initial=1.0) / 2, bpcer[bpcer > 0].min(initial=1.0) / 2)
    low = max(low, _FLOOR)
    ticks = [t for t in _DET_TICKS if low <= t <= _TOP]
    limits = warp(np.array([low, _TOP]))
    ax.plot(limits, limits, color="grey", linestyle=":", linewidth=1, label="APCER = BPCER")
    labels = [f"{100 * t:g}" for t in ticks]
    ax.set_xticks(warp(np.array(ticks)), labels)
    ax.set_yticks(warp(np.array(ticks)), labels)
    ax.set(xlim=limits, ylim=limits, title=title,
           xlabel="APCER, attacks pooled (%, normal deviate scale)", ylabel="BPCER (%, normal deviate scale)")
    ax.tick_params(axis="x", labelrotation=90)
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_histograms(data: ScoreSet, threshold: float, path, title: str = "Scores") -> Path:
    """Score histograms of bona fide samples and of each attack species, with the threshold line; returns the path.

    Each group is normalised to sum to 1, so groups of different sizes compare directly.
    """
    if not isinstance(data, ScoreSet):
        raise ValueError(f"data must be a ScoreSet; got {type(data).__name__}.")
    lo = min(float(data.scores.min()), threshold)
    hi = max(float(data.scores.max()), threshold)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 31)
    groups = [LIVE] + sorted({str(s) for s in data.species} - {LIVE})
    fig, ax = _figure()
    for name in groups:
        s = data.scores[data.species == name]
        if s.size:
            ax.hist(s, bins=bins, weights=np.full(s.size, 1.0 / s.size), histtype="step", linewidth=1.5,
                    label=f"{name} (n={s.size})")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    ax.set(title=title, xlabel="score (higher = more live)", ylabel="fraction of the group's samples")
    ax.legend()
    return _save(fig, path)


def plot_still_probe(probes: Mapping[str, StillProbe], path,
                     title: str = "Still probe: live test videos frozen") -> Path:
    """Each live video's frozen score against its score, both minus the threshold, per labelled probe.

    Points above the horizontal line are stills accepted as live (the still APCER); a model that reads
    time puts them below it, and below the diagonal. Returns the PNG path.
    """
    if not probes:
        raise ValueError("probes is empty; pass a mapping such as {'test': evaluation.test.still}.")
    fig, ax = _figure()
    lo, hi = 0.0, 0.0
    for label, probe in probes.items():
        if not isinstance(probe, StillProbe):
            raise ValueError(f"probes[{label!r}] must be a StillProbe; got {type(probe).__name__}.")
        x, y = probe.scores - probe.threshold, probe.frozen - probe.threshold
        ax.scatter(x, y, s=14, label=f"{label}: still-probe APCER {100 * probe.apcer:.1f}% (n={x.size})")
        lo, hi = min(lo, x.min(), y.min()), max(hi, x.max(), y.max())
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", linestyle=":", linewidth=1,
            label="frozen = unfrozen (time ignored)")
    ax.axhline(0, color="black", linestyle="--", linewidth=1)
    ax.axvline(0, color="black", linestyle="--", linewidth=1)
    ax.set(title=title, xlabel="score - threshold (video as recorded)", ylabel="score - threshold (every clip frozen)")
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, path)
