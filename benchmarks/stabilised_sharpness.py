"""Does stabilisation make moved frames blurrier than the first? A check of the crop's resampling.

    python benchmarks/stabilised_sharpness.py --data data/synth-s7/dataset.csv

For videos of one split (``--per-family`` of each family) it crops every clip as a stabilised model
sees it (``fasstream.data.faceclips.stabilised_crop``), once per resampling, and reports the finest
detail (variance of the grey Laplacian) of frames 2-4 relative to frame 1, averaged per family; the row
``held-frame negative`` is the training's ``data.still`` clip made from those live clips (frame 1 held,
with fresh noise: ``fasstream.train.temporal.freeze_clip``). Where moved frames lose detail that a held
frame keeps, "later frames are blurrier" says "something moved" and is a cue a model can learn instead
of the face's own motion. Writes sharpness.json to --out.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from fasstream.data.faceclips import clip_windows, stabilised_crop
from fasstream.data.records import read_layout_csv
from fasstream.data.video import read_video
from fasstream.faces.geometry import RESAMPLING
from fasstream.train.temporal import freeze_clip

HELD = "held-frame negative"


def detail(frame: np.ndarray) -> float:
    """Variance of the Laplacian of the grey frame (H, W, 3) uint8."""
    return float(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).var())


def later_over_first(clip: np.ndarray) -> float:
    """Mean detail of frames 2.. of a clip (T, H, W, 3) over frame 1's."""
    return float(np.mean([detail(f) for f in clip[1:]]) / detail(clip[0]))


def held(clip: np.ndarray) -> np.ndarray:
    """The training's held-frame negative of a live clip (T, H, W, 3) uint8."""
    frozen = freeze_clip(torch.from_numpy(clip).permute(0, 3, 1, 2).float().div(255))
    return (frozen * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="dataset.csv whose videos have landmark .npy files")
    parser.add_argument("--split", default="test")
    parser.add_argument("--per-family", type=int, default=6, help="videos of each family (default 6)")
    parser.add_argument("--clips", type=int, default=4, help="clips of each video (default 4)")
    parser.add_argument("--size", type=int, default=96, help="crop side (the committed model's: 96)")
    parser.add_argument("--out", default="runs/sharpness")
    args = parser.parse_args()
    torch.manual_seed(0)
    records = [r for r in read_layout_csv(args.data) if r.split == args.split]
    if not records:
        raise SystemExit(f"no {args.split} videos in {args.data}; pick another --split")
    chosen, seen = [], defaultdict(int)
    for rec in records:
        if seen[rec.family] < args.per_family:
            seen[rec.family] += 1
            chosen.append(rec)
    ratios = {mode: defaultdict(list) for mode in RESAMPLING}
    for rec in tqdm(chosen, desc="videos", unit="video"):
        frames, _ = read_video(rec.path)
        for window in clip_windows(np.load(rec.landmarks), max_clips=args.clips):
            for mode in RESAMPLING:
                clip = stabilised_crop(frames, window, args.size, mode)[0]
                ratios[mode][rec.family].append(later_over_first(clip))
                if rec.live:
                    ratios[mode][HELD].append(later_over_first(held(clip)))
    table = {mode: {fam: float(np.mean(v)) for fam, v in sorted(groups.items())} for mode, groups in ratios.items()}
    print(f"detail of stabilised frames 2-4 over frame 1 ({args.split} split of {args.data}, {len(chosen)} videos)")
    print("| family | " + " | ".join(RESAMPLING) + " |")
    print("| --- |" + " --- |" * len(RESAMPLING))
    for fam in table["linear"]:
        print(f"| {fam} | " + " | ".join(f"{table[mode][fam]:.3f}" for mode in RESAMPLING) + " |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sharpness.json").write_text(json.dumps({"data": args.data, "split": args.split, "ratios": table}, indent=1))


if __name__ == "__main__":
    main()
