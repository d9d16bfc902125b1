"""Animated portraits: a still photo moved only by a camera-free zoom and pan (ffmpeg's ``zoompan`` on a
portrait), the animated-photo attack of issue #10, made outside the generator: no face model, no sensor."""
from __future__ import annotations

import cv2
import numpy as np

MOTIONS = {"zoom": (0.0015, 0.0), "fast-zoom": (0.004, 0.0), "pan": (0.0, 0.6), "zoom-and-pan": (0.0015, 0.4)}
"""The four animations: zoom per frame (relative) and horizontal pan per frame (source pixels)."""
SIDE = 320
"""Side of the square output frames, in pixels."""


def animated_portrait(image: np.ndarray, landmarks: np.ndarray, frames: int, zoom_per_frame: float,
                      pan_px: float) -> tuple[np.ndarray, np.ndarray]:
    """``(frames (N, 320, 320, 3) uint8, landmarks (N, 68, 2) float32)`` of ``image`` zoomed about its centre
    from 1.1x by ``zoom_per_frame`` a frame and panned by ``pan_px`` source pixels a frame."""
    h, w = image.shape[:2]
    out, tracks = [], np.empty((frames, len(landmarks), 2), np.float32)
    for i in range(frames):
        z = 1.1 + zoom_per_frame * i
        side_x, side_y = w / z, h / z
        x0, y0 = (w - side_x) / 2 + pan_px * (i - frames / 2), (h - side_y) / 2
        scale = np.float32([[SIDE / side_x, 0, -x0 * SIDE / side_x], [0, SIDE / side_y, -y0 * SIDE / side_y]])
        out.append(cv2.warpAffine(image, scale, (SIDE, SIDE), flags=cv2.INTER_LINEAR))
        tracks[i] = landmarks @ scale[:, :2].T + scale[:, 2]
    return np.stack(out), tracks
