"""Synthetic identities (a source face plus an augmentation seed) and indoor backgrounds."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from fasstream.data import faces

FRAME_SIZE = 320
"""Side of the square scene every renderer draws; the camera then frames and resizes it."""


@dataclass(frozen=True)
class Identity:
    """A synthetic subject: a still portrait ``(S, S, 3) uint8`` with its landmarks ``(68, 2)``."""

    name: str
    source: str
    image: np.ndarray
    landmarks: np.ndarray


@functools.lru_cache(maxsize=4)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel x and y coordinates ``(size, size) float32``."""
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return gx, gy


def smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a ``cells`` x ``cells`` random grid upsampled smoothly."""
    coarse = rng.standard_normal((cells, cells, channels)).astype(np.float32)
    fine = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).reshape(size, size, channels)
    return fine / max(float(np.abs(fine).max()), 1e-6)


def wave(rng: np.random.Generator, times: np.ndarray, amplitude: float, low=0.15, high=0.9) -> np.ndarray:
    """Smooth motion: two sinusoids of random frequency (Hz) and phase, peak about ``amplitude``."""
    f1, f2 = rng.uniform(low, high, 2)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    return amplitude * (0.65 * np.sin(2 * np.pi * f1 * times + p1) + 0.35 * np.sin(2 * np.pi * f2 * times + p2))


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A blurred indoor-looking backdrop: colour gradient, soft blotches and a few flat shapes."""
    gx, gy = grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (gx * np.cos(angle) + gy * np.sin(angle)) / size
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    start, end = rng.uniform(30, 220, (2, 3)).astype(np.float32)
    image = start + (end - start) * ramp[..., None] + 18 * smooth_noise(rng, size, 5, 3)
    for _ in range(rng.integers(1, 4)):
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        patch = image[y0:y0 + h, x0:x0 + w]
        patch[:] = 0.4 * patch + 0.6 * rng.uniform(20, 235, 3).astype(np.float32)
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 2.5)


def similarity(centre, angle_deg: float, scale: float, target) -> np.ndarray:
    """2x3 rotation-and-scale about ``centre`` that moves ``centre`` to ``target``."""
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, scale)
    matrix[:, 2] += np.asarray(target, np.float64) - np.asarray(centre, np.float64)
    return matrix


def desaturate(image: np.ndarray, amount: float) -> np.ndarray:
    """Blend float RGB towards its luma by ``amount`` in [0, 1]."""
    return image * (1 - amount) + amount * (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


def make_identity(source: str, seed: int, name: str | None = None, size: int = FRAME_SIZE) -> Identity:
    """Build the portrait of one synthetic subject from a source face and an augmentation seed.

    Flip, scale, tilt, a small smooth warp of the face shape, skin tone, white balance, exposure and
    gamma, and often a new background; every geometric step moves the landmarks too.
    """
    sources = faces.source_faces()
    if source not in sources:
        raise ValueError(f"unknown source face {source!r}; choose one of {sorted(sources)}")
    rng = np.random.default_rng(seed)
    image, points = sources[source]
    if rng.random() < 0.5:
        image, points = faces.flip_face(image, points)
    geo = faces.face_frame(points)
    scale = rng.uniform(0.44, 0.54) * size / geo["width"]
    target = (size / 2 + rng.uniform(-8, 8), size * 0.52 + rng.uniform(-8, 8))
    matrix = similarity(geo["centre"], rng.uniform(-6, 6), scale, target)
    canvas = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    points = faces.project(matrix, points)

    gx, gy = grid(size)  # a small smooth warp changes the face shape a little
    field = rng.uniform(2, 4) * smooth_noise(rng, size, 4, 2)
    map_x, map_y = gx + field[..., 0], gy + field[..., 1]
    canvas = cv2.remap(canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    points = faces.invert_map(map_x, map_y, points)

    skin = faces.head_mask(points, size, blur=10)[..., None]  # skin tone, then white balance and exposure
    tone = rng.uniform(0.72, 1.12) * np.array([1 + rng.uniform(-0.06, 0.08), 1, 1 - rng.uniform(-0.05, 0.1)])
    canvas = canvas * (1 + skin * (tone.astype(np.float32) - 1))
    canvas = canvas * rng.uniform(0.92, 1.08, 3).astype(np.float32) * rng.uniform(0.88, 1.1)
    canvas = 255 * (np.clip(canvas, 0, 255) / 255) ** rng.uniform(0.85, 1.2)
    if rng.random() < 0.7:
        keep = faces.head_mask(points, size, shoulders=True)[..., None]
        canvas = keep * canvas + (1 - keep) * background(rng, size)
    name = name or f"{source}-{seed}"
    return Identity(name, source, np.clip(canvas, 0, 255).astype(np.uint8), points.astype(np.float32))
