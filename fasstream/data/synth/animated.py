"""Animated-photo attacks: one still photo of the face made to move by software, shown to the camera.

``animated-warp``: flat print-like tones, the head swung by a head-weighted affine plus a smooth
global warp that also bends the background. ``animated-puppet``: a "photo animation app": the still is
smoothed and colour-quantised (a web animation's palette), the head turns in 3-D (in-face parallax)
on a short ping-pong loop; no blinks, mouth or pulse.
"""
from __future__ import annotations

import cv2
import numpy as np

from fasstream.data.synth.motion import Motion, animate
from fasstream.data.synth.scene import Identity, desaturate


def render_animated_warp(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a flat-toned still swung and warped smoothly."""
    still = desaturate(ident.image.astype(np.float32), rng.uniform(0.15, 0.3))
    still = 0.85 * still + 0.15 * cv2.GaussianBlur(still, (0, 0), 12)  # flatter shading
    black, white = rng.uniform(15, 30), rng.uniform(225, 245)
    still = cv2.GaussianBlur(black + still * (white - black) / 255, (0, 0), 0.8)
    return animate(still, ident.landmarks, rng, n, fps, Motion(head=(4.0, 6.0, 0.02), drift=rng.uniform(1.5, 3.0)))


def render_animated_puppet(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a smoothed, palette-quantised still turning its head on a loop."""
    smooth = cv2.bilateralFilter(ident.image, 7, rng.uniform(20, 40), 5).astype(np.float32)
    levels = int(rng.integers(10, 20))  # per-channel palette, with ordered dithering
    dither = (np.indices(smooth.shape[:2]).sum(0) % 2 - 0.5)[..., None] * (255 / levels) * 0.5
    still = np.round((smooth + dither) / 255 * (levels - 1)) / (levels - 1) * 255
    still = cv2.GaussianBlur(still.astype(np.float32), (0, 0), 0.7)
    motion = Motion(head=(rng.uniform(1.5, 3.5), rng.uniform(2.5, 5.0), rng.uniform(0.008, 0.02)),
                    turn=rng.uniform(2.0, 5.0), loop=rng.uniform(1.0, 2.0))
    return animate(still, ident.landmarks, rng, n, fps, motion)
