"""One shape of the FCAM gate timed alone on CPU: op vs eager reference vs torch.compile of it.

    python benchmarks/bench_gate_alone.py --batch 4     # C=64, H=W=64, T=4, fp32 (--dtype bfloat16)

The contenders run in interleaved rounds (each round calls every one of them a few times), so a
noisy neighbour slows them alike; min and median per call are printed, with the bandwidth floor
of the forward+backward (5 feat-sized tensors moved, at the speed of a copy of that size in cache
state like the op's). No other large allocation happens in the process.
"""
import argparse
import statistics
import time

import torch

from fasstream.ops import diirf_gate, reference


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile of the reference")
    args = ap.parse_args()
    B, T, C, S = args.batch, args.frames, args.channels, args.size
    dtype = getattr(torch, args.dtype)
    feat = torch.randn(B, T, C, S, S, dtype=dtype, requires_grad=True)
    logits = torch.randn(B, T, 1, S, S, dtype=dtype, requires_grad=True)
    coeffs = torch.tensor([0.5, 0.3, 0.2, -0.4, 0.1], requires_grad=True)
    grad = torch.randn_like(feat)
    src = feat.detach()

    def fwd_bwd(fn):
        return lambda: torch.autograd.grad(fn(feat, logits, coeffs), (feat, logits, coeffs), grad)

    def forward(fn):
        def run():
            with torch.no_grad():
                fn(feat, logits, coeffs)
        return run

    cases = {"op fwd": forward(diirf_gate), "op fwd+bwd": fwd_bwd(diirf_gate),
             "eager fwd": forward(reference.diirf_gate), "eager fwd+bwd": fwd_bwd(reference.diirf_gate),
             "copy": src.clone}
    if not args.no_compile:
        compiled = torch.compile(reference.diirf_gate)
        cases.update({"compile fwd": forward(compiled), "compile fwd+bwd": fwd_bwd(compiled)})
    times = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            fn()  # warm: the first call of a round may meet a cold cache or fresh pages
            for _ in range(3):
                tic = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - tic) * 1e3)
    best = {name: min(t) for name, t in times.items()}
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"B={B} T={T} C={C} H=W={S} {args.dtype}, {torch.get_num_threads()} threads, {args.rounds} rounds (ms, min / median)")
    for name in cases:
        print(f"  {name:16s} {best[name]:8.3f} / {med[name]:8.3f}")
    floor = 2.5 * best["copy"]  # a copy moves 2 feat-sized tensors; forward+backward moves 5
    print(f"  floor fwd+bwd    {floor:8.3f}")
    for other in ("eager", "compile"):
        if f"{other} fwd+bwd" in best:
            print(f"  {other}/op fwd+bwd: {best[f'{other} fwd+bwd'] / best['op fwd+bwd']:.2f}x (min), "
                  f"{med[f'{other} fwd+bwd'] / med['op fwd+bwd']:.2f}x (median)")
    print(f"  op fwd+bwd / floor: {best['op fwd+bwd'] / floor:.2f}x (min)")


if __name__ == "__main__":
    main()
