"""Evaluation: PAD metrics at a dev-chosen threshold, fold summaries, figures and reports.

Metrics need only numpy; figures (``fasstream.eval.plots``, used by ``write_report``) need matplotlib.
"""
from .metrics import (
    ErrorRates,
    Evaluation,
    HeldOutFold,
    ScoreSet,
    SplitResult,
    StillProbe,
    apcer_bpcer,
    eer,
    eer_threshold,
    error_curve,
    evaluate,
    fold_summary,
    held_out_summary,
    still_probe,
    video_level,
    video_scores,
)
from .report import results_dict, results_markdown, write_report

__all__ = [
    "ErrorRates", "Evaluation", "HeldOutFold", "ScoreSet", "SplitResult", "StillProbe", "apcer_bpcer", "eer",
    "eer_threshold", "error_curve", "evaluate", "fold_summary", "held_out_summary", "still_probe", "video_level",
    "video_scores", "results_dict", "results_markdown", "write_report",
]
