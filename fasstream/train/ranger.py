"""Ranger: RAdam steps wrapped in Lookahead.

Every parameter keeps a slow copy. RAdam moves the fast weights each step; every ``k`` steps the
slow weights move ``alpha`` of the way towards the fast ones and the fast weights restart from
there. The slow copies live in the optimizer state, so ``state_dict``/``load_state_dict``
resume training exactly.
"""
from __future__ import annotations

import torch

__all__ = ["Ranger"]


class Ranger(torch.optim.RAdam):
    """RAdam + Lookahead (k steps, interpolation alpha); betas and eps follow the usual Ranger defaults."""

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.95, 0.999), eps: float = 1e-5,
                 weight_decay: float = 0.0, k: int = 6, alpha: float = 0.5):
        if k < 1:
            raise ValueError(f"Ranger: k={k} must be >= 1 (lookahead period in steps)")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"Ranger: alpha={alpha} must be in (0, 1] (slow-weight step size)")
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        self.defaults.update(k=k, alpha=alpha)  # for groups added later
        for group in self.param_groups:
            group.setdefault("k", k)
            group.setdefault("alpha", alpha)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # RAdam initialises a parameter's state only while it is empty, so the slow copy of a
        # parameter's starting point is taken now and stored after RAdam's first step.
        start = {p: p.detach().clone() for g in self.param_groups for p in g["params"]
                 if p.grad is not None and not self.state.get(p)}
        super().step()
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p, {})
                if p in start:
                    state["slow"] = start[p]
                if "slow" in state and int(state["step"]) % group["k"] == 0:
                    state["slow"].lerp_(p, group["alpha"])
                    p.copy_(state["slow"])
        return loss
