"""Temporal hard negatives made from live clips during training, for any dataset.

A live clip turned into a ``still`` (its first frame held, with fresh per-frame noise) or a ``rigid``
clip (its first frame moved as a plane: pan, zoom, roll) keeps every single frame live-looking, so
only the frames' relation in time says "attack": the label becomes the attack map (all zeros).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["freeze_clip", "rigid_clip"]


def _noise(clip: torch.Tensor, max_sigma: float) -> torch.Tensor:
    sigma = torch.rand(()) * max_sigma
    return (clip + sigma * torch.randn_like(clip)).clamp_(0, 1)


def freeze_clip(clip: torch.Tensor, max_sigma: float = 2.5 / 255) -> torch.Tensor:
    """``(T, 3, H, W)`` -> its first frame held for T frames, plus Gaussian noise of sigma up to ``max_sigma``."""
    return _noise(clip[:1].expand_as(clip).clone(), max_sigma)


def rigid_clip(clip: torch.Tensor, shift: float = 0.04, zoom: float = 0.03, roll: float = 2.0,
               max_sigma: float = 2.5 / 255) -> torch.Tensor:
    """``(T, 3, H, W)`` -> its first frame moved as a plane along a random straight path, plus noise.

    Per frame t of T: translation up to ``shift`` (fraction of the side), relative scale up to
    ``zoom`` and rotation up to ``roll`` degrees at the last frame, linear in t; the frame is zoomed
    in by ``zoom + shift`` first, so its border never shows.
    """
    T = clip.shape[0]
    end = (torch.rand(4) * 2 - 1) * torch.tensor([shift, shift, zoom, math.radians(roll)])
    steps = torch.linspace(0, 1, T)[:, None] * end  # (T, 4): dx, dy, dscale, angle
    scale = 1 / (1 + zoom + shift + steps[:, 2])
    cos, sin = torch.cos(steps[:, 3]) * scale, torch.sin(steps[:, 3]) * scale
    theta = torch.stack([torch.stack([cos, -sin, steps[:, 0] * 2], 1), torch.stack([sin, cos, steps[:, 1] * 2], 1)], 1)
    first = clip[:1].expand(T, -1, -1, -1)
    grid = F.affine_grid(theta, list(first.shape), align_corners=False)
    return _noise(F.grid_sample(first, grid, mode="bilinear", padding_mode="reflection", align_corners=False),
                  max_sigma)
