"""Grad-CAM of EulerNet's clip score at every depth (paper Fig. 8), with forward hooks on the model.

For a layer with activations ``A`` (per frame: C x h x w) and the clip score ``S`` (mean of the
predicted maps; high = live), Grad-CAM (Selvaraju et al., ICCV 2017) weights every channel by its
spatially averaged gradient, ``w_c = mean_hw dS/dA_c``, and keeps ``relu(sum_c w_c A_c)``: where
the features push the score towards "live". The layers are the three backbone levels after their
max pooling and FCAM gate (128, 64 and 32 for a 256 input), and the fused pyramid output (32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fasstream.model import EulerNet, score

LAYERS = ("max pooling 1", "max pooling 2", "max pooling 3", "fusion")


@dataclass
class Explanation:
    """Grad-CAMs ``{layer: (4, h, w)}`` (un-normalised, >= 0), predicted maps ``(4, h, w)`` and the clip score."""

    cams: dict[str, np.ndarray]
    predicted: np.ndarray
    score: float


def explain_clip(model: EulerNet, clip: torch.Tensor) -> Explanation:
    """Grad-CAM of the clip score at :data:`LAYERS`, for one clip ``(4, 3, S, S)`` float RGB in [0, 1]."""
    device = next(model.parameters()).device
    captured: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, inputs, output):
            captured[name] = output
        return hook

    modules = [*model.gates, model.fuse]
    handles = [m.register_forward_hook(keep(name)) for m, name in zip(modules, LAYERS)]
    try:
        with torch.enable_grad():
            maps = model(clip.unsqueeze(0).to(device))
            clip_score = score(maps)[0]
            acts = [captured[name] for name in LAYERS]
            grads = torch.autograd.grad(clip_score, acts)
    finally:
        for handle in handles:
            handle.remove()
    cams = {}
    for name, act, grad in zip(LAYERS, acts, grads):
        act, grad = act.reshape(-1, *act.shape[-3:]), grad.reshape(-1, *grad.shape[-3:])  # (T, C, h, w)
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cams[name] = torch.relu((weights * act).sum(dim=1)).detach().cpu().numpy()
    return Explanation(cams, maps[0, :, 0].detach().cpu().numpy(), float(clip_score.detach()))
