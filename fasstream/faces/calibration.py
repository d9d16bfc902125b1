"""From detector output to the training crop: a fitted map from a face's box and 5 points to its landmark box.

The model was trained on ``face_crop_box(mean of the clip's 68 landmarks, crop_scale)``: a square
of side ``crop_scale x extent`` centred on the landmarks' bounding box (``extent`` = its longer
side). A detector with 68 points reproduces that rule exactly (``features="landmarks"``). For the
others the landmark box's centre and extent are predicted per frame, in units of the detection's
box (centre ``c``, size ``s = sqrt(w h)``), by a linear map fitted (ridge least squares) on frames
where the exact landmarks are known (the synthetic set):

    (cx - c_x) / s, (cy - c_y) / s, log(extent / s)  =  [1, (points - c) / s] @ coef

``features="box+points"`` uses the 5 points (MTCNN), ``"box"`` the constant term only (boxes
without points). A clip's box averages its frames' estimates, as training averages landmarks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fasstream.faces.detectors import Detection
from fasstream.faces.geometry import Box, face_crop_box

__all__ = ["FEATURES", "CropCalibration"]

FEATURES = ("landmarks", "box+points", "box")


def _frame(det: Detection) -> tuple[np.ndarray, float]:
    x0, y0, x1, y1 = det.box
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), float(np.sqrt(max(x1 - x0, 1e-3) * max(y1 - y0, 1e-3)))


def landmark_box(points: np.ndarray) -> np.ndarray:
    """(cx, cy, extent) of 68 landmarks: the centre and longer side of their bounding box (face_crop_box's rule)."""
    lo, hi = points.min(0), points.max(0)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, max(float((hi - lo).max()), 1.0)])


@dataclass
class CropCalibration:
    """The map of the module docstring; ``coef`` is (1 + 2 x points, 3), ``fit`` records how it was fitted."""

    features: str = "landmarks"
    coef: np.ndarray | None = None
    fit_info: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.features not in FEATURES:
            raise ValueError(f"calibration features {self.features!r} unknown; use one of {', '.join(FEATURES)}")
        if self.features != "landmarks":
            want = (11 if self.features == "box+points" else 1, 3)
            self.coef = np.asarray(self.coef, np.float64) if self.coef is not None else None
            if self.coef is None or self.coef.shape != want:
                got = None if self.coef is None else self.coef.shape
                raise ValueError(f"a {self.features!r} calibration needs coef of shape {want}, got {got}; refit it "
                                 "with pipelines/faces/fit_calibration.py")

    def _design(self, dets: Sequence[Detection]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, centres, sizes = [], [], []
        for det in dets:
            c, s = _frame(det)
            if self.features == "box+points":
                if det.points is None or det.points.shape != (5, 2):
                    raise ValueError("a box+points calibration needs detections with 5 points (e.g. mtcnn); "
                                     "use a calibration fitted for this detector")
                rows.append(np.r_[1.0, ((det.points - c) / s).ravel()])
            else:
                rows.append(np.ones(1))
            centres.append(c)
            sizes.append(s)
        return np.array(rows), np.array(centres), np.array(sizes)

    def frame_boxes(self, dets: Sequence[Detection]) -> np.ndarray:
        """(N, 3) estimates of each detection's landmark box (cx, cy, extent)."""
        if self.features == "landmarks":
            return np.array([landmark_box(d.points) for d in dets]).reshape(-1, 3)
        x, c, s = self._design(dets)
        y = x @ self.coef
        return np.column_stack([c + y[:, :2] * s[:, None], np.exp(y[:, 2]) * s])

    def clip_box(self, dets: Sequence[Detection | None], crop_scale: float = 1.3) -> Box | None:
        """The crop box of a clip from its frames' detections (None entries: frames without a face)."""
        found = [d for d in dets if d is not None]
        if not found:
            return None
        if self.features == "landmarks":
            return face_crop_box(np.mean([d.points for d in found], axis=0), crop_scale)
        cx, cy, extent = self.frame_boxes(found).mean(0)
        side = crop_scale * extent
        return float(cx - side / 2), float(cy - side / 2), float(side)

    @classmethod
    def fit(cls, dets: Sequence[Detection], landmarks: Sequence[np.ndarray], features: str = "box+points",
            ridge: float = 1e-3, **info) -> CropCalibration:
        """Fit on detections and the exact (68, 2) landmarks of the same frames; ``info`` is kept in ``fit_info``."""
        if len(dets) != len(landmarks) or len(dets) < 20:
            raise ValueError(f"need one landmark set per detection and at least 20 frames, got {len(dets)} "
                             f"detections and {len(landmarks)} landmark sets")
        probe = cls(features, np.zeros((11 if features == "box+points" else 1, 3)))
        x, c, s = probe._design(dets)
        target = np.array([landmark_box(p) for p in landmarks])
        y = np.column_stack([(target[:, :2] - c) / s[:, None], np.log(target[:, 2] / s)])
        reg = ridge * len(x) * np.eye(x.shape[1])
        reg[0, 0] = 0.0  # no shrinkage of the offsets
        coef = np.linalg.solve(x.T @ x + reg, x.T @ y)
        fitted = cls(features, coef)
        err = fitted.frame_boxes(dets) - target
        rel = np.abs(err) / target[:, 2:3]
        summary = {"frames": len(dets), "ridge": ridge,
                   "centre_error_p50": float(np.median(np.hypot(rel[:, 0], rel[:, 1]))),
                   "centre_error_p95": float(np.percentile(np.hypot(rel[:, 0], rel[:, 1]), 95)),
                   "extent_error_p50": float(np.median(rel[:, 2])),
                   "extent_error_p95": float(np.percentile(rel[:, 2], 95))}
        fitted.fit_info = {**info, **summary}
        return fitted

    def to_dict(self) -> dict:
        out = {"features": self.features, "fit": self.fit_info}
        if self.coef is not None:
            out["coef"] = np.round(self.coef, 6).tolist()
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> CropCalibration:
        return cls(raw.get("features", "landmarks"), raw.get("coef"), raw.get("fit", {}))
