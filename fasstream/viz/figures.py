"""Figure helpers: a pyplot-free Agg figure, heat-map overlays, and saving a PNG with its JSON."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from fasstream.data.video import VideoError


def print_outputs(command: str, make: Callable[[], Iterable[Path]]) -> int:
    """Run ``make`` and print the files it wrote; an unusable input prints its reason and returns 2."""
    try:
        paths = list(make())
    except (VideoError, ValueError, FileNotFoundError) as err:
        print(f"fasstream {command}: error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def grid(rows: int, cols: int, panel: float = 1.9, extra_width: float = 0.0):
    """A constrained-layout figure with a ``rows`` x ``cols`` array of axes, ``panel`` inches each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(cols * panel + extra_width, rows * panel + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def image_panel(ax, image, title: str = "", ylabel: str = "", **kwargs):
    """Show an image without ticks, with a title and an optional row label; returns the AxesImage."""
    shown = ax.imshow(image, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)
    return shown


def overlay(face: np.ndarray, heat: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] heat map (any size, upsampled bilinearly) over an RGB uint8 face; returns float RGB."""
    from matplotlib import colormaps

    size = face.shape[1], face.shape[0]
    heat = cv2.resize(np.asarray(heat, np.float32), size, interpolation=cv2.INTER_LINEAR)
    colour = colormaps["jet"](np.clip(heat, 0, 1))[..., :3]
    return (1 - weight) * face.astype(np.float32) / 255 + weight * colour


def rounded(array, digits: int = 4):
    """A nested list of ``array`` rounded for JSON."""
    return np.round(np.asarray(array, np.float64), digits).tolist()


def save(fig, png, numbers: dict) -> tuple[Path, Path]:
    """Write ``fig`` to ``png`` and ``numbers`` to the JSON of the same name; returns both paths."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    data = png.with_suffix(".json")
    data.write_text(json.dumps(numbers, indent=1) + "\n")
    return png, data
