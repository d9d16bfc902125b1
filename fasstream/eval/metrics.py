"""Presentation-attack detection metrics (ISO/IEC 30107-3 style, EulerNet eqs 7-8).

Conventions used throughout:

- A score is higher for a more live-looking sample; a sample is accepted as bona fide when
  ``score >= threshold``.
- APCER of one species is the share of its attacks accepted; the headline APCER is the worst
  species. BPCER is the share of bona fide samples rejected. ACER = (worst APCER + BPCER) / 2.
- FAR is the APCER of all attacks pooled and FRR equals BPCER; HTER = (FAR + FRR) / 2.
- The operating threshold is chosen on the dev set at its EER (pooled attacks) and applied
  unchanged to the test set.
- The still probe scores each live test video frozen (every clip's frames replaced by its first):
  its still APCER is the share of those stills accepted, a temporal attack any dataset yields.

All rates are fractions in [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fasstream.model.aggregate import aggregate_groups

LIVE = "live"


def _scores_live(scores, live) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores float64, live bool) as 1-D arrays, or raise a ValueError naming the input."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(live)
    if s.ndim != 1 or y.ndim != 1:
        raise ValueError(f"scores and live must be 1-D (one value per sample); got shapes {s.shape} and {y.shape}.")
    if s.size == 0:
        raise ValueError("scores is empty; a metric needs at least one bona fide and one attack sample.")
    if s.shape != y.shape:
        raise ValueError(f"scores has {s.size} values but live has {y.size}; give one label per score.")
    if not np.all(np.isfinite(s)):
        bad = np.flatnonzero(~np.isfinite(s))
        raise ValueError(f"scores holds {bad.size} NaN or infinite value(s), first at index {bad[0]}; "
                         "drop or fix those samples before evaluating.")
    if y.dtype != np.bool_:
        if not (np.issubdtype(y.dtype, np.integer) and np.isin(y, (0, 1)).all()):
            raise ValueError(f"live must be booleans (True = bona fide) or 0/1 integers; got dtype {y.dtype}. "
                             "Fix: pass a boolean array, e.g. labels == 'live'.")
        y = y.astype(bool)
    return s, y


def _both_classes(live: np.ndarray, name: str) -> None:
    if not live.any():
        raise ValueError(f"{name} has no bona fide sample (live is all False); BPCER and the EER need at least one.")
    if live.all():
        raise ValueError(f"{name} has no attack sample (live is all True); APCER and the EER need at least one.")


def _error_counts(scores, live) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Distinct scores ascending, attacks accepted and bona fide rejected at each, and the class sizes."""
    s, y = _scores_live(scores, live)
    _both_classes(y, "scores")
    thresholds = np.unique(s)
    attack = np.sort(s[~y])
    bona = np.sort(s[y])
    accepted = attack.size - np.searchsorted(attack, thresholds, side="left")
    rejected = np.searchsorted(bona, thresholds, side="left")
    return thresholds, accepted, rejected, attack.size, bona.size


