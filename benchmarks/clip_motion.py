"""How much non-planar motion a clip can show, per family, from the exact landmark tracks of the synthetic data.

Stabilisation (``fasstream.faces.stabilise``) removes what moves as one plane, so what is left for the model
to read as life is the face's non-planar motion: a 3-D turn, a blink, speech. For every clip (4 frames at
interval 3) this fits the homography that carries the 68 landmarks of frames 4, 7 and 10 back onto frame 1 and
reports the largest RMS residual, in pixels of a ``--size`` crop (crop side = 1.3 x the landmarks' extent).
A clip under about 0.1 px (and H.264 on top) cannot be told from a held frame by any model; a video can still
be, if one of its clips moves. Prints, per family, the clip residual percentiles, the share of clips under
0.1 and 0.25 px and the percentiles of each video's largest clip residual; writes results.json.

    python benchmarks/clip_motion.py --data data/synth-calm.csv data/held-out-live/dataset.csv
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from fasstream.data.records import read_layout_csv
from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, clip_starts


def clip_residuals(points: np.ndarray, size: int, crop_scale: float = 1.3) -> np.ndarray:
    """Largest non-planar RMS residual (crop pixels) of every non-overlapping clip of a (N, 68, 2) track."""
    out = []
    for start in clip_starts(len(points)):
        first = points[start].astype(np.float64)
        scale = size / (crop_scale * float((first.max(0) - first.min(0)).max()))
        worst = 0.0
        for k in range(1, CLIP_LENGTH):
            moved = points[start + k * CLIP_INTERVAL].astype(np.float64)
            homography, _ = cv2.findHomography(moved, first, 0)
            back = cv2.perspectiveTransform(moved[None], homography)[0]
            worst = max(worst, float(np.sqrt(((back - first) ** 2).sum(1).mean())) * scale)
        out.append(worst)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset.csv files with landmark .npy")
    parser.add_argument("--split", default="test")
    parser.add_argument("--size", type=int, default=96, help="crop side in pixels (the committed model: 96)")
    parser.add_argument("--out", type=Path, default=Path("runs/clip_motion"))
    args = parser.parse_args()
    by_family: dict[str, list[np.ndarray]] = {}
    seen = set()
    for csv in args.data:
        for rec in read_layout_csv(csv):
            if rec.split != args.split or rec.path in seen:
                continue
            if rec.landmarks is None:
                raise SystemExit(f"clip_motion: {rec.path} of {csv} has no landmarks; use synthetic data")
            seen.add(rec.path)
            by_family.setdefault(rec.family, []).append(clip_residuals(np.load(rec.landmarks), args.size))
    results = {}
    print(f"non-planar landmark motion, {args.size}-px crops, {args.split} split of {' + '.join(map(str, args.data))}")
    print(f"{'family':16s} {'videos':>6s}  clip residual px p25 / p50 / p90  clips <0.1 / <0.25 px"
          "  video's largest clip p5 / p50 px")
    for family, videos in sorted(by_family.items()):
        clips, best = np.concatenate(videos), np.array([v.max() for v in videos])
        row = {"videos": len(videos), "clips": int(clips.size),
               "clip_px": dict(zip(("p25", "p50", "p90"), np.percentile(clips, [25, 50, 90]).round(3).tolist())),
               "clips_under_0.1px": float((clips < 0.1).mean()), "clips_under_0.25px": float((clips < 0.25).mean()),
               "video_best_px": dict(zip(("p5", "p50"), np.percentile(best, [5, 50]).round(3).tolist()))}
        results[family] = row
        print(f"{family:16s} {len(videos):6d}  {row['clip_px']['p25']:16.3f} / {row['clip_px']['p50']:.3f} / "
              f"{row['clip_px']['p90']:.3f}  {row['clips_under_0.1px']:10.2f} / {row['clips_under_0.25px']:.2f}"
              f"  {row['video_best_px']['p5']:21.3f} / {row['video_best_px']['p50']:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"size": args.size, "split": args.split,
                                                       "data": list(map(str, args.data)), "families": results},
                                                      indent=2))
    print(f"wrote {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
