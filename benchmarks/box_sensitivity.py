"""How much does a model's decision depend on where, within a pixel, the face box lands?

    python benchmarks/box_sensitivity.py --model pipelines/models/tiny.pt --data data/synthetic/dataset.csv
    python benchmarks/box_sensitivity.py --data data/synthetic/dataset.csv data/synth-s7/dataset.csv  # pooled
    python benchmarks/box_sensitivity.py --data D --per-video --shift 10 --zoom 0.035   # a detector's errors

Every video of one split (``--split``, default test) of datasets with exact landmarks (several ``--data``
are pooled) is scored with the training crop (each clip's landmark box, the reference) and ``--draws``
more times with every clip's box moved by its own random offset of up to ``--shift`` pixels along each
axis (default 0.5: the sub-pixel phase of the resampling, nothing a face detector could be blamed for).
It reports, per species, the video scores' mean spread (max - min over the draws) and the share of
videos whose decision changes in some draw, and ACER at the checkpoint's threshold for the reference and
over the draws (min, mean, max). That ACER range is the floor under any face stage's parity with the
training crop (``face_parity.py``): a calibrated detector's boxes are off by more than half a pixel.
``--zoom F`` also scales every box about its centre by a factor in [1 - F, 1 + F]; ``--per-video`` draws one
offset (and factor) per video and draw, shared by all its clips, as a face stage that misplaces a face the
same way throughout a video does (MTCNN's calibrated boxes: a few percent of the side, nearly constant within
a video). Writes box_sensitivity.json and box_sensitivity.png (score spread per video, live and attack) to
``--out``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from landmarked import add_arguments, read_records
from tqdm import tqdm

from fasstream.data.faceclips import ClipWindow, clip_windows
from fasstream.data.video import read_video
from fasstream.eval.metrics import apcer_bpcer
from fasstream.eval.scoring import VideoScorer
from fasstream.model.checkpoint import load_checkpoint
from fasstream.train.framing import moved_box


def moved(windows: list[ClipWindow], rng: np.random.Generator, shift: float, zoom: float = 0.0,
          per_video: bool = False) -> list[ClipWindow]:
    """The windows with their boxes moved by a uniform offset in [-shift, shift] pixels along x and y and scaled
    about their centres by a factor in [1 - zoom, 1 + zoom]: one draw per clip, or one for all (``per_video``)."""
    def draw():
        dx, dy = rng.uniform(-shift, shift, 2)
        return dx, dy, (1 + rng.uniform(-zoom, zoom)) if zoom else 1.0

    shared = draw() if per_video else None
    out = []
    for w in windows:
        dx, dy, factor = shared or draw()
        side = w.box[2]
        out.append(ClipWindow(w.frames, moved_box(w.box, (dx / side, dy / side, factor)), w.landmarks))
    return out


def plot(spread: dict[str, np.ndarray], path: Path, moves: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    bins = np.linspace(0, max(float(v.max()) for v in spread.values()) + 1e-6, 30)
    for name, values in spread.items():
        ax.hist(values, bins=bins, alpha=0.6, label=f"{name} ({len(values)})")
    ax.set(xlabel=f"video score spread over boxes {moves}", ylabel="videos")
    ax.legend()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--draws", type=int, default=8, help="moved boxes per video (default %(default)s)")
    parser.add_argument("--shift", type=float, default=0.5, help="largest offset in pixels (default %(default)s)")
    parser.add_argument("--zoom", type=float, default=0.0, help="largest relative change of the box side (default 0)")
    parser.add_argument("--per-video", action="store_true", help="one offset and zoom per video, shared by its clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/box_sensitivity"))
    args = parser.parse_args()
    if args.draws < 1 or args.shift < 0 or not 0 <= args.zoom < 1 or args.shift == args.zoom == 0:
        raise SystemExit(f"box_sensitivity: --draws {args.draws} must be positive, --shift {args.shift} >= 0 and "
                         f"--zoom {args.zoom} in [0, 1), not both 0")
    moves = (f"moved by up to {args.shift} px" + (f", scaled by up to {args.zoom:.1%}" if args.zoom else "")
             + (", one draw per video" if args.per_video else ", one draw per clip"))
    records, where = read_records(args.data, args.split, "box_sensitivity")
    model, meta = load_checkpoint(args.model)
    scorer = VideoScorer.from_checkpoint(model, meta)
    rng = np.random.default_rng(args.seed)
    scores = np.empty((len(records), args.draws + 1))
    with torch.inference_mode():
        for i, rec in enumerate(tqdm(records, desc="videos", unit="video")):
            frames, _ = read_video(rec.path)
            windows = clip_windows(np.load(rec.landmarks), scorer.crop_scale)
            draws = [windows] + [moved(windows, rng, args.shift, args.zoom, args.per_video) for _ in range(args.draws)]
            scores[i] = [scorer.clip_scores(frames, w).mean() for w in draws]
    live = np.array([r.live for r in records])
    species = np.array([r.species for r in records], dtype=object)
    threshold = scorer.threshold
    acer = np.array([100 * apcer_bpcer(scores[:, d], live, species, threshold).acer for d in range(args.draws + 1)])
    decided = scores >= threshold
    flips = (decided != decided[:, :1]).any(1)
    spread = scores.max(1) - scores.min(1)
    rows = {}
    for name in ["live"] + sorted(set(species[~live])):
        sel = live if name == "live" else species == name
        rows[name] = {"videos": int(sel.sum()), "mean_spread": float(spread[sel].mean()),
                      "max_spread": float(spread[sel].max()), "decision_changes": float(flips[sel].mean())}
    report = {"model": str(args.model), "data": [str(d) for d in args.data], "split": args.split, "threshold": threshold,
              "shift_px": args.shift, "zoom": args.zoom, "per_video": args.per_video, "draws": args.draws,
              "seed": args.seed,
              "acer_reference": float(acer[0]), "acer_moved": {"min": float(acer[1:].min()),
                                                               "mean": float(acer[1:].mean()),
                                                               "max": float(acer[1:].max())},
              "species": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "box_sensitivity.json").write_text(json.dumps(report, indent=1))
    plot({"live": spread[live], "attack": spread[~live]}, args.out / "box_sensitivity.png", moves)
    print(f"\n{args.model}, {len(records)} {args.split} videos of {where}, threshold {threshold:.4f}, "
          f"every clip's box {moves}, {args.draws} draws")
    print(f"  ACER with the landmark boxes {acer[0]:.2f}; with moved boxes min {acer[1:].min():.2f}, "
          f"mean {acer[1:].mean():.2f}, max {acer[1:].max():.2f}")
    print(f"  {'species':<10} {'videos':>6} {'mean spread':>11} {'max spread':>10} {'decision changes':>16}")
    for name, row in rows.items():
        print(f"  {name:<10} {row['videos']:6d} {row['mean_spread']:11.4f} {row['max_spread']:10.4f} "
              f"{row['decision_changes']:16.2%}")
    print(f"wrote {args.out / 'box_sensitivity.json'}, {args.out / 'box_sensitivity.png'}")


if __name__ == "__main__":
    main()
