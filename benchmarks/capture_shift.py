"""Does a verdict survive a capture the generator never makes? The model under post-hoc capture shifts.

    python benchmarks/capture_shift.py --data data/synthetic/dataset.csv --out runs/capture-shift

Every test video (live and attack) is decoded, changed by one shift at a time and re-encoded, then scored
as ``fasstream verify`` scores a file: the default face stage (MTCNN, tracked), the checkpoint's
threshold, unchanged. The shifts reach past the generator's capture randomisation (which draws 128-320
px, 20-30 fps, H.264 CRF 16-36, a tone curve of gamma 0.8-1.25, a soft sensor on one video in four): a
2.5x upscale to 320-800 px (cubic, sharper than the soft sensor), a 0.6x downscale (77-192 px, half of it
below the range), half the frame rate (10-15 fps), CRF 38 and CRF 44, MPEG-4 Part 2 instead of H.264, a
darker gamma of 1.8, a mirror image (a training flip, but re-encoded), a 1.1x zoom, and the same zoom
with a hand-held camera's motion added afterwards (a wander, a tremor and a roll of the whole frame, as a
selfie filmed by a moving phone; the generator's hand-held cameras move the scene by another model, a
homography before the sensor). For each shift it reports the live acceptance (1 - BPCER), the APCER of
every species (and, for synthetic videos, the live acceptance with the generator's cameras on a stand and
hand-held apart), the still-probe APCER of the live videos (each clip frozen to its first frame), and the
shift's mean score change. A model that leans on a capture detail of the generator loses live faces or
lets attacks through here. Writes shift.json and shift.png to --out.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from fasstream.data.records import read_layout_csv
from fasstream.data.synth.scene import wave
from fasstream.data.synthetic import read_capture
from fasstream.data.video import VideoError, read_video, write_video
from fasstream.eval.scoring import VideoScorer
from fasstream.model.checkpoint import DEFAULT_MODEL, load_checkpoint


def _resize(frames: np.ndarray, scale: float) -> np.ndarray:
    h, w = frames.shape[1:3]
    size = (2 * round(w * scale / 2), 2 * round(h * scale / 2))  # yuv420p needs even sides
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    return np.stack([cv2.resize(f, size, interpolation=interp) for f in frames])


def _shake(frames: np.ndarray, fps: float, amount: float, seed: int = 0) -> np.ndarray:
    """Every frame zoomed in 1.1x about its centre and, with ``amount`` > 0, moved by a hand-held path: a slow
    wander of 3% of the shorter side, a 3-8 Hz tremor of 0.6% and a roll of 1.5 degrees (times ``amount``)."""
    rng = np.random.default_rng(seed)
    n, h, w = frames.shape[:3]
    times = np.arange(n) / fps
    side, hz = min(h, w), rng.uniform(3, 8)
    x, y = (wave(rng, times, 0.03 * side * amount) + 0.006 * side * amount * np.sin(2 * np.pi * hz * times + phase)
            for phase in (0.0, np.pi / 2))
    roll, zoom = wave(rng, times, 1.5 * amount), 1.1 + wave(rng, times, 0.02 * amount)
    moved = []
    for i, frame in enumerate(frames):
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(roll[i]), float(zoom[i]))
        matrix[:, 2] += (x[i], y[i])
        moved.append(cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
    return np.stack(moved)


def _gamma(frames: np.ndarray, gamma: float) -> np.ndarray:
    table = (255 * (np.arange(256) / 255) ** gamma).round().astype(np.uint8)
    return table[frames]


# name -> (frames, fps) -> (frames, fps, codec, crf)
SHIFTS = {
    "as generated": None,
    "upscale 2.5x": lambda f, fps: (_resize(f, 2.5), fps, "h264", 20),
    "downscale 0.6x": lambda f, fps: (_resize(f, 0.6), fps, "h264", 20),
    "half frame rate": lambda f, fps: (f[::2], fps / 2, "h264", 20),
    "CRF 38": lambda f, fps: (f, fps, "h264", 38),
    "CRF 44": lambda f, fps: (f, fps, "h264", 44),
    "MPEG-4 part 2": lambda f, fps: (f, fps, "mpeg4", 17),
    "gamma 1.8 (darker)": lambda f, fps: (_gamma(f, 1.8), fps, "h264", 20),
    "mirrored": lambda f, fps: (np.ascontiguousarray(f[:, :, ::-1]), fps, "h264", 20),
    "zoom 1.1": lambda f, fps: (_shake(f, fps, 0.0), fps, "h264", 20),
    "hand-held": lambda f, fps: (_shake(f, fps, 1.0), fps, "h264", 20),
}


def shifted(path: Path, shift, folder: Path) -> Path:
    """``path`` itself, or its frames under ``shift`` re-encoded into ``folder`` (byte-reproducibly: runs compare)."""
    if shift is None:
        return path
    frames, fps = read_video(path)
    frames, fps, codec, crf = shift(frames, fps)
    return write_video(folder / f"{path.stem}.mp4", frames, fps, codec=codec, crf=crf, reproducible=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="layout CSV with a test split (fasstream synth)")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--shifts", nargs="+", choices=list(SHIFTS), default=list(SHIFTS))
    ap.add_argument("--out", type=Path, default=Path("runs/capture-shift"))
    args = ap.parse_args()
    records = [r for r in read_layout_csv(args.data) if r.split == "test"]
    if not records:
        raise SystemExit(f"capture_shift: no test-split videos in {args.data}; make them with `fasstream synth`")
    model, meta = load_checkpoint(args.model)
    scorer = VideoScorer.from_checkpoint(model, meta)
    torch.set_grad_enabled(False)
    scores: dict[str, list[dict]] = {}
    camera_of = {}  # "stand" or "hand-held", from the generator's capture records where there are some
    for rec in records:
        capture = read_capture(rec.path)
        if capture is not None:
            camera_of[rec.video_id] = "hand-held" if capture["camera"].get("handheld") else "stand"
    with tempfile.TemporaryDirectory(prefix="capture-shift-") as tmp:
        for name in args.shifts:
            rows = []
            for rec in tqdm(records, desc=name, unit="video"):
                try:
                    video = shifted(Path(rec.path), SHIFTS[name], Path(tmp))
                    if rec.live:  # the still probe is of live videos only
                        score, still = scorer.score_file_and_still(video)
                    else:
                        score, still = scorer.score_file(video), None
                    rows.append({"video": rec.video_id, "species": rec.species, "live": rec.live,
                                 "score": score.score, "still": still.score if still else None,
                                 "camera": camera_of.get(rec.video_id)})
                except (VideoError, ValueError) as err:  # no face: the session gets an error, not a verdict
                    rows.append({"video": rec.video_id, "species": rec.species, "live": rec.live,
                                 "score": None, "still": None, "error": str(err)})
            scores[name] = rows
    threshold, summary = scorer.threshold, {}
    base = {r["video"]: r["score"] for r in scores.get("as generated", [])}
    for name, rows in scores.items():
        ok = [r for r in rows if r["score"] is not None]
        live = [r for r in ok if r["live"]]
        row = {"videos": len(rows), "no face": len(rows) - len(ok),
               "live accepted %": 100 * np.mean([r["score"] >= threshold for r in live]) if live else float("nan"),
               "still-probe APCER %": 100 * np.mean([r["still"] >= threshold for r in live]) if live else float("nan")}
        for camera in sorted({r["camera"] for r in live if r.get("camera")}):
            on = [r for r in live if r.get("camera") == camera]
            row[f"live accepted %, camera on {camera}"] = 100 * np.mean([r["score"] >= threshold for r in on])
        for species in sorted({r["species"] for r in ok if not r["live"]}):
            attacks = [r for r in ok if r["species"] == species]
            row[f"APCER {species} %"] = 100 * np.mean([r["score"] >= threshold for r in attacks])
        moved = [r["score"] - base[r["video"]] for r in ok if base.get(r["video"]) is not None]
        row["mean score change"] = float(np.mean(moved)) if moved else float("nan")
        summary[name] = row
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shift.json").write_text(json.dumps({"model": str(args.model), "threshold": threshold,
                                                     "data": str(args.data), "summary": summary,
                                                     "scores": scores}, indent=1))
    columns = list(next(iter(summary.values())))
    print(f"{args.model}, threshold {threshold:.4f}, {len(records)} test videos of {args.data}")
    print("| shift | " + " | ".join(columns) + " |\n|" + "---|" * (len(columns) + 1))
    for name, row in summary.items():
        print(f"| {name} | " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    _plot(scores, threshold, args.out / "shift.png")
    print(f"wrote {args.out / 'shift.json'} and {args.out / 'shift.png'}")


def _plot(scores: dict[str, list[dict]], threshold: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.4 * len(scores) + 2, 4.5))
    for i, rows in enumerate(scores.values()):
        for r in rows:
            if r["score"] is not None:
                jitter = (zlib.crc32(r["video"].encode()) % 1000 / 1000 - 0.5) * 0.5
                ax.scatter(i + jitter, r["score"], s=9, c="tab:green" if r["live"] else "tab:red", alpha=0.7)
    ax.axhline(threshold, ls="--", c="k", lw=1, label="threshold")
    ax.set_xticks(range(len(scores)), list(scores), rotation=25, ha="right")
    ax.set_ylabel("video score (1 = live)")
    ax.set_title("Scores under capture shifts (green live, red attacks)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
