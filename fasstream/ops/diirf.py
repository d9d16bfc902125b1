"""The compiled DIIRF ops: public functions, fake kernels and autograd.

The ops are defined in C++ (``csrc/diirf.cpp``: schema; ``csrc/cpu``, ``csrc/cuda``: kernels)
and loaded from ``fasstream._C``. Here they get fake kernels for ``torch.compile`` and autograd
formulas that call the backward ops, which recompute the filter output instead of saving it.

Dtypes: feat decides the op's dtype (float16, bfloat16, float32, float64); logits are cast to it,
coeffs stay in their own dtype, and arithmetic runs in float32 (float64 for float64 inputs).
So under bf16 autocast a bf16 ``feat`` stays bf16: the op makes no float32 copy of it.
"""
from __future__ import annotations

import torch

from fasstream.ops import _checks

try:
    from fasstream import _C  # noqa: F401  (registers torch.ops.fasstream.*)
except ImportError as err:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "fasstream's compiled ops (fasstream._C) are not built. Fix: run `pip install --no-build-isolation -e .` "
        "in the repository (FASSTREAM_SKIP_CUDA=1 builds the CPU kernels only)."
    ) from err

__all__ = ["diirf", "diirf_gate"]

_ops = torch.ops.fasstream


def diirf_gate(feat: torch.Tensor, logits: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """FCAM gate ``feat * sigmoid(DIIRF(logits))``.

    feat (B, T, C, H, W); logits (B, T, 1, H, W), or (B, T, C, H, W) with per-channel coeffs;
    coeffs (5,) = (b0, b1, b2, a1, a2), or (C, 5). DIIRF runs along T with zero initial state.
    """
    return _ops.diirf_gate.default(feat, logits, coeffs)


def diirf(x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """DIIRF filter (paper eqs 1-3) of ``x`` (B, T, C, H, W) along T; coeffs (5,) or (C, 5)."""
    return _ops.diirf.default(x, coeffs)


@torch.library.register_fake("fasstream::diirf_gate")
def _gate_fake(feat, logits, coeffs):
    _checks.check_gate(feat, logits, coeffs)
    return torch.empty_like(feat, memory_format=torch.contiguous_format)


@torch.library.register_fake("fasstream::diirf_gate_backward")
def _gate_backward_fake(grad_out, feat, logits, coeffs):
    _checks.check_gate(feat, logits, coeffs, "diirf_gate_backward")
    _checks.check_grad(grad_out, feat, "diirf_gate_backward", "grad_out")
    return (torch.empty_like(feat, memory_format=torch.contiguous_format),
            torch.empty_like(logits, memory_format=torch.contiguous_format),
            torch.empty_like(coeffs))


@torch.library.register_fake("fasstream::diirf")
def _filter_fake(x, coeffs):
    _checks.check_filter(x, coeffs)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.register_fake("fasstream::diirf_backward")
def _filter_backward_fake(grad_y, x, coeffs):
    _checks.check_filter(x, coeffs, "diirf_backward")
    _checks.check_grad(grad_y, x, "diirf_backward", "grad_y")
    return torch.empty_like(x, memory_format=torch.contiguous_format), torch.empty_like(coeffs)


def _save_inputs(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _gate_backward(ctx, grad_out):
    feat, logits, coeffs = ctx.saved_tensors
    grad_feat, grad_logits, grad_coeffs = _ops.diirf_gate_backward.default(grad_out, feat, logits, coeffs)
    need = ctx.needs_input_grad
    return (grad_feat if need[0] else None, grad_logits if need[1] else None, grad_coeffs if need[2] else None)


def _filter_backward(ctx, grad_y):
    x, coeffs = ctx.saved_tensors
    grad_x, grad_coeffs = _ops.diirf_backward.default(grad_y, x, coeffs)
    need = ctx.needs_input_grad
    return grad_x if need[0] else None, grad_coeffs if need[1] else None


torch.library.register_autograd("fasstream::diirf_gate", _gate_backward, setup_context=_save_inputs)
torch.library.register_autograd("fasstream::diirf", _filter_backward, setup_context=_save_inputs)