def error_curve(scores, live) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled error rates at every distinct score used as threshold.

    Returns ``(thresholds, apcer, bpcer)``, thresholds ascending, where at threshold ``t``
    APCER is the share of attacks with ``score >= t`` and BPCER the share of bona fide
    samples with ``score < t``.
    """
    thresholds, accepted, rejected, n_attack, n_bona = _error_counts(scores, live)
    return thresholds, accepted / n_attack, rejected / n_bona


def _eer_point(scores, live) -> tuple[float, float]:
    thresholds, accepted, rejected, n_attack, n_bona = _error_counts(scores, live)
    # Rates scaled by n_attack * n_bona are integers, so ties are exact. lexsort sorts by the
    # last key first: |APCER - BPCER|, then APCER + BPCER, then the threshold.
    a, b = accepted * n_bona, rejected * n_attack
    best = np.lexsort((thresholds, a + b, np.abs(a - b)))[0]
    return float(thresholds[best]), float((accepted[best] / n_attack + rejected[best] / n_bona) / 2)


def eer_threshold(scores, live) -> float:
    """Threshold at the equal error rate, attacks pooled.

    Candidates are the distinct observed scores (accept when ``score >= t``). The chosen one
    minimises ``|APCER - BPCER|``; ties go to the smaller ``APCER + BPCER``, then to the
    lowest threshold.
    """
    return _eer_point(scores, live)[0]


def eer(scores, live) -> float:
    """Equal error rate: ``(APCER + BPCER) / 2`` at :func:`eer_threshold`, attacks pooled."""
    return _eer_point(scores, live)[1]


@dataclass(frozen=True)
class ErrorRates:
    """Error rates at one threshold; ``apcer`` maps each attack species to its APCER.

    ``apcer_pooled`` is the FAR (all attacks pooled) and ``bpcer`` the FRR; ``counts`` maps
    ``"live"`` and each species to its number of samples.
    """

    threshold: float
    apcer: dict[str, float]
    apcer_worst: float
    worst_species: str
    apcer_pooled: float
    bpcer: float
    acer: float
    hter: float
    counts: dict[str, int]


def _species(species, live: np.ndarray) -> np.ndarray:
    sp = np.asarray(species, dtype=object)
    if sp.ndim != 1 or sp.shape != live.shape:
        raise ValueError(f"species must be 1-D with one entry per score ({live.size}); got shape {sp.shape}.")
    is_live = np.array([x == LIVE for x in sp], dtype=bool)
    mismatch = np.flatnonzero(is_live != live)
    if mismatch.size:
        i = mismatch[0]
        raise ValueError(f"species and live disagree at {mismatch.size} sample(s), first at index {i} "
                         f"(species {sp[i]!r}, live {bool(live[i])}); bona fide samples must have species "
                         f"{LIVE!r} and attacks a species name such as 'print' or 'replay'.")
    return sp


def apcer_bpcer(scores, live, species, threshold: float) -> ErrorRates:
    """APCER per species, worst APCER, BPCER, ACER and HTER at ``threshold`` (accept if ``score >= threshold``).

    The worst species is the one with the highest APCER; ties go to the alphabetically first name.
    """
    s, y = _scores_live(scores, live)
    _both_classes(y, "scores")
    sp = _species(species, y)
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold}.")
    accepted = s >= threshold
    names = sorted({str(x) for x in sp[~y]})
    apcer = {n: float(accepted[sp == n].mean()) for n in names}
    worst = min(names, key=lambda n: (-apcer[n], n))
    bpcer = float((~accepted[y]).mean())
    pooled = float(accepted[~y].mean())
    counts = {LIVE: int(y.sum()), **{n: int((sp == n).sum()) for n in names}}
    return ErrorRates(threshold=float(threshold), apcer=apcer, apcer_worst=apcer[worst], worst_species=worst,
                      apcer_pooled=pooled, bpcer=bpcer, acer=(apcer[worst] + bpcer) / 2,
                      hter=(pooled + bpcer) / 2, counts=counts)


@dataclass(frozen=True)
class ScoreSet:
    """Scores of one split: ``scores`` (high = live), ``live`` labels, ``species`` and sample ``ids``.

    Inputs are converted to 1-D numpy arrays and checked; ``ids`` default to ``"0", "1", ...``.
    """

    scores: np.ndarray
    live: np.ndarray
    species: np.ndarray
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        s, y = _scores_live(self.scores, self.live)
        sp = _species(self.species, y)
        ids = np.arange(s.size).astype(str) if self.ids is None else np.asarray(self.ids)
        if ids.shape != s.shape:
            raise ValueError(f"ids must be 1-D with one entry per score ({s.size}); got shape {ids.shape}.")
        for name, value in (("scores", s), ("live", y), ("species", sp), ("ids", ids)):
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return self.scores.size


def video_scores(clip_scores, video_ids, rule: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Clip scores collapsed per video by ``rule`` (``fasstream.model.aggregate``: mean or max).

    Returns ``(ids, scores)`` with the videos in order of first appearance.
    """
    s = np.asarray(clip_scores, dtype=np.float64)
    v = np.asarray(video_ids)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"clip_scores must be a non-empty 1-D array; got shape {s.shape}.")
    if v.shape != s.shape:
        raise ValueError(f"clip_scores has {s.size} values but video_ids has shape {v.shape}; "
                         "give one video id per clip.")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"clip_scores holds NaN or infinite values at indices {np.flatnonzero(~np.isfinite(s))[:5]}.")
    uniq, first, inverse = np.unique(v, return_index=True, return_inverse=True)
    videos = aggregate_groups(s, inverse.ravel(), uniq.size, rule)
    order = np.argsort(first)
    return uniq[order], videos[order]


