"""Attack families and the leave-one-family-out (LOFO) protocol over video records.

A family is an attack's physical model within its species (``VideoRecord.family``). Fold F of
LOFO, the synthetic counterpart of the cross-dataset OCIM protocols: train on the train split's
live videos and attacks of every family but F; choose the epoch and the threshold on the dev split
without F (source-only validation, never the target's EER); test on the test split's live videos
and attacks of F. The splits already keep identities apart.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from .records import VideoRecord

__all__ = ["attack_families", "check_families", "lofo_fold", "without_families"]

LIVE = "live"


def attack_families(records: Iterable[VideoRecord]) -> list[str]:
    """The attack families of ``records``, sorted."""
    return sorted({r.family for r in records if not r.live})


def check_families(known: Sequence[str], names: Iterable[str], what: str) -> None:
    """Raise ValueError unless every one of ``names`` is an attack family in ``known``; ``what`` names the input."""
    for name in names:
        if name == LIVE:
            raise ValueError(f"{what}: 'live' is bona fide, not an attack family. Fix: name attack families, "
                             f"one of {', '.join(known)}")
        if name not in known:
            raise ValueError(f"{what}: no attack family {name!r} in the data. Fix: use one of "
                             f"{', '.join(known) or '(none: the data has no attacks)'}")


def without_families(records: Iterable[VideoRecord], names: Iterable[str]) -> list[VideoRecord]:
    """``records`` less the attacks of the families ``names`` (bona fide videos are kept)."""
    drop = set(names)
    return [r for r in records if r.live or r.family not in drop]


def lofo_fold(records: Iterable[VideoRecord], family: str, split: str) -> list[VideoRecord]:
    """The ``split`` videos of fold ``family``: train and dev keep live videos and the other families'
    attacks, test keeps live videos and the attacks of ``family``.

    Raises ValueError when the fold's split has no live video or no attack (dev: none of another
    family; test: none of ``family``), naming the fold and the fix.
    """
    if split not in ("train", "dev", "test"):
        raise ValueError(f"split must be train, dev or test, got {split!r}")
    mine = [r for r in records if r.split == split]
    if split == "test":
        kept = [r for r in mine if r.live or r.family == family]
        attacks = f"attack of family {family!r}"
    else:
        kept = without_families(mine, [family])
        attacks = f"attack of a family other than {family!r}"
    if not any(r.live for r in kept):
        raise ValueError(f"fold {family}: the {split} split has no live video. Fix: add bona fide {split} videos.")
    if all(r.live for r in kept):
        fix = (f"add {split} videos of {family} or leave {family} out of the folds" if split == "test"
               else f"add {split} attacks of other families, or leave {family} out of the folds")
        raise ValueError(f"fold {family}: the {split} split has no {attacks}. Fix: {fix}.")
    return kept
