"""Face clips of a video: the non-overlapping 4-frame clips, each cropped with one face box.

Shared by training, evaluation, ``fasstream verify`` and the streaming workers, so that every
path crops faces the same way: one square box per clip, fitted to the mean landmarks of its
4 frames (docs/CONTRACTS.md), so the face does not jitter inside a clip.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, clip_starts
from fasstream.labels.maps import crop_frame, face_crop_box

__all__ = ["ClipWindow", "clip_windows", "crop_clip"]


@dataclass(frozen=True)
class ClipWindow:
    """One clip: its raw frame indices (4,), their landmarks (4, 68, 2) and the crop box (x0, y0, size)."""

    frames: np.ndarray
    landmarks: np.ndarray
    box: tuple[float, float, float]


def clip_windows(landmarks: np.ndarray, crop_scale: float = 1.3, max_clips: int = 0) -> list[ClipWindow]:
    """The clips of a video whose per-frame landmarks (N, 68, 2) are known (NaN rows: no face).

    Clips with a faceless frame are left out. ``max_clips`` > 0 keeps that many, evenly spaced.
    Raises ValueError when the video is too short for one clip.
    """
    starts = clip_starts(len(landmarks))
    if max_clips:
        keep = np.linspace(0, len(starts) - 1, min(max_clips, len(starts)))
        starts = [starts[i] for i in np.unique(np.round(keep).astype(int))]
    windows = []
    for start in starts:
        idx = start + CLIP_INTERVAL * np.arange(CLIP_LENGTH)
        pts = landmarks[idx]
        if np.isfinite(pts).all():
            windows.append(ClipWindow(idx, pts, face_crop_box(pts.mean(0), crop_scale)))
    return windows


def crop_clip(frames: np.ndarray, window: ClipWindow, size: int = 256) -> np.ndarray:
    """The clip's frames cropped to its box: (4, size, size, 3) uint8."""
    return np.stack([crop_frame(frames[i], window.box, size) for i in window.frames])
