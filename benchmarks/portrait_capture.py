"""Which capture condition decides the animated portraits: as shot, or through the generator's camera?

The eight animated portraits (``fasstream.eval.portraits``: two public-domain portraits, four camera-free
zooms and pans) are scored by ``fasstream verify`` (MTCNN crops, each checkpoint's own threshold) as shot, through
a neutral camera (320x320, no noise, tone, light, blur or motion: the capture path alone), through a camera
drawn as the generator draws one for every video (``synthetic.video_camera``, from the ``standard`` and from
the ``wide`` distribution), and through the neutral camera with one group of the standard camera's settings at
a time. A model whose decisions change with a setting that the generator draws for live and attack videos
alike reads that setting, not the attack. Prints accepted
videos of 8 (median score) per variant and model, and the finest detail of each variant's face crops (variance
of the grey Laplacian of the 96-px landmark crop of every clip's first frame, as decoded; median per portrait;
with ``--data``, the same for the live videos of a dataset's test split); writes results.json and accepted.png.

    python benchmarks/portrait_capture.py --model pipelines/models/tiny.pt runs/x/best.pt --data data/synthetic/dataset.csv
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
from stabilised_sharpness import detail

from fasstream.cli import main as cli_main
from fasstream.data.faceclips import clip_windows, crop_clip
from fasstream.data.faces import source_faces
from fasstream.data.records import read_layout_csv
from fasstream.data.synth.camera import Camera
from fasstream.data.synthetic import video_camera
from fasstream.data.video import read_video, write_video
from fasstream.eval.portraits import MOTIONS, SIDE, animated_portrait

FRAMES, FPS = 75, 25.0
CROP = 96
"""Side of the committed model's crops, in pixels."""
NEUTRAL = Camera(noise="gaussian", level=0.0, read=0.0, correlated=0.0, white_balance=(1.0, 1.0, 1.0), gamma=1.0,
                 exposure=0.0, light=0.0, blur=0.0, blur_angle=0.0, soft=1.0, width=SIDE, height=SIDE, crf=17)
"""A camera that changes nothing but the encoder's rounding: the capture path alone."""
GROUPS = {"noise": ("noise", "level", "read", "correlated"), "tone": ("white_balance", "gamma"),
          "light": ("exposure", "light"), "blur and soft sensor": ("blur", "blur_angle", "soft"),
          "frame size": ("width", "height"), "H.264 quality": ("crf",), "hand-held motion": ("handheld",)}
"""Settings of a drawn camera applied one group at a time to the neutral one."""


def crop_detail(video: Path, landmarks: np.ndarray) -> float:
    """Mean finest detail (variance of the grey Laplacian) of the 96-px landmark crops of every clip's first
    frame of ``video`` as decoded."""
    frames, _ = read_video(video)
    windows = clip_windows(landmarks[:len(frames)])
    return float(np.mean([detail(crop_clip(frames, window, CROP)[0]) for window in windows]))


def render(out: Path) -> tuple[dict[str, list[Path]], dict[str, list[float]]]:
    """The eight portraits per variant, written under ``out``: variant name -> videos, and -> their crop detail."""
    variants: dict[str, list[Path]] = {}
    details: dict[str, list[float]] = {}
    for k, (name, (image, marks)) in enumerate(sorted(source_faces().items())):
        for j, (motion, (zoom, pan)) in enumerate(MOTIONS.items()):
            frames, tracks = animated_portrait(image, marks, FRAMES, zoom, pan)
            video = write_video(out / f"shot-{name}-{motion}.mp4", frames, FPS, reproducible=True)
            variants.setdefault("as shot", []).append(video)
            details.setdefault("as shot", []).append(crop_detail(video, tracks))
            seed = np.random.SeedSequence([4321, k, j])
            drawn = video_camera(seed)
            cameras = {"neutral camera": NEUTRAL, "drawn camera": drawn,
                       "drawn wide camera": video_camera(seed, "wide")}
            cameras |= {f"neutral + {group}": dataclasses.replace(NEUTRAL, **{f: getattr(drawn, f) for f in fields})
                        for group, fields in GROUPS.items()}
            for variant, camera in cameras.items():
                shot, seen = camera.capture(list(frames.astype(np.float32)), tracks, np.random.default_rng(seed), FPS)
                stem = variant.replace(" ", "_").replace("+", "").replace(".", "")
                video = write_video(out / f"{stem}-{name}-{motion}.mp4", shot, FPS, reproducible=True, crf=camera.crf)
                variants.setdefault(variant, []).append(video)
                details.setdefault(variant, []).append(crop_detail(video, seen))
    return variants, details


