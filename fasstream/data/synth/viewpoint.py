"""Where a plane is seen from: rotations, pinhole homographies, and the smooth path of a moving viewpoint.

Shared by the attacks that move a flat picture (``rigid-*``, prints, replays), by the capture chain
(``synth.camera``), whose hand-held cameras move the same way for every species, and by the posed
head of ``live-mesh`` (``synth.mesh``).
"""
from __future__ import annotations

import numpy as np

from fasstream.data.synth.scene import wave


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix of angles in degrees: roll after yaw after pitch (x right, y down, z along the view)."""
    ry, rx, rz = np.radians([yaw, pitch, roll])
    rot_y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    rot_z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


def pose_homography(plane: tuple[int, int], size: int, scale: float, offset, yaw: float, pitch: float,
                    roll: float) -> np.ndarray:
    """Homography of a planar object ``plane`` = (w, h) px seen by a pinhole camera, angles in degrees."""
    focal = 1.2 * size
    rot = rotation(yaw, pitch, roll)
    depth = focal / scale
    shift = np.array([offset[0] * depth / focal, offset[1] * depth / focal, depth])
    camera = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])
    centre = np.array([[1, 0, -plane[0] / 2], [0, 1, -plane[1] / 2], [0, 0, 1]])
    return camera @ np.column_stack([rot[:, 0], rot[:, 1], shift]) @ centre


def camera_path(rng: np.random.Generator, n: int, fps: float, amount: float) -> dict[str, np.ndarray]:
    """Smooth pan (px), roll and tilt (degrees), zoom (relative) and a faster shake of a moving viewpoint.

    ``amount`` scales every motion (1: pans of about 4 px and tilts of about 4 degrees on a 320 px scene).
    """
    times = np.arange(n) / fps
    trend = rng.uniform(-0.06, 0.08) * times / max(times[-1], 1e-6)  # a slow zoom in or out
    shake_hz = rng.uniform(3, 8)
    shake = rng.uniform(0.2, 1.0) * amount
    return {
        "x": wave(rng, times, 4.0 * amount) + shake * np.sin(2 * np.pi * shake_hz * times + rng.uniform(0, 6.3)),
        "y": wave(rng, times, 4.0 * amount) + shake * np.cos(2 * np.pi * shake_hz * times + rng.uniform(0, 6.3)),
        "roll": wave(rng, times, 2.0 * amount),
        "yaw": wave(rng, times, 4.0 * amount), "pitch": wave(rng, times, 4.0 * amount),
        "zoom": 1 + trend + wave(rng, times, 0.015 * amount),
    }
