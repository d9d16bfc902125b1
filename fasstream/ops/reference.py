"""Pure-PyTorch reference of the DIIRF filter and the FCAM gate: the executable spec.

DIIRF is the paper's 2nd-order IIR filter (§II.A, eqs 1-3), run along the time axis of
every pixel with a zero initial state:

    y[n]  = b0 * x[n] + h1[n-1]                  (1)
    h1[n] = b1 * x[n] + h2[n-1] - a1 * y[n]      (2)
    h2[n] = b2 * x[n] - a2 * y[n]                (3)

The FCAM gate multiplies the features by the sigmoid of the filtered logits:
``out = feat * sigmoid(DIIRF(logits))``, broadcast over channels.

``coeffs`` holds (b0, b1, b2, a1, a2): shape (5,) for one filter, or (K, 5) for one filter
per channel of the filtered tensor (K equal to its channel count). Everything here is
differentiable by autograd; the compiled kernels in ``fasstream._C`` must match it.
"""
from __future__ import annotations

import torch

__all__ = ["diirf", "diirf_gate"]


def _per_channel(coeffs: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
    """Split coeffs into five tensors that broadcast against a (B, K, H, W) time slice."""
    if coeffs.dim() == 1:
        return tuple(coeffs[i] for i in range(5))
    return tuple(coeffs[:, i].view(1, k, 1, 1) for i in range(5))


def diirf(x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Filter ``x`` (B, T, K, H, W) along T with eqs (1)-(3), zero initial state."""
    b0, b1, b2, a1, a2 = _per_channel(coeffs, x.shape[2])
    h1 = torch.zeros_like(x[:, 0])
    h2 = torch.zeros_like(x[:, 0])
    ys = []
    for n in range(x.shape[1]):
        xn = x[:, n]
        yn = b0 * xn + h1           # (1)
        h1 = b1 * xn + h2 - a1 * yn  # (2)
        h2 = b2 * xn - a2 * yn       # (3)
        ys.append(yn)
    return torch.stack(ys, dim=1)


def diirf_gate(feat: torch.Tensor, logits: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """FCAM gate: ``feat (B, T, C, H, W) * sigmoid(diirf(logits (B, T, 1 or C, H, W)))``."""
    return feat * torch.sigmoid(diirf(logits, coeffs))
