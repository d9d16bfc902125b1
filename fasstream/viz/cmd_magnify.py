"""``fasstream magnify``: Eulerian magnification of face videos, an H.264 video each and a strip like paper Fig. 1.

The strip has one column per video: a face crop before and after magnification, a vertical slice
through the face over time (the magnified video), and the mean green level of the face with its
spectrum, before and after. ``magnify.png`` and ``magnify.json`` (the numbers plotted) go to ``--out``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fasstream.data.video import read_video, write_video
from fasstream.faces.geometry import crop_frame, face_crop_box

from . import figures
from .evm import MODES, Settings, magnify
from .faces import face_landmarks
from .filters import bandpass_coeffs, settle_frames

CROP = 160  # side of the face crops in the strip, pixels
FACE_OUTLINE = np.r_[0:27]  # jaw and brows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream magnify``."""
    parser.add_argument("videos", nargs="+", type=Path, help="face videos, e.g. a live, a print and a replay one")
    parser.add_argument("--out", type=Path, default=Path("out/magnify"), help="output folder (default out/magnify)")
    parser.add_argument("--names", nargs="+", help="column titles of the strip (default: the file names)")
    parser.add_argument("--mode", choices=MODES, default="colour",
                        help="colour: Gaussian pyramid, whole-region colour changes (default); "
                             "motion: Laplacian pyramid, small movements")
    parser.add_argument("--low", type=float, default=0.8, help="lower pass-band edge, Hz (default 0.8)")
    parser.add_argument("--high", type=float, default=2.0, help="upper pass-band edge, Hz (default 2.0)")
    parser.add_argument("--alpha", type=float, default=None, help="amplification (default 20 colour, 10 motion)")
    parser.add_argument("--levels", type=int, default=4, help="pyramid levels (default 4)")
    parser.add_argument("--wavelength", type=float, default=16.0,
                        help="motion mode: spatial wavelength (px) below which the gain is reduced (default 16)")
    parser.add_argument("--chroma", type=float, default=None,
                        help="gain of the I and Q colour channels relative to luma (default 1 colour, 0.1 motion)")
    parser.add_argument("--max-frames", type=int, default=None, help="read at most this many frames of each video")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def settings_from(args: argparse.Namespace) -> Settings:
    """The magnification settings chosen on the command line, with the mode's defaults filled in."""
    colour = args.mode == "colour"
    alpha = args.alpha if args.alpha is not None else (20.0 if colour else 10.0)
    chroma = args.chroma if args.chroma is not None else (1.0 if colour else 0.1)
    return Settings(args.low, args.high, alpha, args.mode, args.levels, args.wavelength, chroma).check()


def face_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the face (convex hull of jaw and brows, shrunk 20 % towards its centre)."""
    points = landmarks[FACE_OUTLINE]
    centre = points.mean(0)
    hull = cv2.convexHull((centre + 0.8 * (points - centre)).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def spectrum(trace: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and amplitudes of a trace after removing its mean (Hann window, amplitude-corrected)."""
    window = np.hanning(len(trace)) if len(trace) > 2 else np.ones(len(trace))
    values = np.abs(np.fft.rfft((trace - trace.mean()) * window)) * 2 / window.sum()
    return np.fft.rfftfreq(len(trace), 1 / fps), values


