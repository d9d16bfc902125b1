"""Clip stabilisation: every frame of a face clip warped onto the clip's first by one homography.

A hand-held camera moves the whole scene, and a photo moved by hand moves as one plane; neither
is evidence of life, and a model that reads raw frame differences confuses them with it. Points
of the first frame's face region (the crop's central ellipse) are tracked into every other frame
(pyramidal Lucas-Kanade) and the homography that carries them back is fitted by RANSAC; warping
each frame by it leaves a photo or a screen, however it moves, standing still (up to noise), and
leaves the face's own non-planar motion: 3-D turns (the nose moves against the cheeks), blinks,
speech. Too few points, or a homography that moves the crop's corners by more than
``MAX_CORNER_SHIFT`` of its side (a lost track), leave that frame as it is.
"""
from __future__ import annotations

import cv2
import numpy as np

from fasstream.faces.geometry import RESAMPLING, check_box, check_resample, to_crop

__all__ = ["MAX_CORNER_SHIFT", "clip_homographies", "stabilise_clip", "stabilised_landmarks"]

MAX_CORNER_SHIFT = 0.15
"""Largest corner displacement (fraction of the side) of an accepted homography."""

_MIN_POINTS = 8


def _face_mask(side: int) -> np.ndarray:
    """The central ellipse of a face crop (the face box is 1.3 x the landmarks' extent, centred)."""
    yy, xx = np.mgrid[0:side, 0:side]
    centre = (side - 1) / 2
    return (((xx - centre) / (0.36 * side)) ** 2 + ((yy - centre) / (0.42 * side)) ** 2 < 1).astype(np.uint8)


def clip_homographies(clip: np.ndarray) -> np.ndarray:
    """``clip (T, S, S, 3) uint8`` -> ``(T, 3, 3)`` homographies carrying frame t's pixel coordinates onto frame 0's.

    The identity for frame 0 and for frames whose track is lost. Deterministic: the same clip gives the same output.
    """
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.shape[1] != clip.shape[2] or clip.dtype != np.uint8:
        raise ValueError(f"clip must be (T, S, S, 3) uint8 RGB, got {clip.shape} {clip.dtype}")
    side = clip.shape[1]
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in clip]
    points = cv2.goodFeaturesToTrack(grey[0], 80, 0.01, max(2.0, side / 24), mask=_face_mask(side))
    window = max(7, int(round(side * 0.16)) | 1)
    corners = np.array([[0, 0], [side, 0], [0, side], [side, side]], np.float32).reshape(-1, 1, 2)
    homographies = np.repeat(np.eye(3)[None], len(clip), axis=0)
    for t in range(1, len(clip)):
        if points is None or len(points) < _MIN_POINTS:
            break
        moved, found, _ = cv2.calcOpticalFlowPyrLK(grey[0], grey[t], points, None, winSize=(window, window),
                                                   maxLevel=2)
        ok = found[:, 0] == 1
        if ok.sum() < _MIN_POINTS:
            continue
        hom, _ = cv2.findHomography(moved[ok], points[ok], cv2.RANSAC, 0.01 * side)
        if hom is None or np.abs(cv2.perspectiveTransform(corners, hom) - corners).max() > MAX_CORNER_SHIFT * side:
            continue
        homographies[t] = hom
    return homographies


def stabilise_clip(clip: np.ndarray, resample: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """``clip (T, S, S, 3) uint8`` -> (the clip with frames 1.. warped onto frame 0, their :func:`clip_homographies`).

    The frames are resampled a second time here (``resample``); ``fasstream.data.faceclips.stabilised_crop``
    stabilises a clip cut from a video, sampling each frame once with ``lanczos``.
    """
    homographies, out = clip_homographies(clip), clip.copy()
    flags, side = RESAMPLING[check_resample(resample)], clip.shape[1]
    for t in range(1, len(clip)):
        if not np.array_equal(homographies[t], np.eye(3)):
            out[t] = cv2.warpPerspective(clip[t], homographies[t], (side, side), flags=flags,
                                         borderMode=cv2.BORDER_REFLECT_101)
    return out, homographies


def stabilised_landmarks(landmarks: np.ndarray, homographies: np.ndarray, box, size: int) -> np.ndarray:
    """Frame landmarks ``(T, K, 2)`` of a clip cropped with ``box`` at ``size``, moved as
    :func:`stabilise_clip` moved its frames (still in frame coordinates)."""
    x0, y0, side = check_box(box)
    scale = size / side
    out = np.empty_like(np.asarray(landmarks, np.float64))
    for t, (points, hom) in enumerate(zip(landmarks, homographies)):
        crop = to_crop(points, box, size).reshape(-1, 1, 2)
        moved = cv2.perspectiveTransform(crop, np.asarray(hom, np.float64)).reshape(-1, 2)
        out[t] = (moved + 0.5) / scale + (x0 - 0.5, y0 - 0.5)
    return out
