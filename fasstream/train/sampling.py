"""Class-balanced clip sampling: every epoch draws live and attack clips equally often."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

__all__ = ["BalancedSampler"]


class BalancedSampler(Sampler[int]):
    """``len(live)`` draws per epoch (with replacement), half live clips and half attack clips.

    Under DDP each of ``replicas`` processes takes every ``replicas``-th draw from offset ``rank``
    of the same seeded sequence; :meth:`set_epoch` reseeds it, like ``DistributedSampler``.
    """

    def __init__(self, live: Sequence[bool], replicas: int = 1, rank: int = 0, seed: int = 0):
        flags = torch.as_tensor(list(live), dtype=torch.bool)
        if flags.all() or not flags.any():
            raise ValueError("balanced sampling needs live and attack clips in the train split. "
                             "Fix: add both, or set data.balance: false.")
        self.live_idx, self.attack_idx = flags.nonzero()[:, 0], (~flags).nonzero()[:, 0]
        self.replicas, self.rank, self.seed, self.epoch = replicas, rank, seed, 0
        self.total = len(flags) - len(flags) % replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.total // self.replicas

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        pick_live = torch.rand(self.total, generator=gen) < 0.5
        live = self.live_idx[torch.randint(len(self.live_idx), (self.total,), generator=gen)]
        attack = self.attack_idx[torch.randint(len(self.attack_idx), (self.total,), generator=gen)]
        order = torch.where(pick_live, live, attack)
        return iter(order[self.rank::self.replicas].tolist())
