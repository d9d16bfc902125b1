"""Fusion of the three backbone levels into one 32x32 map: Residual Pyramid (eqs 4-6) and its ablation.

Both take per-frame features ``f128 (N, C1, 4s, 4s)``, ``f64 (N, C2, 2s, 2s)``, ``f32 (N, C3, s, s)``
and return ``(N, out_channels, s, s)`` with ``out_channels = C1 + C2 + C3``. Upsampling is bilinear;
downsampling is average pooling to the coarsest size (exact area averaging for the 4x and 2x
factors, so the fine residuals are low-passed rather than aliased).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _down(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x, like.shape[-2:])


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def _project(cin: int, cout: int) -> nn.Module:
    return nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)


def _conv_bn_relu(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))


class ResidualPyramid(nn.Module):
    """``S128 = Conv(F128 - Up(F64))``, ``S64 = Conv(F64 - Up(F32))``, output ``Concat(Down(S128), Down(S64), F32)``.

    Where two levels differ in width, the coarser one goes through a bias-free 1x1 projection to the
    finer one's width before it is upsampled (the two commute, so projecting at the low resolution is
    cheaper); equal widths use no projection. Conv is 3x3 + BatchNorm + ReLU, keeping the width.
    """

    def __init__(self, widths: tuple[int, int, int]):
        super().__init__()
        c1, c2, c3 = widths
        self.proj64, self.proj32 = _project(c2, c1), _project(c3, c2)
        self.conv128, self.conv64 = _conv_bn_relu(c1), _conv_bn_relu(c2)
        self.out_channels = c1 + c2 + c3

    def forward(self, f128: torch.Tensor, f64: torch.Tensor, f32: torch.Tensor) -> torch.Tensor:
        s128 = self.conv128(f128 - _up(self.proj64(f64), f128))
        s64 = self.conv64(f64 - _up(self.proj32(f32), f64))
        return torch.cat([_down(s128, f32), _down(s64, f32), f32], dim=1)


class LevelConcat(nn.Module):
    """Ablation (Table I, Compare 3): ``Concat(Down(F128), Down(F64), F32)``, no residuals, no parameters."""

    def __init__(self, widths: tuple[int, int, int]):
        super().__init__()
        self.out_channels = sum(widths)

    def forward(self, f128: torch.Tensor, f64: torch.Tensor, f32: torch.Tensor) -> torch.Tensor:
        return torch.cat([_down(f128, f32), _down(f64, f32), f32], dim=1)
