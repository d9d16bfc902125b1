"""EulerNet throughput: clips per second for inference and for a training step, with and without FCAM.

    python benchmarks/bench_model.py                          # CPU: tiny width, batch 4
    python benchmarks/bench_model.py --device cuda            # GPU: tiny and base, batch 16 and 64, bf16 autocast

Inference is what a streaming worker's model batch costs (the ceiling of the GPU stage);
the training step is forward, the L2 map loss, backward and a Ranger update, as in training.
The fcam=off rows show what the three FCAM gates (Conv3x3 + the fused DIIRF gate op) add.
Prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

import torch

from fasstream.model.eulernet import FRAMES, EulerNet
from fasstream.train.ranger import Ranger
from timing import median_ms


def bench(width: str, fcam: bool, batch: int, size: int, device: str, bf16: bool, reps: int) -> dict:
    model = EulerNet(width, fcam=fcam, size=size).to(device)
    clips = torch.rand(batch, FRAMES, 3, size, size, device=device)
    target = torch.rand(batch, FRAMES, 1, size // 8, size // 8, device=device)
    opt = Ranger(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)

    def infer():
        with torch.inference_mode(), autocast:
            model(clips)

    def train_step():
        with autocast:
            loss = torch.nn.functional.mse_loss(model(clips).float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.eval()
    t_infer = median_ms(infer, device, reps) / 1e3
    model.train()
    t_train = median_ms(train_step, device, reps) / 1e3
    return {"width": width, "fcam": fcam, "batch": batch, "size": size, "bf16": bf16,
            "infer_clips_s": batch / t_infer, "train_clips_s": batch / t_train,
            "infer_ms": t_infer * 1e3, "train_ms": t_train * 1e3}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--widths", help="comma-separated presets (default tiny,base on GPU, tiny on CPU)")
    ap.add_argument("--batches", help="comma-separated clips per batch (default 16,64 on GPU, 4 on CPU)")
    ap.add_argument("--size", type=int, default=256, help="crop size (the paper's 256)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--out", default="out/bench_model.json")
    args = ap.parse_args(argv)
    gpu = args.device == "cuda"
    widths = (args.widths or ("tiny,base" if gpu else "tiny")).split(",")
    batches = [int(b) for b in (args.batches or ("16,64" if gpu else "4")).split(",")]
    name = torch.cuda.get_device_name(0) if gpu else f"{platform.processor() or platform.machine()} CPU"
    print(f"device {name}, torch {torch.__version__}, bf16 autocast {gpu}")
    rows = []
    for width in widths:
        for batch in batches:
            for fcam in (True, False):
                rows.append(bench(width, fcam, batch, args.size, args.device, gpu, args.reps))
                r = rows[-1]
                print(f"{width:5s} fcam={'on ' if fcam else 'off'} batch {batch:3d}: inference "
                      f"{r['infer_clips_s']:8.1f} clips/s ({r['infer_ms']:7.2f} ms), training "
                      f"{r['train_clips_s']:7.1f} clips/s ({r['train_ms']:7.2f} ms)", flush=True)
    result = {"date": datetime.date.today().isoformat(), "device": name, "torch": torch.__version__, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