def video_level(clips: ScoreSet, rule: str = "mean") -> ScoreSet:
    """Collapse a clip-level ScoreSet, whose ``ids`` are video ids, into one score per video by ``rule``."""
    ids, means = video_scores(clips.scores, clips.ids, rule)
    first = {}
    for vid, live, species in zip(clips.ids, clips.live, clips.species):
        key = (bool(live), str(species))
        if first.setdefault(vid, key) != key:
            raise ValueError(f"video {str(vid)!r} has clips labelled {first[vid]} and {key} (live, species); "
                             "all clips of a video must share live and species.")
    live = np.array([first[v][0] for v in ids], dtype=bool)
    species = np.array([first[v][1] for v in ids], dtype=object)
    return ScoreSet(means, live, species, ids)


@dataclass(frozen=True)
class StillProbe:
    """Live videos scored as they are (``scores``) and frozen (``frozen``), at ``threshold``.

    ``apcer``: share of the frozen videos accepted as live (a still of a live face is an attack);
    ``mean_drop``: mean of score - frozen score; ``live_accepted``: share of the unfrozen ones accepted.
    """

    threshold: float
    ids: np.ndarray
    scores: np.ndarray
    frozen: np.ndarray

    @property
    def apcer(self) -> float:
        return float((self.frozen >= self.threshold).mean())

    @property
    def mean_drop(self) -> float:
        return float((self.scores - self.frozen).mean())

    def to_dict(self) -> dict:
        """JSON-ready ``{"apcer", "mean_drop", "live_accepted", "videos"}``."""
        return {"apcer": self.apcer, "mean_drop": self.mean_drop,
                "live_accepted": float((self.scores >= self.threshold).mean()), "videos": int(self.ids.size)}


def still_probe(data: ScoreSet, frozen: ScoreSet, threshold: float) -> StillProbe:
    """Pair each frozen live video of ``frozen`` with its score in ``data`` (by id) at ``threshold``."""
    if not isinstance(frozen, ScoreSet) or len(frozen) == 0 or not frozen.live.all():
        raise ValueError("frozen must be a non-empty ScoreSet of live videos only (their frozen scores); "
                         "freeze bona fide videos, not attacks.")
    original = {str(i): (float(s), bool(y)) for i, s, y in zip(data.ids, data.scores, data.live)}
    missing = [str(i) for i in frozen.ids if not original.get(str(i), (0.0, False))[1]]
    if missing:
        raise ValueError(f"{len(missing)} frozen video(s), first {missing[0]!r}, are not live videos of the scored "
                         "split; freeze videos of the same split, with the same ids.")
    scores = np.array([original[str(i)][0] for i in frozen.ids])
    return StillProbe(float(threshold), frozen.ids, scores, frozen.scores)


