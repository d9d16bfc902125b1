"""Timers shared by the benchmarks (run as scripts from the repository root: ``python benchmarks/x.py``)."""
from __future__ import annotations

import statistics
import time

import torch


def median_ms(fn, device: str, reps: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds, synchronising the GPU around each call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        if device == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - tic) * 1e3)
    return statistics.median(times)


def kernel_ms(fn, device: str, reps: int) -> float:
    """Median time of ``fn()`` in milliseconds: CUDA events via triton's do_bench on a GPU, else wall time."""
    if device == "cuda":
        try:
            from triton.testing import do_bench
            return do_bench(fn, warmup=50, rep=200, return_mode="median")
        except ImportError:
            pass
    return median_ms(fn, device, reps)
