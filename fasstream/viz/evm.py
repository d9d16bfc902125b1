"""Eulerian video magnification (Wu et al., SIGGRAPH 2012) with the DIIRF op as the temporal filter.

Every frame is converted to YIQ and decomposed into a Laplacian pyramid (``levels`` band-pass
levels plus a low-pass residual; cv2.pyrDown/pyrUp, 5-tap binomial kernel). Each level, seen as a
(T, 3, h, w) signal, is band-passed along time by ``filters.temporal_bandpass``, multiplied by its
amplification, and the amplified band is collapsed back through the pyramid and added to the video.
The pyramid is linear and exactly invertible, so only the amplified part needs reconstructing.

Two modes pick the amplification per level:

``colour`` (Gaussian pyramid)
    Only the residual, i.e. the Gaussian pyramid's level ``levels`` (frames blurred and shrunk
    ``2**levels`` times), is amplified by ``alpha``: slow colour changes of whole regions, such as
    the pulse in skin, become visible while pixel noise is averaged away.
``motion`` (Laplacian pyramid)
    Band level ``l`` covers spatial wavelengths up to about ``lambda_l = 2**(l + 2)`` pixels. The
    linear approximation behind EVM holds while ``(1 + alpha) * delta < lambda / 8`` for a motion
    ``delta``; choosing ``delta`` so that the cutoff wavelength ``wavelength`` just meets the bound
    gives ``alpha_l = min(alpha, (1 + alpha) * lambda_l / wavelength - 1)`` (at least 0), so fine
    levels get less gain. The residual is not amplified (it would only make the brightness
    flicker), and the chrominance (I, Q) of the amplified bands is scaled by ``chroma``.

Memory: the float32 pyramid levels that are amplified are held whole, about
``4/3 * frames * height * width * 12`` bytes in motion mode and ``4**-levels`` of that in colour mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from tqdm import tqdm

from .filters import bandpass_coeffs, temporal_bandpass

MODES = ("colour", "motion")
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


@dataclass(frozen=True)
class Settings:
    """Magnification parameters: pass band (Hz), gain, mode, pyramid depth, motion cutoff (px), chroma gain."""

    low_hz: float = 0.8
    high_hz: float = 2.0
    alpha: float = 20.0
    mode: str = "colour"
    levels: int = 4
    wavelength: float = 16.0
    chroma: float = 1.0

    def check(self) -> Settings:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}; it is the amplification factor")
        if not isinstance(self.levels, int) or self.levels < 1:
            raise ValueError(f"levels must be an int >= 1, got {self.levels!r}")
        if not self.wavelength > 0 or not self.chroma >= 0:
            raise ValueError(f"wavelength must be > 0 and chroma >= 0, got {self.wavelength}, {self.chroma}")
        return self

    def level_gains(self) -> list[float]:
        """Amplification of band levels 0..levels-1 (finest first) and, last, of the residual."""
        if self.mode == "colour":
            return [0.0] * self.levels + [float(self.alpha)]
        gains = [min(self.alpha, (1 + self.alpha) * 2.0 ** (lvl + 2) / self.wavelength - 1)
                 for lvl in range(self.levels)]
        return [max(0.0, g) for g in gains] + [0.0]


def pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of a float32 image: ``levels`` band images, finest first, then the residual."""
    out, current = [], image
    for _ in range(levels):
        smaller = cv2.pyrDown(current)
        out.append(current - cv2.pyrUp(smaller, dstsize=current.shape[1::-1]))
        current = smaller
    return out + [current]


def collapse(levels: list[np.ndarray]) -> np.ndarray:
    """Invert :func:`pyramid`: upsample the residual and add the band images, coarse to fine."""
    image = levels[-1]
    for band in reversed(levels[:-1]):
        image = cv2.pyrUp(image, dstsize=band.shape[1::-1]) + band
    return image


def min_frames(low_hz: float, fps: float) -> int:
    """Frames needed to see one period of the lower band edge."""
    return int(np.ceil(fps / low_hz))


def magnify(frames: np.ndarray, fps: float, settings: Settings = Settings(), progress: bool = True) -> np.ndarray:
    """Magnify ``frames (N, H, W, 3) uint8 RGB`` at ``fps``; returns the magnified frames, same shape and dtype."""
    settings.check()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (N, H, W, 3) uint8 RGB, got shape {frames.shape} dtype {frames.dtype}")
    n, height, width = frames.shape[:3]
    need = min_frames(settings.low_hz, fps)
    if n < need:
        raise ValueError(f"{n} frames are too short to band-pass from {settings.low_hz:g} Hz at {fps:g} fps: "
                         f"one period needs {need} frames; use a longer video or raise the low band edge")
    if min(height, width) < 2 ** settings.levels:
        raise ValueError(f"frames of {width}x{height} are too small for {settings.levels} pyramid levels; "
                         "use fewer levels")
    coeffs = bandpass_coeffs(settings.low_hz, settings.high_hz, fps)
    gains = settings.level_gains()
    keep = [i for i, g in enumerate(gains) if g > 0]
    stacks: dict[int, list[np.ndarray]] = {i: [] for i in keep}
    for frame in tqdm(frames, desc="pyramids", unit="frame", disable=not progress, leave=False):
        yiq = (frame.astype(np.float32) / 255) @ _RGB_TO_YIQ.T
        levels = pyramid(yiq, settings.levels)
        for i in keep:
            stacks[i].append(levels[i])
    channel_gain = torch.tensor([1.0, settings.chroma, settings.chroma]).view(1, 3, 1, 1)
    bands: dict[int, np.ndarray] = {}
    for i in keep:
        signal = torch.from_numpy(np.stack(stacks.pop(i))).permute(0, 3, 1, 2)
        filtered = temporal_bandpass(signal, coeffs) * (gains[i] * channel_gain)
        bands[i] = filtered.permute(0, 2, 3, 1).numpy()
    shapes = _level_shapes(height, width, settings.levels)
    out = np.empty_like(frames)
    for t in tqdm(range(n), desc="reconstruct", unit="frame", disable=not progress, leave=False):
        delta = collapse([bands[i][t] if i in bands else np.zeros(s, np.float32) for i, s in enumerate(shapes)])
        rgb = frames[t].astype(np.float32) / 255 + delta @ _YIQ_TO_RGB.T
        out[t] = np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


def _level_shapes(height: int, width: int, levels: int) -> list[tuple[int, int, int]]:
    shapes = []
    for _ in range(levels + 1):
        shapes.append((height, width, 3))
        height, width = (height + 1) // 2, (width + 1) // 2
    return shapes
