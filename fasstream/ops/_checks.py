"""Input checks of the DIIRF ops for fake (meta) tensors, worded like the C++ checks.

The compiled kernels check their inputs in ``csrc/diirf.cpp``; these run when the ops are
traced (``torch.compile``, ``opcheck``), where the C++ code is not called, so a wrong input
fails while tracing with the same message instead of deep inside a compiled graph.
"""
from __future__ import annotations

import torch


def _fail(op: str, msg: str) -> None:
    raise RuntimeError(f"{op}: {msg}")


def _floating(t: torch.Tensor, op: str, name: str) -> None:
    if not t.dtype.is_floating_point:
        _fail(op, f"{name} has dtype {t.dtype}; expected float16, bfloat16, float32 or float64. "
                  f"Fix: cast {name} with .float().")


def _same_device(t: torch.Tensor, ref: torch.Tensor, op: str, name: str, ref_name: str) -> None:
    if t.device != ref.device:
        _fail(op, f"{name} is on {t.device} but {ref_name} is on {ref.device}. "
                  f"Fix: move all inputs to one device, e.g. {name}.to({ref_name}.device).")


def _coeffs(coeffs: torch.Tensor, channels: int, op: str, what: str) -> None:
    _floating(coeffs, op, "coeffs")
    shape = tuple(coeffs.shape)
    flat = shape == (5,)
    rows = len(shape) == 2 and shape[1] == 5 and shape[0] in (1, channels)
    if not (flat or rows):
        _fail(op, f"coeffs must hold the 5 filter values (b0, b1, b2, a1, a2): shape (5,), or ({channels}, 5) "
                  f"for one filter per channel of {what}; got shape {list(shape)}.")


def _time(t: torch.Tensor, op: str, name: str) -> None:
    if t.shape[1] < 1:
        _fail(op, f"{name} has T = 0 time steps (shape {list(t.shape)}); the filter needs at least one frame.")


def check_gate(feat: torch.Tensor, logits: torch.Tensor, coeffs: torch.Tensor, op: str = "diirf_gate") -> None:
    """Raise a RuntimeError naming the argument if the gate's inputs do not fit together."""
    if feat.dim() != 5:
        _fail(op, f"feat must be 5-D (B, T, C, H, W); got shape {list(feat.shape)}. "
                  "Fix: stack frames as (batch, time, channels, height, width).")
    if logits.dim() != 5:
        _fail(op, f"logits must be 5-D (B, T, 1, H, W); got shape {list(logits.shape)}.")
    _floating(feat, op, "feat")
    _floating(logits, op, "logits")
    _same_device(logits, feat, op, "logits", "feat")
    _same_device(coeffs, feat, op, "coeffs", "feat")
    B, T, C, H, W = feat.shape
    if (logits.shape[0], logits.shape[1], logits.shape[3], logits.shape[4]) != (B, T, H, W):
        _fail(op, f"logits must have shape (B, T, 1, H, W) = ({B}, {T}, 1, {H}, {W}) to match feat of shape "
                  f"{list(feat.shape)}; got {list(logits.shape)}.")
    if C < 1:
        _fail(op, f"feat has C = 0 channels (shape {list(feat.shape)}).")
    L = logits.shape[2]
    per_channel = coeffs.dim() == 2 and coeffs.shape[0] == C and C > 1
    if not (L == 1 or (L == C and per_channel)):
        _fail(op, f"logits must have 1 channel (B, T, 1, H, W), the map made by FCAM's Conv3x3; got {L} channels "
                  f"(shape {list(logits.shape)}). Per-channel gating needs logits with C = {C} channels and "
                  f"coeffs of shape ({C}, 5).")
    _coeffs(coeffs, L, op, "logits")
    _time(feat, op, "feat")


def check_filter(x: torch.Tensor, coeffs: torch.Tensor, op: str = "diirf") -> None:
    """Raise a RuntimeError naming the argument if the filter's inputs do not fit together."""
    if x.dim() != 5:
        _fail(op, f"x must be 5-D (B, T, C, H, W); got shape {list(x.shape)}. "
                  "Fix: stack frames as (batch, time, channels, height, width).")
    _floating(x, op, "x")
    _same_device(coeffs, x, op, "coeffs", "x")
    _coeffs(coeffs, x.shape[2], op, "x")
    _time(x, op, "x")


def check_grad(grad: torch.Tensor, like: torch.Tensor, op: str, name: str) -> None:
    """Raise if an incoming gradient does not match the op's output."""
    if grad.shape != like.shape:
        _fail(op, f"{name} must have the output's shape {list(like.shape)}; got {list(grad.shape)}.")
    _floating(grad, op, name)
    _same_device(grad, like, op, name, "the input")