def measure(frames: np.ndarray, magnified: np.ndarray, landmarks: np.ndarray, fps: float,
            settings: Settings) -> dict:
    """Face crops, slice, green traces and spectra of one video before and after magnification."""
    box = face_crop_box(landmarks)
    mask = face_mask(landmarks, frames.shape[1:3])
    mid = len(frames) // 2
    crops = np.stack([crop_frame(f, box, CROP) for f in magnified])
    result = {"fps": fps, "frames": len(frames), "crop_box": list(box),
              "input_crop": crop_frame(frames[mid], box, CROP), "magnified_crop": crops[mid],
              "slice": crops[:, :, CROP // 2].transpose(1, 0, 2), "shown_frame": mid}
    for name, video in (("input", frames), ("magnified", magnified)):
        trace = video[:, mask, 1].mean(axis=1, dtype=np.float64)
        result["freqs"], amps = spectrum(trace, fps)
        result[name] = {"trace": trace - trace.mean(), "amplitude": amps}
    freqs = result["freqs"]
    result["peak_hz"] = float(freqs[1:][np.argmax(result["magnified"]["amplitude"][1:])])
    result["settle_frames"] = settle_frames(bandpass_coeffs(settings.low_hz, settings.high_hz, fps))
    band = (freqs >= settings.low_hz) & (freqs <= settings.high_hz)
    outside = ~band & (freqs > 0)
    for key, sel in (("gain_in_band", band), ("gain_out_of_band", outside)):
        base = result["input"]["amplitude"][sel].sum()
        result[key] = float(result["magnified"]["amplitude"][sel].sum() / base) if base > 0 else None
    return result


def strip(results: list[dict], names: list[str], settings: Settings, png: Path) -> tuple[Path, Path]:
    """Draw the Fig. 1-like strip of measured videos and save it with its JSON."""
    fig, axes = figures.grid(5, len(results), panel=2.1)
    for col, (name, res) in enumerate(zip(names, results)):
        seconds = res["frames"] / res["fps"]
        first = col == 0
        figures.image_panel(axes[0, col], res["input_crop"], f"{name}\ninput, frame {res['shown_frame']}",
                            "input" if first else "")
        figures.image_panel(axes[1, col], res["magnified_crop"], f"magnified x{settings.alpha:g}",
                            "magnified" if first else "")
        ax = axes[2, col]
        ax.imshow(res["slice"], aspect="auto", extent=(0, seconds, CROP, 0))
        ax.set(title="slice through face centre", xlabel="time (s)", ylabel="row in face crop (px)")
        ax = axes[3, col]
        times = np.arange(res["frames"]) / res["fps"]
        ax.axvspan(0, res["settle_frames"] / res["fps"], color="0.9", label="filter settling")
        for key in ("input", "magnified"):
            ax.plot(times, res[key]["trace"], label=key, linewidth=1)
        ax.set(title="face mean green", xlabel="time (s)", ylabel="change (0-255)")
        ax.legend(fontsize=6)
        ax = axes[4, col]
        ax.axvspan(settings.low_hz, settings.high_hz, color="0.9", label="pass band")
        for key in ("input", "magnified"):
            ax.plot(res["freqs"], res[key]["amplitude"], label=key, linewidth=1)
        ax.set(title=f"spectrum, peak {res['peak_hz']:.2f} Hz", xlabel="frequency (Hz)", ylabel="amplitude")
        ax.legend(fontsize=6)
        for a in axes[2:, col]:
            a.title.set_fontsize(8)
            a.xaxis.label.set_fontsize(7)
            a.yaxis.label.set_fontsize(7)
            a.tick_params(labelsize=6)
    fig.suptitle(f"Eulerian magnification ({settings.mode}), {settings.low_hz:g}-{settings.high_hz:g} Hz, "
                 f"alpha {settings.alpha:g}", fontsize=9)
    numbers = {"settings": vars(settings), "videos": [
        {"name": name, "fps": r["fps"], "frames": r["frames"], "shown_frame": r["shown_frame"],
         "settle_frames": r["settle_frames"],
         "crop_box": figures.rounded(r["crop_box"], 2), "peak_hz": round(r["peak_hz"], 4),
         "gain_in_band": r["gain_in_band"], "gain_out_of_band": r["gain_out_of_band"],
         "freqs_hz": figures.rounded(r["freqs"]),
         **{f"{key}_{part}": figures.rounded(r[key][field]) for key in ("input", "magnified")
            for part, field in (("green_trace", "trace"), ("spectrum", "amplitude"))}}
        for name, r in zip(names, results)]}
    return figures.save(fig, png, numbers)


def magnify_videos(videos: list[Path], out: Path, settings: Settings, names: list[str] | None = None,
                   max_frames: int | None = None, progress: bool = True) -> list[Path]:
    """Magnify every video into ``out/<name>_magnified.mp4`` and draw ``out/magnify.png``; returns the paths written."""
    names = names or [Path(v).stem for v in videos]
    if len(names) != len(videos):
        raise ValueError(f"--names gives {len(names)} titles for {len(videos)} videos; give one per video")
    out.mkdir(parents=True, exist_ok=True)
    written, results = [], []
    for video in tqdm(videos, desc="magnify", unit="video", disable=not progress or len(videos) == 1):
        frames, fps = read_video(video, max_frames)
        landmarks = face_landmarks(video, frames, [0])[0]
        try:
            magnified = magnify(frames, fps, settings, progress)
        except ValueError as err:
            raise ValueError(f"cannot magnify {video}: {err}") from err
        even = magnified[:, : magnified.shape[1] // 2 * 2, : magnified.shape[2] // 2 * 2]
        written.append(write_video(out / f"{Path(video).stem}_magnified.mp4", even, fps))
        results.append(measure(frames, magnified, landmarks, fps, settings))
    written.extend(strip(results, names, settings, out / "magnify.png"))
    return written


def run(args: argparse.Namespace) -> int:
    """Magnify the videos; returns 2 with a message on stderr when an input is unusable."""
    return figures.print_outputs("magnify", lambda: magnify_videos(
        args.videos, args.out, settings_from(args), args.names, args.max_frames, progress=not args.no_progress))
