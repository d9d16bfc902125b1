"""Face crops of a clip, as in training: one square box per clip, fitted to the mean of its frames' landmarks."""
from __future__ import annotations

import numpy as np

from fasstream.labels.maps import crop_frame, face_crop_box


class FaceCropper:
    """``(4, H, W, 3)`` RGB frames -> ``(4, size, size, 3)`` uint8 face crops, or None when a frame has no face.

    The box is ``face_crop_box(mean landmarks, crop_scale)`` (dlib, loaded on first use) unless the
    client sent one (``box`` = (x0, y0, side) in frame pixels), which is used as it is.
    """

    def __init__(self, size: int = 256, crop_scale: float = 1.3, detector=None):
        self.size, self.crop_scale = size, crop_scale
        self._detector = detector

    @property
    def detector(self):
        if self._detector is None:
            from fasstream.labels.landmarks import DlibLandmarks

            self._detector = DlibLandmarks()
        return self._detector

    def __call__(self, frames: np.ndarray, box=None) -> np.ndarray | None:
        if box is None:
            points = [self.detector.detect(frame) for frame in frames]
            if any(p is None for p in points):
                return None
            box = face_crop_box(np.mean(points, axis=0), self.crop_scale)
        return np.stack([crop_frame(frame, box, self.size) for frame in frames])
