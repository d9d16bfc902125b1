"""Face clips of a video: the non-overlapping 4-frame clips, each cropped with one face box.

Shared by training, evaluation, ``fasstream verify`` and ``explain``, so that every path crops
faces the same way: one square box per clip (docs/CONTRACTS.md), so the face does not jitter
inside a clip. With exact landmarks the box is fitted to the mean landmarks of its 4 frames (the
training crop); otherwise a face tracker (``fasstream.faces``) places it, calibrated to that crop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, clip_starts
from fasstream.faces.geometry import crop_frame, face_crop_box
from fasstream.faces.stabilise import clip_homographies, stabilise_clip
from fasstream.faces.tracking import FaceTracker

__all__ = ["ClipWindow", "clip_window", "clip_windows", "crop_clip", "stabilised_crop", "tracked_windows"]


@dataclass(frozen=True)
class ClipWindow:
    """One clip: its raw frame indices (4,), the crop box (x0, y0, size) and its landmarks (4, 68, 2) if known."""

    frames: np.ndarray
    box: tuple[float, float, float]
    landmarks: np.ndarray | None = None


def _starts(n_frames: int, max_clips: int) -> list[int]:
    starts = clip_starts(n_frames)
    if max_clips:
        keep = np.linspace(0, len(starts) - 1, min(max_clips, len(starts)))
        starts = [starts[i] for i in np.unique(np.round(keep).astype(int))]
    return starts


def clip_windows(landmarks: np.ndarray, crop_scale: float = 1.3, max_clips: int = 0) -> list[ClipWindow]:
    """The clips of a video whose per-frame landmarks (N, 68, 2) are known (NaN rows: no face).

    Clips with a faceless frame are left out. ``max_clips`` > 0 keeps that many, evenly spaced.
    Raises ValueError when the video is too short for one clip.
    """
    windows = [clip_window(landmarks, start, crop_scale) for start in _starts(len(landmarks), max_clips)]
    return [w for w in windows if w is not None]


def clip_window(landmarks: np.ndarray, start: int, crop_scale: float = 1.3,
                interval: int = CLIP_INTERVAL) -> ClipWindow | None:
    """The clip of frames ``start, start + interval, ...`` (4) boxed by its mean landmarks; None when it
    runs past the video or a frame has no face."""
    idx = start + interval * np.arange(CLIP_LENGTH)
    if idx[-1] >= len(landmarks):
        return None
    pts = landmarks[idx]
    return ClipWindow(idx, face_crop_box(pts.mean(0), crop_scale), pts) if np.isfinite(pts).all() else None


def tracked_windows(frames: np.ndarray, tracker: FaceTracker, key=None, max_clips: int = 0) -> list[ClipWindow]:
    """The clips of a decoded video ``frames (N, H, W, 3)`` placed by ``tracker``, in order, as a worker does.

    ``key`` names the video for trackers that look faces up (precomputed landmarks). Clips without
    a face are left out; raises ValueError when the video is too short for one clip.
    """
    track, windows = tracker.track(key), []
    for start in _starts(len(frames), max_clips):
        idx = start + CLIP_INTERVAL * np.arange(CLIP_LENGTH)
        box = tracker.boxes([(track, frames[idx], idx)])[0]
        if box is not None:
            windows.append(ClipWindow(idx, box))
    return windows


def crop_clip(frames: np.ndarray, window: ClipWindow, size: int = 256, stabilise: bool = False,
              resample: str = "linear") -> np.ndarray:
    """The clip's frames cropped to its box: (4, size, size, 3) uint8, sampled by ``resample``
    (``fasstream.faces.geometry.RESAMPLING``); ``stabilise``: see :func:`stabilised_crop`."""
    if stabilise:
        return stabilised_crop(frames, window, size, resample)[0]
    return np.stack([crop_frame(frames[i], window.box, size, resample=resample) for i in window.frames])


def stabilised_crop(frames: np.ndarray, window: ClipWindow, size: int = 256,
                    resample: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """The clip's crop with its frames warped onto the first (``fasstream.faces.stabilise``), and the
    homographies (4, 3, 3) on crop pixels, as for a model trained with ``data.stabilise``.

    ``lanczos`` samples every frame once from the video, through the box and its homography; ``linear``
    (the committed model) warps the bilinear crop a second time, which blurs each moved frame by as much
    as its sub-pixel motion says, and so leaves a still clip sharper over time than a moving one.
    """
    clip = np.stack([crop_frame(frames[i], window.box, size, resample=resample) for i in window.frames])
    if resample == "linear":
        return stabilise_clip(clip, resample)
    homographies = clip_homographies(clip)
    for t, (i, hom) in enumerate(zip(window.frames, homographies)):
        if t and not np.array_equal(hom, np.eye(3)):
            clip[t] = crop_frame(frames[i], window.box, size, resample=resample, warp=hom)
    return clip, homographies