def dataset_detail(csv: Path) -> dict[str, float]:
    """Percentiles (p5, p50, p95, max) of the crop detail of the live videos of ``csv``'s test split."""
    live = [r for r in read_layout_csv(csv) if r.split == "test" and r.live and r.landmarks is not None]
    if not live:
        raise SystemExit(f"portrait_capture: {csv} has no live test video with landmarks; use synthetic data")
    values = [crop_detail(r.path, np.load(r.landmarks)) for r in live]
    return dict(zip(("p5", "p50", "p95", "max"), np.percentile(values, [5, 50, 95, 100]).round(1).tolist()))


def score(model: Path, videos: list[Path], report: Path) -> list[dict]:
    """``fasstream verify`` results (video, score, decision) of ``videos`` with ``model``."""
    if cli_main(["verify", "--model", str(model), *map(str, videos), "--json", str(report)]) != 0:
        raise SystemExit(f"portrait_capture: fasstream verify failed for {model}")
    return json.loads(report.read_text())["results"]


def label(model: str) -> str:
    """A checkpoint's short name: its last two folders and stem, e.g. ``rh/seed0/best``."""
    return "/".join(Path(model).with_suffix("").parts[-3:])


def plot(results: dict, path: Path) -> None:
    """Accepted portraits per variant (rows) and model (columns), as an annotated heat map."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, variants = list(results), list(next(iter(results.values())))
    counts = np.array([[results[m][v]["accepted"] for m in models] for v in variants])
    fig, ax = plt.subplots(figsize=(1.1 * len(models) + 3, 0.4 * len(variants) + 1.5))
    ax.imshow(counts, cmap="Reds", vmin=0, vmax=8, aspect="auto")
    for (row, col), value in np.ndenumerate(counts):
        ax.text(col, row, str(value), ha="center", va="center", color="white" if value > 4 else "black")
    ax.set_xticks(range(len(models)), [label(m) for m in models], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(variants)), variants, fontsize=8)
    ax.set_title("animated portraits accepted (of 8)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, nargs="+", default=[Path("pipelines/models/tiny.pt")])
    parser.add_argument("--out", type=Path, default=Path("runs/portrait_capture"))
    parser.add_argument("--data", type=Path, default=None,
                        help="a dataset.csv with landmarks whose live test videos' crop detail is printed for comparison")
    args = parser.parse_args()
    missing = [str(m) for m in args.model if not m.is_file()]
    if missing:
        raise SystemExit(f"portrait_capture: no checkpoint at {', '.join(missing)}; pass --model with existing files")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        variants, details = render(Path(tmp))
        for model in args.model:
            results[str(model)] = {}
            for variant, videos in variants.items():
                rows = score(model, videos, Path(tmp) / "verify.json")
                results[str(model)][variant] = {
                    "accepted": sum(r["decision"] == "live" for r in rows),
                    "median_score": float(np.median([r["score"] for r in rows])),
                    "scores": {Path(r["video"]).stem: r["score"] for r in rows}}
    print("animated portraits accepted of 8 (median score), fasstream verify, each model's threshold")
    faces, n = sorted(source_faces()), len(MOTIONS)
    print(f"{'variant':34s}{'crop detail, ' + ' / '.join(faces):>36s}" + "".join(f"{label(m):>24s}" for m in results))
    for variant in variants:
        by_face = " / ".join(f"{np.median(details[variant][i:i + n]):.0f}" for i in range(0, len(faces) * n, n))
        print(f"{variant:34s}{by_face:>36s}"
              + "".join(f"{r[variant]['accepted']:>15d} ({r[variant]['median_score']:.3f})" for r in results.values()))
    live = dataset_detail(args.data) if args.data else None
    if live:
        print(f"crop detail of the live test videos of {args.data}: " + ", ".join(f"{k} {v}" for k, v in live.items()))
    (args.out / "results.json").write_text(json.dumps({"models": results, "crop_detail": details,
                                                       "dataset_live_crop_detail": live}, indent=2))
    plot(results, args.out / "accepted.png")
    print(f"wrote {args.out / 'results.json'} and {args.out / 'accepted.png'}")


if __name__ == "__main__":
    main()
