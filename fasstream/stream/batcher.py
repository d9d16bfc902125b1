"""The model stage: a checkpoint loaded once per worker and a dynamic batcher over clips of all sessions.

A batch closes when it holds ``max_batch`` clips or its first clip has waited ``max_delay_ms``; the
model always runs on ``max_batch`` clips (padded), because a different batch size changes a clip's
score in its last digits and a session computed twice (a rebalance) must get the same result.
The forward pass is the training one (EulerNet, then ``score``), under bfloat16 autocast on CUDA
and in float32 on a CPU (``precision``). On a CPU, BatchNorm is folded into the convolutions and
the layout is channels-last (``fold.py``).
"""
from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from fasstream.batching import in_fixed_batches
from fasstream.model import EulerNet, score
from fasstream.model.checkpoint import load_checkpoint
from fasstream.model.fold import cpu_serving_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    model: EulerNet
    threshold: float
    version: str
    crop_scale: float
    stabilise: bool  # clips warped onto their first frame (fasstream.faces.stabilise), as in training
    resample: str  # the crop's interpolation (fasstream.faces.geometry.RESAMPLING), as in training
    aggregate: str  # a session's score from its clips' (fasstream.model.aggregate), as thresholded in training
    device: torch.device
    bf16: bool  # bfloat16 autocast


PRECISIONS = ("auto", "fp32", "bf16")


def load_model(path, device: str = "auto", precision: str = "auto") -> LoadedModel:
    """Load a checkpoint (fasstream.model.checkpoint) for serving; errors name the file and the fix.

    ``precision`` ``auto`` is bfloat16 autocast on CUDA and float32 on a CPU. bfloat16 on a CPU with
    AVX512-BF16 halves the model's time there, but moves clip scores by up to about 5e-3.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}; set batch.precision")
    path = Path(path)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       "cpu" if device == "auto" else device)
    model, meta = load_checkpoint(path, dev)
    if dev.type == "cpu":
        model = cpu_serving_model(model)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return LoadedModel(model=model, threshold=float(meta["threshold"]),
                       version=f"{meta.get('version', 'unversioned')}+{digest}",
                       crop_scale=float(meta["config"].get("crop_scale", 1.3)),
                       stabilise=bool(meta["config"].get("stabilise", False)),
                       resample=meta["config"].get("resample", "linear"),
                       aggregate=meta["config"].get("aggregate", "mean"), device=dev,
                       bf16=precision == "bf16" or (precision == "auto" and dev.type == "cuda"))


@dataclass
class Pending:
    """A cropped clip waiting for the model; ``owner`` is opaque to the batcher."""

    owner: Any
    clip_index: int
    crop: np.ndarray  # (4, S, S, 3) uint8
    enqueued: float


class DynamicBatcher:
    """Runs the model on batches of :class:`Pending` clips on its own thread.

    ``on_batch(items, scores, queue_seconds, model_seconds)`` receives each batch's clip scores.
    """

    def __init__(self, loaded: LoadedModel, on_batch: Callable, max_batch: int = 16, max_delay_ms: float = 20.0):
        if max_batch < 1 or max_delay_ms < 0:
            raise ValueError(f"max_batch must be >= 1 and max_delay_ms >= 0, got {max_batch} and {max_delay_ms}")
        self.loaded, self.on_batch = loaded, on_batch
        self.max_batch, self.max_delay = max_batch, max_delay_ms / 1000
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._thread.start()

    def submit(self, item: Pending) -> None:
        self._queue.put(item)

    def depth(self) -> int:
        return self._queue.qsize()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _collect(self) -> list[Pending]:
        try:
            batch = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = batch[0].enqueued + self.max_delay
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.perf_counter())))
            except queue.Empty:
                break
        return batch

    @torch.inference_mode()
    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Clip scores of ``crops (B, 4, S, S, 3) uint8``, in model calls of exactly ``max_batch`` clips (the
        last zero-padded): a clip's score never depends on how many or which clips share its call."""
        dev = self.loaded.device

        def run(chunk: np.ndarray) -> list[np.ndarray]:
            clips = torch.from_numpy(chunk).to(dev).permute(0, 1, 4, 2, 3).float().div_(255)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.loaded.bf16):
                maps = self.loaded.model(clips)
            return [score(maps.float()).cpu().numpy()]

        return in_fixed_batches(run, crops, self.max_batch)[0]

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._collect()
            if not batch:
                continue
            start = time.perf_counter()
            try:
                scores = self.predict(np.stack([p.crop for p in batch]))
            except Exception:  # a failed batch must not stop the worker: its sessions get an error result
                log.exception("model batch of %d clips failed", len(batch))
                scores = np.full(len(batch), np.nan)
            self.on_batch(batch, scores, [start - p.enqueued for p in batch], time.perf_counter() - start)
