"""The face stage as configured data: ``pipelines/faces/<detector>.json`` -> a ready :class:`FaceTracker`.

A stage file holds the detector's name and settings, the tracker's ``redetect_every`` and the
detector's crop calibration (written by ``pipelines/faces/fit_calibration.py``):

    {"detector": "mtcnn", "settings": {"min_face": 0.2, ...}, "redetect_every": 8,
     "calibration": {"features": "box+points", "coef": [[...]], "fit": {...}}}

Detectors with 68 points (dlib, precomputed) need no file: they crop by the training rule itself.
"""
from __future__ import annotations

import json
from pathlib import Path

from fasstream.faces.calibration import CropCalibration
from fasstream.faces.detectors import DETECTORS, make_detector
from fasstream.faces.tracking import REDETECT_EVERY, FaceTracker

__all__ = ["DEFAULT_DETECTOR", "FACES_DIR", "load_tracker", "resolve_device", "stage_file"]

FACES_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "faces"
DEFAULT_DETECTOR = "mtcnn"  # licence-clean (MIT weights), batched on the worker's device


def stage_file(detector: str) -> Path:
    """Where the stage file of ``detector`` lives."""
    return FACES_DIR / f"{detector}.json"


def resolve_device(device: str = "auto") -> str:
    """``auto``: cuda when torch sees a GPU, else cpu; other names pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_tracker(detector: str = DEFAULT_DETECTOR, device: str = "auto", crop_scale: float = 1.3,
                 stage: str | Path | None = None, **settings) -> FaceTracker:
    """The face tracker of ``detector`` on ``device``, from its stage file (``stage`` overrides the path).

    ``settings`` override the file's detector settings (e.g. ``folder=`` for precomputed landmarks).
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown face detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    path = Path(stage) if stage else stage_file(detector)
    raw = {}
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
        except ValueError as err:
            raise ValueError(f"face stage file {path} is not valid JSON ({err}); restore it from git or refit it "
                             "with pipelines/faces/fit_calibration.py") from err
        if raw.get("detector", detector) != detector:
            raise ValueError(f"{path} configures detector {raw['detector']!r}, not {detector!r}; pass its own file")
    elif stage or DETECTORS[detector].points != 68:
        raise FileNotFoundError(f"no face stage file {path} for detector {detector!r}; fit one with "
                                f"`python pipelines/faces/fit_calibration.py --detector {detector}`")
    kwargs = {**raw.get("settings", {}), **settings}
    if detector == "mtcnn":
        kwargs["device"] = resolve_device(kwargs.get("device", device))
    calibration = CropCalibration.from_dict(raw["calibration"]) if "calibration" in raw else None
    return FaceTracker(make_detector(detector, **kwargs), calibration, crop_scale,
                       raw.get("redetect_every", REDETECT_EVERY))
