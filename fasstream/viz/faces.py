"""The 68 landmarks of a video's face at chosen frames (``magnify``'s skin mask): its ``.npy``, or dlib (opt-in)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fasstream.faces.landmarks import DlibLandmarks, PrecomputedLandmarks


class NoFaceError(ValueError):
    """No face was found where one is needed; the message names the video, the frames and the fix."""


def landmarks_file(video) -> Path:
    """Where precomputed landmarks of ``video`` live: the same name with ``.npy`` (as `fasstream synth` writes)."""
    return Path(video).with_suffix(".npy")


def face_landmarks(video, frames: np.ndarray, indices) -> np.ndarray:
    """Landmarks ``(len(indices), 68, 2)`` of the face at ``frames[indices]`` of ``video``.

    Uses the ``.npy`` file beside the video when there is one (``(N, 68, 2)``, NaN rows for "no face"),
    else dlib's detector on those frames. Raises :class:`NoFaceError` when a frame has no face.
    """
    indices = [int(i) for i in indices]
    source = landmarks_file(video)
    if source.is_file():
        points = PrecomputedLandmarks(source).track(frames)[indices]
        found = np.isfinite(points).all(axis=(1, 2))
    else:
        detector = DlibLandmarks()
        detected = [detector.detect(frames[i]) for i in indices]
        found = np.array([p is not None for p in detected])
        points = np.stack([p if p is not None else np.full((68, 2), np.nan, np.float32) for p in detected])
    if not found.all():
        missing = [i for i, ok in zip(indices, found) if not ok]
        where = f"landmarks in {source}" if source.is_file() else "dlib"
        raise NoFaceError(f"no face found in {video} at frame(s) {missing} ({where}); use a video with a visible, "
                          f"roughly frontal face, or store its landmarks (N, 68, 2) in {source}")
    return points.astype(np.float32)
