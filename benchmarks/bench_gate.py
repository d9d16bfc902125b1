"""Times the FCAM gate op against the eager reference, torch.compile of the reference and the
memory-bandwidth floor, forward and forward+backward, at the three EulerNet levels.

    python benchmarks/bench_gate.py                 # CPU: B=4, levels at half size (64x64x64 ...)
    python benchmarks/bench_gate.py --device cuda   # GPU: B=16, T=4, the paper's 128/64/32 levels

The floor is the bytes the op must move (forward: read feat and logits, write out; backward:
read grad_out, feat and logits, write grad_feat and grad_logits) over the measured copy bandwidth
(bytes read + written by ``dst.copy_(src)``). Prints a table of times and ratios and writes JSON.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

import torch

from fasstream.ops import diirf_gate, reference
from timing import kernel_ms

LEVELS = [(64, 128, 128), (128, 64, 64), (256, 32, 32)]  # C, H, W after the 256x256 stem
COEFFS = [0.5, 0.3, 0.2, -0.4, 0.1]


def copy_bandwidth(device: str, reps: int) -> float:
    """Bytes per second moved (read + written) by a large device-to-device copy."""
    n = (512 if device == "cuda" else 64) * 1024 * 1024
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    ms = kernel_ms(lambda: dst.copy_(src), device, reps)
    return 2 * n * 4 / (ms * 1e-3)


def graphed(fn):
    """``fn`` captured in a CUDA graph; its replay times the kernels without Python and launch overhead."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def fwd_bwd(fn, feat, logits, coeffs, grad):
    """One forward and backward with gradients for all three inputs."""
    out = fn(feat, logits, coeffs)
    torch.autograd.grad(out, (feat, logits, coeffs), grad)


def bench_case(shape, dtype, device, bandwidth, reps, candidates):
    B, T, C, H, W = shape
    feat = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    logits = torch.randn(B, T, 1, H, W, device=device, dtype=dtype, requires_grad=True)
    coeffs = torch.tensor(COEFFS, device=device, requires_grad=True)
    grad = torch.randn_like(feat)
    n, esz = B * T * H * W, feat.element_size()
    fwd_bytes, bwd_bytes = (2 * C + 1) * n * esz, (3 * C + 2) * n * esz
    row = {"shape": list(shape), "dtype": str(dtype).removeprefix("torch."),
           "floor_fwd_ms": fwd_bytes / bandwidth * 1e3, "floor_fwdbwd_ms": (fwd_bytes + bwd_bytes) / bandwidth * 1e3}
    dst = torch.empty_like(feat, requires_grad=False)
    row["copy_fwd_ms"] = kernel_ms(lambda: dst.copy_(feat.detach()), device, reps)  # feat in, out: the bytes, one pass
    expected = reference.diirf_gate(feat.detach().double(), logits.detach().double(), coeffs.detach().double())
    for name, fn in candidates.items():
        with torch.no_grad():
            out = fn(feat, logits, coeffs)
            row[f"{name}_relerr"] = ((out.double() - expected).norm() / expected.norm()).item()
            row[f"{name}_fwd_ms"] = kernel_ms(lambda: fn(feat, logits, coeffs), device, reps)
        row[f"{name}_fwdbwd_ms"] = kernel_ms(lambda: fwd_bwd(fn, feat, logits, coeffs, grad), device, reps)
    if device == "cuda":
        with torch.no_grad():
            row["graph_fwd_ms"] = kernel_ms(graphed(lambda: diirf_gate(feat, logits, coeffs)), device, reps)
        row["graph_fwdbwd_ms"] = kernel_ms(graphed(lambda: fwd_bwd(diirf_gate, feat, logits, coeffs, grad)), device, reps)
    return row


