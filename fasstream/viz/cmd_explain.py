"""``fasstream explain``: Grad-CAM by depth (paper Fig. 8) and predicted maps by supervision (Fig. 9).

For every video, the first clip (4 frames at interval 3) is face-cropped as in training and run
through every ``--model``. ``gradcam.png`` has one row per (video, model): the input face, the
Grad-CAM of the clip score after each max pooling and after the pyramid fusion, the predicted map
and the score. With several models, ``supervision.png`` shows each model's predicted map and its
heat map on the face, one column per video (label the rows by the checkpoints' ``label``).
Each PNG has a JSON of the numbers shown beside it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, read_video
from fasstream.data.faceclips import crop_clip, tracked_windows
from fasstream.faces.detectors import DETECTORS
from fasstream.faces.stage import DEFAULT_DETECTOR, load_tracker
from fasstream.faces.tracking import FaceTracker
from fasstream.model.checkpoint import load_checkpoint

from . import figures
from .gradcam import LAYERS, Explanation, explain_clip

CLIP_FRAMES = CLIP_INTERVAL * np.arange(CLIP_LENGTH)  # raw frames 0, 3, 6, 9 of the first clip
SUPERVISIONS = {"position": "face position map", "mask": "binary mask", "depth": "depth map"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream explain``."""
    parser.add_argument("videos", nargs="+", type=Path, help="face videos")
    parser.add_argument("--model", action="append", required=True, type=Path, dest="models", metavar="CKPT",
                        help="checkpoint from `fasstream train`; repeat for several (e.g. one per supervision)")
    parser.add_argument("--names", nargs="+", help="titles of the videos (default: the file names)")
    parser.add_argument("--out", type=Path, default=Path("out/explain"), help="output folder (default out/explain)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--face-detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                        help="face stage (default %(default)s; precomputed: the VIDEO.npy landmarks beside it)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def first_clip(video: Path, size: int, tracker: FaceTracker, stabilise: bool = False,
               resample: str = "linear") -> tuple[np.ndarray, tuple]:
    """The first clip of ``video`` face-cropped to ``(4, size, size, 3)`` uint8 by ``tracker`` (``stabilise``,
    ``resample``: as a model trained with ``data.stabilise``, ``data.resample`` sees it), and its crop box."""
    need = int(CLIP_FRAMES[-1]) + 1
    frames, _ = read_video(video, max_frames=need)
    if len(frames) < need:
        raise ValueError(f"{video} has {len(frames)} frames; a clip of {CLIP_LENGTH} frames at interval "
                         f"{CLIP_INTERVAL} needs at least {need}: use a longer video")
    windows = tracked_windows(frames, tracker, key=video, max_clips=1)
    if not windows:
        raise ValueError(f"no face found in the first clip of {video} ({tracker.detector.name} face detector); use a "
                         "video with a visible, roughly frontal face")
    return crop_clip(frames, windows[0], size, stabilise, resample), windows[0].box


def model_name(path: Path, config: dict) -> str:
    """A short row label: the checkpoint's folder and file, and its architecture and supervision."""
    parts = [config.get("width", "?"), "FCAM" if config.get("fcam", True) else "no FCAM",
             "pyramid" if config.get("pyramid", True) else "no pyramid", config.get("label", "position")]
    return f"{Path(path.parent.name, path.name).as_posix()}\n{', '.join(map(str, parts))}"


def _normalised(cam: np.ndarray) -> tuple[np.ndarray, float]:
    top = float(cam.max())
    return (cam / top if top > 0 else cam), top


def gradcam_figure(rows: list[dict], png: Path) -> tuple[Path, Path]:
    """Fig. 8 layout: input, Grad-CAM per layer, predicted map and score; one row per (video, model)."""
    cols = 2 + len(LAYERS) + 1
    fig, axes = figures.grid(len(rows), cols, panel=1.7, extra_width=0.6)
    numbers = []
    for r, row in enumerate(rows):
        ex: Explanation = row["explanation"]
        face = row["clip"][0]
        label = f"{row['name']}\n{row['model_name']}"
        figures.image_panel(axes[r, 0], face, "input (frame 0)", label)
        panels = {}
        for c, layer in enumerate(LAYERS, start=1):
            cam, top = _normalised(ex.cams[layer].mean(0))
            h, w = cam.shape
            empty = "\nno positive evidence" if top == 0 else ""
            figures.image_panel(axes[r, c], figures.overlay(face, cam), f"{layer} ({h}x{w}){empty}")
            panels[layer] = {"size": [h, w], "max": top, "map": figures.rounded(cam, 3)}
        pred = ex.predicted.mean(0)
        shown = figures.image_panel(axes[r, cols - 2], pred, f"predicted map ({pred.shape[0]}x{pred.shape[1]})",
                                    cmap="jet", vmin=0, vmax=1)
        fig.colorbar(shown, ax=axes[r, cols - 2], fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
        panels["predicted map"] = {"size": list(pred.shape), "map": figures.rounded(pred, 3)}
        ax = axes[r, cols - 1]
        ax.barh([0], [ex.score], color="tab:green" if ex.score >= row["threshold"] else "tab:red")
        ax.axvline(row["threshold"], color="k", linestyle="--", linewidth=1, label="threshold")
        ax.set(xlim=(0, 1), yticks=[], title=f"score {ex.score:.3f}", xlabel="clip score (1 = live)")
        ax.title.set_fontsize(8)
        ax.xaxis.label.set_fontsize(7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6, loc="upper left")
        numbers.append({"video": str(row["video"]), "name": row["name"], "model": str(row["model"]), "score": ex.score,
                        "threshold": row["threshold"], "live": ex.score >= row["threshold"],
                        "crop_box": figures.rounded(row["box"], 2), "panels": panels})
    fig.suptitle("Grad-CAM of the clip score (each panel scaled to its maximum), mean of the clip's 4 frames",
                 fontsize=9)
    return figures.save(fig, png, {"clip_frames": CLIP_FRAMES.tolist(), "layers": list(LAYERS), "rows": numbers})


def supervision_figure(rows: list[dict], videos: list[Path], models: list[Path], png: Path) -> tuple[Path, Path]:
    """Fig. 9 layout: per model a row of predicted maps and a row of heat maps on the face; one column per video."""
    fig, axes = figures.grid(2 * len(models), len(videos), panel=1.8)
    numbers = []
    for row in rows:
        m, v = models.index(row["model"]), videos.index(row["video"])
        ex: Explanation = row["explanation"]
        pred = ex.predicted.mean(0)
        supervision = SUPERVISIONS.get(row["label"], row["label"])
        first = v == 0
        title = f"ID {v + 1}: {row['name']}\nscore {ex.score:.3f}"
        figures.image_panel(axes[2 * m, v], pred, title, f"{supervision}\noutput" if first else "",
                            cmap="gray", vmin=0, vmax=1)
        figures.image_panel(axes[2 * m + 1, v], figures.overlay(row["clip"][0], pred), "heat map on face",
                            f"{supervision}\nheat map" if first else "")
        numbers.append({"video": str(row["video"]), "name": row["name"], "id": v + 1, "model": str(row["model"]),
                        "supervision": row["label"], "score": ex.score, "predicted_map": figures.rounded(pred, 3)})
    fig.suptitle("Predicted maps (mean of the clip's mapped frames) by supervision", fontsize=9)
    return figures.save(fig, png, {"rows": numbers})


def explain_videos(videos: list[Path], models: list[Path], out: Path, device: str = "cpu",
                   names: list[str] | None = None, progress: bool = True, faces: str = DEFAULT_DETECTOR) -> list[Path]:
    """Explain every video with every model; writes gradcam.png (and supervision.png for several models) with JSON."""
    names = names or [Path(v).stem for v in videos]
    if len(names) != len(videos):
        raise ValueError(f"--names gives {len(names)} titles for {len(videos)} videos; give one per video")
    loaded = [load_checkpoint(path, device) for path in models]
    rows = []
    pairs = [(video, name, m) for video, name in zip(videos, names) for m in range(len(models))]
    clips: dict[tuple, tuple] = {}
    for video, name, m in tqdm(pairs, desc="explain", unit="clip", disable=not progress):
        model, ckpt = loaded[m]
        config = ckpt["config"]
        key = (video, model.size, config.get("crop_scale", 1.3), bool(config.get("stabilise", False)),
               config.get("resample", "linear"))
        if key not in clips:
            clips[key] = first_clip(video, model.size, load_tracker(faces, device, key[2]), *key[3:])
        clip, box = clips[key]
        tensor = torch.from_numpy(clip).permute(0, 3, 1, 2).float().div(255)
        rows.append({"video": video, "name": name, "model": models[m], "explanation": explain_clip(model, tensor),
                     "clip": clip, "box": box, "threshold": float(ckpt.get("threshold", 0.5)),
                     "label": config.get("label", "position"), "model_name": model_name(models[m], config)})
    out.mkdir(parents=True, exist_ok=True)
    written = list(gradcam_figure(rows, out / "gradcam.png"))
    if len(models) > 1:
        written.extend(supervision_figure(rows, videos, models, out / "supervision.png"))
    return written


def run(args: argparse.Namespace) -> int:
    """Explain the videos; returns 2 with a message on stderr when an input is unusable."""
    return figures.print_outputs("explain", lambda: explain_videos(
        args.videos, args.models, args.out, args.device, args.names, progress=not args.no_progress,
        faces=args.face_detector))
