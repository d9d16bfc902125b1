"""Face-box jitter: train on crops placed as a detector places them, not only on the exact landmark box.

``verify`` and ``serve`` crop with a face detector calibrated to the landmark box, which misses it by
a few percent (MTCNN: centre error 4.4% at the median, 7.2% at p95; pipelines/faces/mtcnn.json). A
training clip is therefore stored with a margin (a box ``MARGIN`` times larger or more, at the same
pixel density), and every draw resamples one box for the whole clip, moved by up to ``shift`` of its
side and scaled by up to ``zoom``; the label maps are drawn anew for that box.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fasstream.faces.geometry import Box

__all__ = ["MARGIN", "Offset", "margin_box", "margin_size", "moved_box", "random_box", "reframe"]

MARGIN = 1.25
"""Least side of the stored box relative to the training box: room for shift and zoom."""

Offset = tuple[float, float, float]
"""A face box relative to the training box: centre offset ``(dx, dy)`` in units of its side, side factor ``z``."""


def margin_size(size: int) -> int:
    """Pixels of a margin crop for ``size``-pixel clips: at least ``MARGIN * size``, and 16k pixels more
    than ``size``, so that the training box sits on whole pixels in its middle."""
    return size + 16 * math.ceil((MARGIN - 1) * size / 16)


def margin_box(box: Box, size: int) -> Box:
    """The stored box around the training ``box = (x0, y0, side)`` for ``size``-pixel clips (same centre)."""
    x0, y0, side = box
    grow = margin_size(size) / size
    return x0 - (grow - 1) * side / 2, y0 - (grow - 1) * side / 2, grow * side


def random_box(shift: float, zoom: float) -> Offset:
    """A random face box relative to the training box: centre offset ``(dx, dy)`` in units of its side,
    each up to ``shift``, and side factor ``z`` in ``[1/(1+zoom), 1+zoom]`` (log-uniform)."""
    dx, dy = ((torch.rand(2) * 2 - 1) * shift).tolist()
    return dx, dy, math.exp((float(torch.rand(())) * 2 - 1) * math.log1p(zoom))


def moved_box(box: Box, rel: Offset) -> Box:
    """The training ``box = (x0, y0, side)`` moved by ``rel = (dx, dy, z)`` (see ``random_box``), in frame pixels."""
    (x0, y0, side), (dx, dy, z) = box, rel
    return x0 + side * (dx + (1 - z) / 2), y0 + side * (dy + (1 - z) / 2), side * z


def reframe(clip: torch.Tensor, size: int, rel: Offset) -> torch.Tensor:
    """The face box ``rel`` (see ``random_box``) of a margin crop ``(T, 3, S', S')`` -> ``(T, 3, size, size)``.

    ``(0, 0, 1)`` gives the training box itself, pixel for pixel. Raises ValueError if the box
    leaves the margin crop.
    """
    dx, dy, z = rel
    margin = clip.shape[-1] / size
    if z + 2 * max(abs(dx), abs(dy)) > margin + 1e-6:
        raise ValueError(f"face box {rel} leaves the stored crop (margin {margin:.3f}). "
                         "Fix: lower data.box_shift or data.box_zoom.")
    theta = torch.tensor([[z / margin, 0.0, 2 * dx / margin], [0.0, z / margin, 2 * dy / margin]])
    grid = F.affine_grid(theta.expand(clip.shape[0], 2, 3), [clip.shape[0], clip.shape[1], size, size],
                         align_corners=False)
    return F.grid_sample(clip, grid, mode="bilinear", padding_mode="border", align_corners=False).clamp_(0, 1)