def print_table(rows):
    cols = ["op_fwd", "graph_fwd", "eager_fwd", "compile_fwd", "copy_fwd", "floor_fwd", "op_fwdbwd", "graph_fwdbwd",
            "eager_fwdbwd", "compile_fwdbwd", "floor_fwdbwd"]
    print(f"{'dtype':9s} {'B x T x C x H x W':20s} " + " ".join(f"{c:>14s}" for c in cols) + "   (ms)")
    for r in rows:
        cells = [r.get(f"{c}_ms", float("nan")) for c in cols]
        print(f"{r['dtype']:9s} {'x'.join(map(str, r['shape'])):20s} " + " ".join(f"{v:14.3f}" for v in cells))
    print("graph: the op captured in a CUDA graph (kernel time without Python and launch overhead); "
          "copy: feat.copy_() of the same size, one pass over the forward's bytes")
    print("\nratios (>1: the op is faster; op/floor: 1 is the bandwidth limit)")
    print(f"{'dtype':9s} {'shape':20s} {'eager/op fwd':>13s} {'compile/op fwd':>15s} {'op/floor fwd':>13s} "
          f"{'eager/op f+b':>13s} {'compile/op f+b':>15s} {'op/floor f+b':>13s}")
    for r in rows:
        f = lambda a, b: r.get(f"{a}_ms", float("nan")) / r[f"{b}_ms"]  # noqa: E731
        print(f"{r['dtype']:9s} {'x'.join(map(str, r['shape'])):20s} {f('eager_fwd', 'op_fwd'):13.2f} "
              f"{f('compile_fwd', 'op_fwd'):15.2f} {f('op_fwd', 'floor_fwd'):13.2f} "
              f"{f('eager_fwdbwd', 'op_fwdbwd'):13.2f} {f('compile_fwdbwd', 'op_fwdbwd'):15.2f} "
              f"{f('op_fwdbwd', 'floor_fwdbwd'):13.2f}")
    if any("graph_fwd_ms" in r for r in rows):
        print(f"\n{'dtype':9s} {'shape':20s} {'copy/floor fwd':>15s} {'graph/floor fwd':>16s} {'graph/floor f+b':>16s}")
        for r in rows:
            print(f"{r['dtype']:9s} {'x'.join(map(str, r['shape'])):20s} {r['copy_fwd_ms'] / r['floor_fwd_ms']:15.2f} "
                  f"{r['graph_fwd_ms'] / r['floor_fwd_ms']:16.2f} {r['graph_fwdbwd_ms'] / r['floor_fwdbwd_ms']:16.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, help="clips per batch (default 16 on GPU, 4 on CPU)")
    ap.add_argument("--time", type=int, default=4, help="frames per clip T")
    ap.add_argument("--scale", type=float, help="spatial scale of the levels (default 1 on GPU, 0.5 on CPU)")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--reps", type=int, default=10, help="timed repetitions on CPU (median)")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile of the reference")
    ap.add_argument("--out", default="out/bench_gate.json", help="JSON results file")
    args = ap.parse_args(argv)

    gpu = args.device == "cuda"
    batch = args.batch or (16 if gpu else 4)
    scale = args.scale or (1.0 if gpu else 0.5)
    shapes = [(batch, args.time, C, int(H * scale), int(W * scale)) for C, H, W in LEVELS]
    candidates = {"op": diirf_gate, "eager": reference.diirf_gate}
    bandwidth = copy_bandwidth(args.device, args.reps)
    device_name = torch.cuda.get_device_name(0) if gpu else f"{platform.processor() or platform.machine()} CPU"
    print(f"device {device_name}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    rows = []
    for dtype in [getattr(torch, d) for d in args.dtypes.split(",")]:
        for shape in shapes:
            if not args.no_compile:  # a fresh compile per case: shapes and grad modes would hit the recompile limit
                torch._dynamo.reset()
                candidates["compile"] = torch.compile(reference.diirf_gate, fullgraph=True, dynamic=False)
            rows.append(bench_case(shape, dtype, args.device, bandwidth, args.reps, candidates))
            print(f"  done {dtype} {shape}", flush=True)
    print_table(rows)
    result = {"date": datetime.date.today().isoformat(), "device": device_name, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "copy_GBps": bandwidth / 1e9, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
