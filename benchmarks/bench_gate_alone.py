"""One shape of the FCAM gate timed alone on CPU: op vs eager reference, forward and forward+backward.

    python benchmarks/bench_gate_alone.py --batch 4     # C=64, H=W=64, T=4, fp32; min of 60 calls

Min of many calls, and no other large allocation in the process, so the allocator's page faults
and noisy neighbours weigh less than in bench_gate.py's table.
"""
import argparse
import time

import torch

from fasstream.ops import diirf_gate, reference


def best_ms(fn, n: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--calls", type=int, default=60)
    args = ap.parse_args()
    B, C, S = args.batch, args.channels, args.size
    feat = torch.randn(B, 4, C, S, S, requires_grad=True)
    logits = torch.randn(B, 4, 1, S, S, requires_grad=True)
    coeffs = torch.tensor([0.5, 0.3, 0.2, -0.4, 0.1], requires_grad=True)
    grad = torch.randn_like(feat)

    def fwd_bwd(fn):
        torch.autograd.grad(fn(feat, logits, coeffs), (feat, logits, coeffs), grad)

    with torch.no_grad():
        op_fwd = best_ms(lambda: diirf_gate(feat, logits, coeffs), args.calls)
    op, eager = best_ms(lambda: fwd_bwd(diirf_gate), args.calls), best_ms(lambda: fwd_bwd(reference.diirf_gate), args.calls)
    print(f"B={B} C={C} H=W={S} T=4 fp32, {torch.get_num_threads()} threads: op fwd {op_fwd:.3f} ms, "
          f"op fwd+bwd {op:.3f} ms, eager fwd+bwd {eager:.3f} ms, eager/op {eager / op:.2f}x")


if __name__ == "__main__":
    main()
