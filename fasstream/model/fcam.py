"""Feature-compressed attention module (FCAM, paper §II.A, Fig. 3)."""
from __future__ import annotations

import torch
from torch import nn

from fasstream.ops import diirf_gate

INIT_COEFFS = (1.0, -0.5, 0.0, -0.3, 0.0)
"""Initial DIIRF coefficients (b0, b1, b2, a1, a2): H(z) = (1 - 0.5 z^-1) / (1 - 0.3 z^-1).

A mild high-shelf: constant logits pass with gain 0.5 / 0.7 ~ 0.71 (so the gate is not dead and
starts close to a plain spatial attention), frame-to-frame alternation with gain 1.5 / 1.3 ~ 1.15,
so temporal change is emphasised a little. The poles (0 and 0.3) lie well inside the unit circle.
b2 and a2 start at zero and are learnt like the rest.
"""


class FCAM(nn.Module):
    """Gate clip features (B, T, C, H, W) by ``sigmoid(DIIRF_T(Conv3x3_{C->1}(x)))``, broadcast over channels.

    The 3x3 convolution compresses every frame to one logit map; the DIIRF (eqs 1-3) filters those
    maps along T with 5 learnt coefficients, ``self.coeffs``; the sigmoid gate multiplies the input.
    The filter and the gate run in the fused op ``fasstream.ops.diirf_gate``.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.compress = nn.Conv2d(channels, 1, 3, padding=1)
        self.coeffs = nn.Parameter(torch.tensor(INIT_COEFFS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != self.compress.in_channels:
            raise ValueError(f"FCAM expects features (B, T, {self.compress.in_channels}, H, W); "
                             f"got shape {tuple(x.shape)}. Fix: pass clip features with time on dim 1.")
        B, T = x.shape[:2]
        logits = self.compress(x.flatten(0, 1)).unflatten(0, (B, T))
        return diirf_gate(x, logits, self.coeffs)
