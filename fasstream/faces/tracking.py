"""Per-session face tracks: a crop box for every clip, detecting on some frames and tracking between.

For each clip (4 frames) of a session, in order:

1. the first frame is re-placed from the track's last face with the detector's cheap ``refine``
   (MTCNN: O-Net alone on a 48x48 crop) unless the track is new, lost, or ``redetect_every`` clips
   old; otherwise (or when ``refine`` loses the face) the full detector runs on it;
2. the clip's other frames are refined from the first frame's face (all in one batch);
3. the clip's box is the calibration's ``clip_box`` of its frames' faces (the training crop rule);
   a clip whose first frame shows no face has none.

A track made with a fixed ``box`` (a client's face box) returns that box for every clip and runs
no detector. ``boxes`` takes the clips of many sessions at once and batches each step across them
(one clip per session per call: a session's clips must come in order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fasstream.faces.calibration import CropCalibration
from fasstream.faces.detectors import Detection, FaceDetector
from fasstream.faces.geometry import Box, check_box

__all__ = ["REDETECT_EVERY", "FaceTracker", "Track"]

REDETECT_EVERY = 8
"""Clips between full detections when a stage file does not say (docs/faces.md: why 8)."""


@dataclass(eq=False)
class Track:
    """One session's (or video's) face: the last detection and counts of what the tracker did."""

    key: object = None               # the video, for detectors that look faces up (precomputed)
    box: Box | None = None           # a fixed crop box (client-sent): no detection
    last: Detection | None = None
    age: int = 0                     # clips since the last full detection
    counts: dict = field(default_factory=lambda: dict.fromkeys(("detected", "tracked", "lost", "faceless"), 0))


class FaceTracker:
    """Crop boxes of clips with ``detector`` and ``calibration`` at ``crop_scale`` (the model's)."""

    def __init__(self, detector: FaceDetector, calibration: CropCalibration | None = None, crop_scale: float = 1.3,
                 redetect_every: int = REDETECT_EVERY):
        if redetect_every < 1:
            raise ValueError(f"redetect_every must be >= 1 clip, got {redetect_every}")
        self.detector, self.crop_scale, self.redetect_every = detector, float(crop_scale), int(redetect_every)
        self.calibration = calibration
        if calibration is None and detector.points == 68:
            self.calibration = CropCalibration("landmarks")

    def track(self, key=None, box=None) -> Track:
        """A new track; ``box`` (x0, y0, side) fixes every clip's crop box."""
        return Track(key=key, box=None if box is None else check_box(box))

    def boxes(self, items: Sequence[tuple[Track, np.ndarray, Sequence[int] | None]]) -> list[Box | None]:
        """Crop boxes of clips ``(track, frames (T, H, W, 3) uint8, raw frame indices or None)``, one per track."""
        if self.calibration is None:
            raise ValueError(f"the {self.detector.name} detector gives {self.detector.points} landmarks, not 68: "
                             "its boxes need a fitted calibration (pipelines/faces/<detector>.json)")
        faces = self.faces(items)
        out: list[Box | None] = []
        for (t, _, _), dets in zip(items, faces):
            box = t.box if t.box is not None else self.calibration.clip_box(dets, self.crop_scale)
            if box is None:
                t.counts["faceless"] += 1
            out.append(box)
        return out

    def faces(self, items: Sequence[tuple[Track, np.ndarray, Sequence[int] | None]]) -> list[list[Detection | None]]:
        """Each clip's per-frame faces (step 1 and 2 of the module docstring); fixed-box tracks get []."""
        if len({id(t) for t, _, _ in items}) != len(items):
            raise ValueError("boxes takes one clip per track per call (a track's clips must be placed in order)")
        keys = [None if idx is None else [(t.key, int(i)) for i in idx] for t, _, idx in items]
        key_of = (lambda i, k: keys[i][k] if keys[i] is not None else None)
        first: list[Detection | None] = [None] * len(items)
        live = [i for i, (t, _, _) in enumerate(items) if t.box is None]
        tracked = [i for i in live if items[i][0].last is not None and items[i][0].age < self.redetect_every]
        if tracked:
            found = self.detector.refine([items[i][1][0] for i in tracked], [items[i][0].last for i in tracked],
                                         self._keys([key_of(i, 0) for i in tracked]))
            for i, det in zip(tracked, found):
                first[i] = det
                items[i][0].counts["tracked" if det is not None else "lost"] += 1
        fresh = [i for i in live if first[i] is None]
        if fresh:
            found = self.detector.detect([items[i][1][0] for i in fresh], self._keys([key_of(i, 0) for i in fresh]))
            for i, det in zip(fresh, found):
                first[i] = det
                if det is not None:
                    items[i][0].counts["detected"] += 1
                    items[i][0].age = 0
        rest = [(i, k) for i in live if first[i] is not None for k in range(1, len(items[i][1]))]
        found = self.detector.refine([items[i][1][k] for i, k in rest], [first[i] for i, _ in rest],
                                     self._keys([key_of(i, k) for i, k in rest])) if rest else []
        per_clip: dict[int, list] = {i: [first[i]] for i in live}
        for (i, _), det in zip(rest, found):
            per_clip[i].append(det)
        for i in live:
            t, found_here = items[i][0], [d for d in per_clip[i] if d is not None]
            t.last = found_here[-1] if found_here else None
            t.age += 1
        return [per_clip.get(i, []) for i in range(len(items))]

    @staticmethod
    def _keys(keys: list):
        return None if any(k is None for k in keys) else keys
