"""CDCN-style building blocks of EulerNet's per-frame backbone and head.

CDCN (Yu et al., CVPR 2020) replaces plain 3x3 convolutions by central difference convolutions
(CDC): ``theta * (conv of centred differences) + (1 - theta) * (plain conv)``. That equals a plain
convolution whose centre tap is lowered by ``theta`` times the kernel's sum, so :class:`CDConv2d`
builds that kernel once per call and runs one ordinary convolution: CDC costs no extra FLOPs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CDC_THETA = 0.7
"""CDCN's mixing weight between the central-difference and the plain convolution."""


class CDConv2d(nn.Conv2d):
    """3x3 central difference convolution (stride 1, padding 1, no bias) with weight ``theta``."""

    def __init__(self, cin: int, cout: int, theta: float = CDC_THETA):
        super().__init__(cin, cout, 3, padding=1, bias=False)
        self.theta = theta
        centre = torch.zeros(1, 1, 3, 3)
        centre[..., 1, 1] = 1.0
        self.register_buffer("centre", centre, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        kernel = w - self.theta * w.sum(dim=(2, 3), keepdim=True) * self.centre
        return F.conv2d(x, kernel, padding=1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, theta={self.theta}"


def cdc_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """CDC 3x3, BatchNorm and ReLU: CDCN's basic unit."""
    return nn.Sequential(CDConv2d(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Level(nn.Sequential):
    """One backbone level on frames (N, C, H, W): CDC units, then 2x2 max pooling (halves the resolution).

    ``units=3`` mirrors a CDCN block, cin -> width -> hidden -> width (128 -> 196 -> 128 there);
    ``units=2`` is cin -> hidden -> width and ``units=1`` is cin -> width, for cheap models.
    """

    def __init__(self, cin: int, width: int, hidden: int, units: int = 3):
        chain = {1: (cin, width), 2: (cin, hidden, width), 3: (cin, width, hidden, width)}.get(units)
        if chain is None:
            raise ValueError(f"a level has 1, 2 or 3 CDC units; got units={units!r}.")
        super().__init__(*(cdc_bn_relu(a, b) for a, b in zip(chain, chain[1:])), nn.MaxPool2d(2))
