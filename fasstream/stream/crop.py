"""Face crops of a clip, as in training: one square box per clip, fitted to the mean of its frames' landmarks.

dlib's HOG detector is the expensive part (about 8 ms per 320x320 frame on one core, growing with
the pixel count); the 68-point predictor takes under 1 ms. So HOG runs once per clip, on its first
frame, and the predictor places the landmarks of all 4 frames from that face rectangle: on the
synthetic sessions the boxes match per-frame detection to 1.3% of their side (p95). Frames whose
shorter side exceeds ``detect_side`` are shrunk to it for HOG (the full frame is searched when that
finds nothing: small faces); shrinking 320x320 frames by half moved boxes by up to 9%, so the
default leaves frames of up to 320 pixels as they are, and searches those upsampled once when the
first search finds nothing (a replayed face under moire: found in 3 of 6 clips of the demo's replay
session that way, none without).
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from fasstream.labels.maps import crop_frame, face_crop_box


class FaceCropper:
    """``(4, H, W, 3)`` RGB frames -> ``(4, size, size, 3)`` uint8 face crops, or None when the clip has no face.

    The box is ``face_crop_box(mean of the 4 frames' landmarks, crop_scale)``, as in training,
    unless the client sent one (``box`` = (x0, y0, side) in frame pixels), which is used as it is.
    A clip whose first frame shows no face counts as faceless.
    """

    def __init__(self, size: int = 256, crop_scale: float = 1.3, detect_side: int = 320):
        if detect_side < 80:
            raise ValueError(f"detect_side must be >= 80 pixels (dlib's HOG window), got {detect_side}")
        self.size, self.crop_scale, self.detect_side = size, crop_scale, detect_side
        self._predictor = None
        self._lock = threading.Lock()
        self._local = threading.local()  # a HOG detector per thread: it keeps scan state; the predictor does not

    def load(self):
        """dlib, this thread's HOG detector and the shared 68-point predictor (a 100 MB file), loaded on first use."""
        import dlib

        with self._lock:
            if self._predictor is None:
                from fasstream.data.faces import shape_predictor_path

                self._predictor = dlib.shape_predictor(str(shape_predictor_path()))
        if not hasattr(self._local, "detector"):
            self._local.detector = dlib.get_frontal_face_detector()
        return dlib, self._local.detector, self._predictor

    def face(self, frame: np.ndarray):
        """dlib rectangle of the largest face in ``frame`` (full-frame pixels), or None."""
        dlib, detector, _ = self.load()
        scale = self.detect_side / min(frame.shape[:2])
        if scale < 1:
            small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            rects = detector(small, 0)
            if rects:
                r = max(rects, key=lambda r: r.area())
                return dlib.rectangle(*(round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())))
        rects = detector(frame, 0)
        if not rects and scale >= 1:  # a small frame: search it upsampled once (4x the cost, on a miss only)
            rects = detector(frame, 1)
        return max(rects, key=lambda r: r.area()) if rects else None

    def landmarks(self, frames: np.ndarray) -> np.ndarray | None:
        """``(4, 68, 2)`` float32 landmarks of the clip's face, or None when its first frame has no face."""
        frames = np.ascontiguousarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        rect = self.face(frames[0])
        if rect is None:
            return None
        predictor = self.load()[2]
        return np.array([[(p.x, p.y) for p in predictor(f, rect).parts()] for f in frames], np.float32)

    def box(self, frames: np.ndarray):
        """The clip's crop box (x0, y0, side): ``face_crop_box`` of its mean landmarks; None without a face."""
        points = self.landmarks(frames)
        return None if points is None else face_crop_box(points.mean(0), self.crop_scale)

    def __call__(self, frames: np.ndarray, box=None) -> np.ndarray | None:
        if box is None:
            box = self.box(frames)
            if box is None:
                return None
        return np.stack([crop_frame(frame, box, self.size) for frame in frames])
