"""EulerNet (paper Fig. 2): per-frame CDCN-style backbone, FCAM after each level, fusion, map head."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fasstream.model.backbone import CDConv2d, Level, cdc_bn_relu
from fasstream.model.fcam import FCAM
from fasstream.model.pyramid import LevelConcat, ResidualPyramid

FRAMES = 4
"""Frames per clip (paper §II.A: sequences of length 4, frame interval 3)."""

WIDTHS: dict[str, dict[str, Any]] = {
    # CDCN's widths: a 64-channel stem, blocks of 128 -> 196 -> 128 channels, a 128 -> 64 head.
    "base": {"stem": 64, "levels": ((128, 196, 3), (128, 196, 3), (128, 196, 3)), "head": (128, 64)},
    # A few channels and units per level, so that training on two CPU cores takes minutes: most of
    # the cost is at full resolution, so the first level has a single unit. The stem keeps 8 channels:
    # with 4 the model could not fit phone replays even on train (docs/training.md).
    "tiny": {"stem": 8, "levels": ((8, 8, 1), (12, 16, 2), (16, 24, 2)), "head": (16, 8)},
}
"""Channel presets: ``levels`` holds (width, hidden, CDC units) per level, at 128, 64 and 32 (for 256 input)."""

_CONFIG_KEYS = ("width", "fcam", "pyramid", "size", "skip_first")


class EulerNet(nn.Module):
    """Clips ``(B, 4, 3, size, size)`` float RGB in [0, 1] -> face-position maps ``(B, 4, 1, size/8, size/8)``.

    - Input: scaled to [-1, 1] inside (``2x - 1``), every frame through the same backbone.
    - Backbone (CDCN-like, with central difference convolutions, theta 0.7): a CDC stem at full
      resolution, then three :class:`Level` blocks, each ending in 2x2 max pooling, giving levels at
      size/2, size/4, size/8 (128, 64, 32 for the paper's 256). ``width="base"`` uses CDCN's
      widths (64 stem, 128/196 blocks, about 2.5M parameters); ``width="tiny"`` uses 8/12/16-channel
      levels with fewer units (about 18k parameters).
    - ``fcam``: an :class:`FCAM` after each level, on (B, T, C, H, W); off -> no temporal gating.
    - ``pyramid``: fuse the levels with :class:`ResidualPyramid` (eqs 4-6); off -> :class:`LevelConcat`.
    - Head: CDC 3x3 units down to 1 channel, then a sigmoid, so maps regress the [0, 1] label maps
      under the paper's L2 loss and clip scores lie in [0, 1].

    ``size`` is 256 in the paper; other multiples of 8 are accepted (tests use smaller clips).
    ``skip_first``: predict maps for frames 2-4 only, ``(B, 3, 1, size/8, size/8)``. The DIIRF is
    causal with a zero initial state, so the first frame's gate sees no past: its map can only
    say what one frame says, and on attacks that only time reveals it can only guess. Leaving it out
    keeps that guess out of the loss and the clip score (the backbone still runs on it: it is the
    past of frame 2).
    """

    def __init__(self, width: str = "base", fcam: bool = True, pyramid: bool = True, size: int = 256,
                 skip_first: bool = False):
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {sorted(WIDTHS)}; got {width!r}.")
        if not isinstance(size, int) or size < 8 or size % 8:
            raise ValueError(f"size must be a positive multiple of 8 (the paper uses 256); got {size!r}.")
        self.width, self.fcam, self.pyramid, self.size = width, bool(fcam), bool(pyramid), size
        self.skip_first = bool(skip_first)
        spec = WIDTHS[width]
        widths = tuple(w for w, _, _ in spec["levels"])
        self.stem = cdc_bn_relu(3, spec["stem"])
        cins = (spec["stem"],) + widths[:-1]
        self.levels = nn.ModuleList(Level(cin, *level) for cin, level in zip(cins, spec["levels"]))
        self.gates = nn.ModuleList(FCAM(w) if self.fcam else nn.Identity() for w in widths)
        self.fuse = (ResidualPyramid if self.pyramid else LevelConcat)(widths)
        h1, h2 = spec["head"]
        self.head = nn.Sequential(cdc_bn_relu(self.fuse.out_channels, h1), cdc_bn_relu(h1, h2), CDConv2d(h2, 1),
                                  nn.Sigmoid())

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's arguments; ``EulerNet.from_config(model.config)`` rebuilds the architecture."""
        return {"width": self.width, "fcam": self.fcam, "pyramid": self.pyramid, "size": self.size,
                "skip_first": self.skip_first}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "EulerNet":
        """Build from a config dict (e.g. a checkpoint's); keys other than the model's (``label``...) are ignored."""
        if "width" not in cfg:
            raise ValueError(f"model config needs a 'width' ({' or '.join(sorted(WIDTHS))}); got keys {sorted(cfg)}.")
        return cls(**{k: cfg[k] for k in _CONFIG_KEYS if k in cfg})

    def _check(self, clips: torch.Tensor) -> None:
        s = self.size
        want = (FRAMES, 3, s, s)
        if clips.dim() == 5 and tuple(clips.shape[1:]) == want and clips.dtype.is_floating_point:
            return
        expected = f"clips must be float (B, {FRAMES}, 3, {s}, {s}) RGB in [0, 1]"
        got = f"got shape {tuple(clips.shape)}, dtype {clips.dtype}"
        if clips.dim() != 5:
            fix = "stack frames as (batch, time, channels, height, width)"
        elif clips.shape[1] != FRAMES:
            fix = f"use clips of {FRAMES} frames (raw frames i, i+3, i+6, i+9)"
        elif clips.shape[2] != 3:
            fix = "put the 3 RGB channels on dim 2 (permute (B, T, H, W, 3) with .permute(0, 1, 4, 2, 3))"
        elif tuple(clips.shape[3:]) != (s, s):
            fix = f"crop faces to {s}x{s}, or build the model with EulerNet(size=...)"
        else:
            fix = "convert integer frames with clips.float() / 255"
        raise ValueError(f"{expected}; {got}. Fix: {fix}.")

    @property
    def mapped_frames(self) -> int:
        """How many frames get a map: the last ``mapped_frames`` of the clip's 4."""
        return FRAMES - self.skip_first

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Predict one map per frame: ``(B, 4, 3, size, size)`` -> ``(B, F, 1, size/8, size/8)`` in [0, 1].

        F = :attr:`mapped_frames` (4, or 3 with ``skip_first``: frames 2-4)."""
        self._check(clips)
        B, first = clips.shape[0], FRAMES - self.mapped_frames
        x = self.stem(clips.flatten(0, 1) * 2 - 1)
        feats = []
        for level, gate in zip(self.levels, self.gates):
            x = gate(level(x).unflatten(0, (B, FRAMES)))
            feats.append(x[:, first:].flatten(0, 1))
            x = x.flatten(0, 1)
        return self.head(self.fuse(*feats)).unflatten(0, (B, self.mapped_frames))


def score(maps: torch.Tensor) -> torch.Tensor:
    """Clip scores ``(B,)``: the mean of each clip's predicted maps ``(B, T, 1, h, w)``; high = live."""
    if maps.dim() < 2:
        raise ValueError(f"maps must be (B, T, 1, h, w), one clip per row; got shape {tuple(maps.shape)}.")
    return maps.flatten(1).mean(dim=1)
