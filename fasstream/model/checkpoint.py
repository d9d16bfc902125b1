"""Loading and slimming EulerNet checkpoints (docs/CONTRACTS.md: model, config, threshold, metrics, version)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fasstream.model.aggregate import AGGREGATES, check_aggregate
from fasstream.model.eulernet import EulerNet

__all__ = ["CheckpointError", "DEFAULT_MODEL", "export_checkpoint", "load_checkpoint"]

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "pipelines" / "models" / "tiny.pt"  # verify, demo, serve

REQUIRED = ("model", "config", "threshold")
SERVING_KEYS = ("model", "config", "threshold", "metrics", "version", "epoch", "trained_with")


class CheckpointError(ValueError):
    """A file that is not a usable fasstream checkpoint."""


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist. Fix: pass the .pt written by `fasstream train` "
                                "(runs/<name>/best.pt) or the committed pipelines/models/tiny.pt.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {str(err)[:200]}). "
                              "Fix: the file is corrupt or not a torch checkpoint; re-export or re-train it.") from err
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(REQUIRED)} (found {found}). "
                              "Fix: use a checkpoint written by `fasstream train`.")
    return ckpt


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[EulerNet, dict[str, Any]]:
    """The model (eval mode, on ``device``) and the checkpoint's other entries (config, threshold, ...).

    Raises FileNotFoundError for a missing file and CheckpointError, naming the file and the
    problem, for a corrupt file or weights that do not fit the architecture in its config.
    """
    path = Path(path)
    ckpt = _read(path)
    try:
        model = EulerNet.from_config(ckpt["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} has an invalid model config {ckpt['config']!r}: {err}") from err
    expected, weights = model.state_dict(), ckpt["model"]
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong_shape = [k for k in weights if k in expected and expected[k].shape != weights[k].shape]
    if missing or unexpected or wrong_shape:
        shapes = [f"{k} {tuple(weights[k].shape)} in the file, {tuple(expected[k].shape)} here" for k in wrong_shape[:3]]
        fix = (f"it was trained with another version of the {model.width!r} preset (the tiny stem went from 4 to 8 "
               "channels on 2026-12-05): retrain it with this version" if not (missing or unexpected) else
               "its config and weights come from different models; re-export it from the training run")
        raise CheckpointError(
            f"checkpoint {path}: the weights do not fit EulerNet({model.config}) from its config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {shapes}). Fix: {fix}.")
    rule = ckpt["config"].get("aggregate", "mean")
    try:
        check_aggregate(rule)
    except ValueError as err:
        raise CheckpointError(f"checkpoint {path} scores videos by {rule!r}, which this version does not know "
                              f"({', '.join(AGGREGATES)}). Fix: upgrade fasstream, or retrain with a known aggregate.") from err
    model.load_state_dict(weights)
    meta = {k: v for k, v in ckpt.items() if k != "model"}
    return model.to(device).eval(), meta


def export_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write the serving part of a training checkpoint (no optimizer, RNG or history) to ``dst``."""
    ckpt = _read(Path(src))
    load_checkpoint(src)  # refuse to export weights that do not load
    slim = {k: ckpt[k] for k in SERVING_KEYS if k in ckpt}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, dst)
    return dst