@dataclass(frozen=True)
class SplitResult:
    """Numbers of one split: error ``rates`` at the dev threshold, the split's own ``eer``, its scores and
    the ``still`` probe of its live videos (None when not run)."""

    rates: ErrorRates
    eer: float
    scores: ScoreSet = field(repr=False)
    still: StillProbe | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready numbers: rates as fractions, counts per class, ``still_probe`` where run."""
        r = self.rates
        out = {"apcer": dict(r.apcer), "apcer_worst": r.apcer_worst, "worst_species": r.worst_species,
               "apcer_pooled": r.apcer_pooled, "bpcer": r.bpcer, "acer": r.acer, "hter": r.hter,
               "eer": self.eer, "threshold": r.threshold, "counts": dict(r.counts)}
        if self.still is not None:
            out["still_probe"] = self.still.to_dict()
        return out


@dataclass(frozen=True)
class Evaluation:
    """Dev and test results at one threshold, chosen on dev at its EER."""

    threshold: float
    dev: SplitResult
    test: SplitResult

    def to_dict(self) -> dict:
        """JSON-ready ``{"threshold", "dev", "test"}``."""
        return {"threshold": self.threshold, "dev": self.dev.to_dict(), "test": self.test.to_dict()}


def _check_set(name: str, data: ScoreSet) -> None:
    if not isinstance(data, ScoreSet):
        raise ValueError(f"{name} must be a ScoreSet(scores, live, species, ids); got {type(data).__name__}.")
    _both_classes(data.live, name)


def _split(data: ScoreSet, threshold: float, frozen: ScoreSet | None = None) -> SplitResult:
    rates = apcer_bpcer(data.scores, data.live, data.species, threshold)
    still = None if frozen is None else still_probe(data, frozen, threshold)
    return SplitResult(rates=rates, eer=eer(data.scores, data.live), scores=data, still=still)


def evaluate(dev: ScoreSet, test: ScoreSet, frozen_test: ScoreSet | None = None) -> Evaluation:
    """Choose the threshold on ``dev`` at its EER and report both splits at that threshold.

    Each split's ``eer`` is its own, threshold-free EER; every other rate of ``test`` uses the dev threshold,
    as does the still probe of ``frozen_test`` (frozen scores of test live videos, same ids), if given.
    """
    _check_set("dev", dev)
    _check_set("test", test)
    threshold = eer_threshold(dev.scores, dev.live)
    return Evaluation(threshold=threshold, dev=_split(dev, threshold), test=_split(test, threshold, frozen_test))


def _summarise(values: list, path: str, ddof: int):
    first = values[0]
    if isinstance(first, dict):
        keys = list(first)
        for i, v in enumerate(values):
            if not isinstance(v, dict) or list(v) != keys:
                raise ValueError(f"fold {i} has keys {sorted(v) if isinstance(v, dict) else v} at {path or 'top'} "
                                 f"but fold 0 has {sorted(keys)}; all folds need the same attack species.")
        return {k: _summarise([v[k] for v in values], f"{path}.{k}".lstrip("."), ddof) for k in keys}
    if isinstance(first, str):
        return list(values)
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=ddof)) if arr.size > ddof else 0.0
    return {"mean": float(arr.mean()), "std": std}


def fold_summary(results: Sequence[Evaluation], ddof: int = 1) -> dict:
    """Mean and standard deviation over folds (e.g. OULU-NPU protocols 3 and 4).

    Mirrors :meth:`Evaluation.to_dict`, with each number replaced by ``{"mean", "std"}`` and each
    string (the worst species) by the list of per-fold values; ``n_folds`` is added. ``ddof=1``
    gives the sample standard deviation (0 for a single fold); pass ``ddof=0`` for the population one.
    """
    results = list(results)
    if not results:
        raise ValueError("results is empty; pass one Evaluation per fold.")
    bad = [i for i, r in enumerate(results) if not isinstance(r, Evaluation)]
    if bad:
        raise ValueError(f"results[{bad[0]}] is a {type(results[bad[0]]).__name__}; pass Evaluation objects "
                         "from evaluate(dev, test), one per fold.")
    return {"n_folds": len(results), **_summarise([r.to_dict() for r in results], "", ddof)}


@dataclass(frozen=True)
class HeldOutFold:
    """One leave-one-family-out fold: ``family`` (of ``species``) held out, the ``model`` trained without it,
    and its ``evaluation``: dev without the family, test of bona fide plus the family's attacks, species
    columns holding families (so the test APCER is the held-out family's)."""

    family: str
    species: str
    model: str
    evaluation: Evaluation

    def to_dict(self) -> dict:
        """JSON-ready ``{"family", "species", "model", "threshold", "dev", "test"}``."""
        return {"family": self.family, "species": self.species, "model": self.model, **self.evaluation.to_dict()}

    def headline(self) -> dict:
        """The fold's numbers: the family's test APCER, BPCER, ACER, HTER, test EER, dev ACER, still probe."""
        test, dev = self.evaluation.test, self.evaluation.dev
        row = {"apcer": test.rates.apcer[self.family], "bpcer": test.rates.bpcer, "acer": test.rates.acer,
               "hter": test.rates.hter, "test_eer": test.eer, "dev_acer": dev.rates.acer}
        if test.still is not None:
            row.update(still_apcer=test.still.apcer, still_drop=test.still.mean_drop)
        return row


def held_out_summary(folds: Sequence[HeldOutFold], ddof: int = 1) -> dict:
    """Per-family APCER and mean ± std over leave-one-family-out folds.

    Returns ``{"n_folds", "apcer_per_family": {family: APCER}, "folds": {family: headline}}`` plus, for each
    headline number (apcer, bpcer, acer, hter, test_eer, dev_acer, still_apcer, still_drop), ``{"mean", "std"}``
    (``ddof=1``: sample standard deviation, 0 for one fold).
    """
    folds = list(folds)
    if not folds or not all(isinstance(f, HeldOutFold) for f in folds):
        raise ValueError("folds must be a non-empty sequence of HeldOutFold, one per held-out family.")
    families = [f.family for f in folds]
    if len(set(families)) != len(families):
        raise ValueError(f"families {families} repeat; hold each family out once.")
    rows = {f.family: f.headline() for f in folds}
    keys = [k for k in rows[families[0]] if all(k in r for r in rows.values())]
    return {"n_folds": len(folds), "apcer_per_family": {k: r["apcer"] for k, r in rows.items()}, "folds": rows,
            **{k: _summarise([r[k] for r in rows.values()], k, ddof) for k in keys}}
