"""Bona fide: a person in front of the camera (head motion with a 3-D turn, blinks, mouth, brows, pulse).

``live`` talks and moves; ``live-calm`` holds still for the camera (a small head motion, blinks, pulse).
"""
from __future__ import annotations

import numpy as np

from fasstream.data.synth.motion import Motion, animate
from fasstream.data.synth.scene import Identity


def live_motion(rng: np.random.Generator) -> Motion:
    """A live subject's motion, drawn per video: never still, never only planar."""
    return Motion(head=(rng.uniform(1.5, 3.5), rng.uniform(2.5, 5.0), rng.uniform(0.008, 0.02)),
                  turn=rng.uniform(2.0, 5.0), expressive=True, pulse=True)


def render_live(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a live video of ``ident``."""
    return animate(ident.image.astype(np.float32), ident.landmarks, rng, n, fps, live_motion(rng))


def calm_motion(rng: np.random.Generator) -> Motion:
    """A subject holding still for the camera: a small head motion and turn, blinks and a pulse, no speech."""
    return Motion(head=(rng.uniform(0.3, 1.5), rng.uniform(0.5, 2.0), rng.uniform(0.002, 0.008)),
                  turn=rng.uniform(0.5, 2.0), expressive=True, speech=False, pulse=True)


def render_live_calm(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a live video of ``ident`` holding still (``calm_motion``)."""
    return animate(ident.image.astype(np.float32), ident.landmarks, rng, n, fps, calm_motion(rng))


def record(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A recording of scene frames, as an attacker replays it: its own sensor noise, quantised to 8 bits."""
    sigma = rng.uniform(1.0, 3.0)
    return [np.clip(np.rint(f + rng.normal(0, sigma, f.shape)), 0, 255).astype(np.float32) for f in frames]
