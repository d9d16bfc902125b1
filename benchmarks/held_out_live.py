"""Bona fide error per live family, with a live renderer the model never saw: how far "live" reaches.

    fasstream synth --out data/held-out-live --identities 120 --seed 11 --splits test --families live-mesh
    python benchmarks/held_out_live.py --data data/held-out-live/dataset.csv
    python benchmarks/held_out_live.py --model runs/x/best.pt --data ... --detector mtcnn --out out/held_out_live

Scores every ``--split`` video of the datasets (pooled) at the checkpoint's threshold, per family:
with landmark crops (the training crop), with the ``--detector`` face stage as ``fasstream verify``
does, and frozen (each clip's first frame held: the still probe, an attack whose frames are live).
Prints, per family, BPCER (bona fide) or APCER (attacks) both ways, the mean score and the still
probe's APCER; writes ``results.json`` and ``scores.png`` (score histograms with the threshold) to ``--out``.
``live-mesh`` is held out of every training set (``fasstream.data.synth.mesh``): its BPCER is a
measure, never a target to tune.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np
from landmarked import add_arguments, read_records
from tqdm import tqdm

from fasstream.eval.scoring import VideoScorer
from fasstream.faces.stage import DEFAULT_DETECTOR, load_tracker
from fasstream.model.checkpoint import load_checkpoint


def score_all(scorer: VideoScorer, records, detector: str, device: str) -> dict:
    """Per video: landmark-crop score, frozen landmark-crop score (live videos only) and detector-crop score
    (None: no face)."""
    scorer.faces = load_tracker(detector, device, scorer.crop_scale)  # used where no landmarks are given
    out = {}
    for rec in tqdm(records, desc="scoring (landmarks, frozen, detector)", unit="video"):
        if rec.live:
            moving, held = scorer.score_file_and_still(rec.path, rec.landmarks)
        else:
            moving, held = scorer.score_file(rec.path, rec.landmarks), None
        try:
            detected = scorer.score_file(rec.path).score
        except ValueError as err:  # no face in any clip: the service answers no_face, never live
            print(f"  {detector}: {rec.video_id}: {err}", file=sys.stderr)
            detected = None
        out[rec.video_id] = {"landmarks": moving.score, "frozen": held.score if held else None, detector: detected}
    return out


def per_family(records, scores: dict, threshold: float, detector: str) -> dict:
    """Error rate of each family at ``threshold``: live families reject (BPCER), attacks accept (APCER)."""
    table, live_of = {}, {r.family: r.live for r in records}
    for family in sorted(live_of, key=lambda f: (not live_of[f], f)):  # live families first
        rows = [r for r in records if r.family == family]
        live = live_of[family]
        wrong = (lambda s: s < threshold) if live else (lambda s: s >= threshold)
        land = np.array([scores[r.video_id]["landmarks"] for r in rows])
        found = [scores[r.video_id][detector] for r in rows]
        det = np.array([s for s in found if s is not None])
        frozen = np.array([scores[r.video_id]["frozen"] for r in rows]) if live else None
        table[family] = {
            "species": rows[0].species, "videos": len(rows), "error": "BPCER" if live else "APCER",
            "landmarks": 100 * float(np.mean(wrong(land))),
            detector: 100 * float(np.mean(wrong(det))) if det.size else None,
            "no_face": len(found) - det.size, "mean_score": float(land.mean()),
            "still_probe_apcer": 100 * float(np.mean(frozen >= threshold)) if live else None}
    return table


def plot(records, scores: dict, threshold: float, path: Path) -> None:
    """Histograms of landmark-crop scores per family, and of the frozen live videos', with the threshold."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5))
    FigureCanvasAgg(fig)
    moving, held = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    bins = np.linspace(0, max(1e-3, max(s["landmarks"] for s in scores.values())), 30)
    for family in sorted({r.family for r in records}):
        values = [scores[r.video_id]["landmarks"] for r in records if r.family == family]
        moving.hist(values, bins=bins, alpha=0.55, label=f"{family} ({len(values)})")
        if any(r.live for r in records if r.family == family):
            frozen = [scores[r.video_id]["frozen"] for r in records if r.family == family]
            held.hist(frozen, bins=bins, alpha=0.55, label=f"{family} frozen ({len(frozen)})")
    for ax, what in ((moving, "video score"), (held, "score of the frozen live videos (still probe)")):
        ax.axvline(threshold, color="r", linestyle="--", label=f"threshold {threshold:.3f}")
        ax.set_xlabel(f"{what}; landmark crops, high = live")
        ax.set_ylabel("videos")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="face stage of the verify column")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("out/held_out_live"), help="output folder")
    args = parser.parse_args()

    records, where = read_records(args.data, args.split, "held_out_live")
    model, meta = load_checkpoint(args.model, args.device)
    scorer = VideoScorer.from_checkpoint(model, meta, device=args.device)
    threshold = scorer.threshold
    scores = score_all(scorer, records, args.detector, args.device)
    table = per_family(records, scores, threshold, args.detector)
    print(f"\n{args.model} ({meta.get('version')}), {len(records)} {args.split} videos of {where}, "
          f"threshold {threshold:.4f}")
    print(f"  {'family':<16} {'videos':>6} {'error':>6} {'landmarks %':>11} {args.detector + ' %':>10} "
          f"{'no face':>7} {'mean score':>10} {'still-probe APCER %':>19}")
    for family, row in table.items():
        det = "-" if row[args.detector] is None else f"{row[args.detector]:.2f}"
        still = "-" if row["still_probe_apcer"] is None else f"{row['still_probe_apcer']:.2f}"
        print(f"  {family:<16} {row['videos']:6d} {row['error']:>6} {row['landmarks']:11.2f} {det:>10} "
              f"{row['no_face']:7d} {row['mean_score']:10.4f} {still:>19}")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": platform.platform(), "model": str(args.model), "model_version": meta.get("version"),
              "data": [str(d) for d in args.data], "split": args.split, "threshold": threshold,
              "detector": args.detector, "families": table, "scores": scores}
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    plot(records, scores, threshold, args.out / "scores.png")
    print(f"\nwrote {args.out}/results.json and scores.png")


if __name__ == "__main__":
    main()
