"""The capture chain every species shares, live included: one randomised camera per video.

The camera stands still or is held in the hand (then it shakes, pans, tilts and zooms a little and the
whole scene moves with it: live faces are filmed by moving cameras as often as attacks are), frames
the square scene at some aspect ratio and resolution (128-320 px short side), lets exposure drift and
the light move, applies white balance and a tone curve, a fixed blur (focus or motion), sometimes a
soft sensor (the frame sampled coarser and scaled up, as by digital zoom), signal-dependent or
Gaussian sensor noise (fresh every frame, sometimes spatially correlated), quantises to uint8 and
picks the H.264 quality the video is encoded at (CRF 16-36). Every parameter is drawn from the same
distribution for every species, so no per-frame statistic tells a live video from a ``still`` or
``rigid`` one, and no camera motion does either. ``CAPTURES`` names the distributions: ``standard`` (the
ranges above) and ``wide`` (smaller frames, cleaner sensors, fewer soft lenses, and the sharpening of a phone's
image processor), which one dataset uses for all of its videos.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fasstream.data import faces
from fasstream.data.synth.scene import grid, wave
from fasstream.data.synth.viewpoint import camera_path, pose_homography

ASPECTS = (1.0, 4 / 3, 3 / 4, 5 / 4, 4 / 5)
"""Width / height of the captured frame (the scene is square; the camera crops to these)."""

HANDHELD_SHARE = 0.65
"""Share of cameras held in the hand; the others stand still."""


@dataclass(frozen=True)
class Capture:
    """The distribution cameras are drawn from: ranges (low, high) and the share of cameras with each effect."""

    short_side: tuple[int, int] = (128, 320)        # px, even
    gaussian: tuple[float, float] = (1.0, 4.0)      # sigma of Gaussian noise
    shot: tuple[float, float] = (0.02, 0.1)         # gain of signal-dependent noise
    blur_share: float = 0.3
    soft_share: float = 0.25
    sharpen_share: float = 0.0                      # cameras whose processor sharpens (an unsharp mask)
    sharpen: tuple[float, float] = (0.3, 1.5)       # its amount


CAPTURES = {
    "standard": Capture(),
    "wide": Capture(short_side=(80, 320), gaussian=(0.3, 4.0), shot=(0.005, 0.1), blur_share=0.15,
                    soft_share=0.12, sharpen_share=0.35),
}
"""Named camera distributions (``fasstream synth --capture``). ``wide`` reaches faces of 40 px and crops
sharper and cleaner than ``standard`` draws, as phones and webcams film them; the committed model's data is
``standard``."""


@dataclass(frozen=True)
class Camera:
    """One video's capture settings; :meth:`sample` draws them, :meth:`capture` applies them."""

    noise: str                   # "gaussian" (level = sigma) or "shot" (variance = level * I + read**2)
    level: float
    read: float
    correlated: float            # sigma (px) of a blur on the noise; 0: white noise
    white_balance: tuple[float, float, float]
    gamma: float                 # tone curve: out = 255 * (in / 255) ** gamma
    exposure: float              # relative amplitude of the exposure drift
    light: float                 # relative amplitude of a light gradient that turns slowly
    blur: float                  # length (px) of a fixed linear blur; 0: none
    blur_angle: float
    soft: float                  # the sensor samples at this fraction of the output size, scaled up; 1: sharp
    width: int
    height: int
    crf: int                     # H.264 constant rate factor the video is encoded with
    handheld: float = 0.0        # amount of the camera's own motion (viewpoint.camera_path); 0: on a stand
    sharpen: float = 0.0         # amount of the processor's unsharp mask, applied last; 0: none

    @classmethod
    def sample(cls, rng: np.random.Generator, capture: Capture = CAPTURES["standard"]) -> "Camera":
        """Draw a camera from ``capture``; the same distribution serves every species."""
        aspect = float(ASPECTS[rng.integers(len(ASPECTS))])
        short = 2 * int(rng.integers(capture.short_side[0] // 2, capture.short_side[1] // 2 + 1))
        long = 2 * int(round(short * max(aspect, 1 / aspect) / 2))
        width, height = (long, short) if aspect >= 1 else (short, long)
        shot = rng.random() < 0.5
        return cls(
            noise="shot" if shot else "gaussian",
            level=float(rng.uniform(*capture.shot) if shot else rng.uniform(*capture.gaussian)),
            read=float(rng.uniform(0.5, 2.0)),
            correlated=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.3 else 0.0,
            white_balance=tuple(float(g) for g in rng.uniform(0.9, 1.1, 3)),
            gamma=float(np.exp(rng.uniform(np.log(0.8), np.log(1.25)))),
            exposure=float(rng.uniform(0.0, 0.06)),
            light=float(rng.uniform(0.0, 0.15)),
            blur=float(rng.uniform(1.0, 3.0)) if rng.random() < capture.blur_share else 0.0,
            blur_angle=float(rng.uniform(0, 180)),
            soft=float(rng.uniform(0.5, 0.85)) if rng.random() < capture.soft_share else 1.0,
            width=width, height=height,
            crf=int(rng.integers(16, 37)),
            handheld=float(rng.uniform(0.3, 1.2)) if rng.random() < HANDHELD_SHARE else 0.0,
            sharpen=float(rng.uniform(*capture.sharpen)) if rng.random() < capture.sharpen_share else 0.0,
        )

    def _window(self, tracks: np.ndarray, size: int) -> tuple[int, int, int, int]:
        """(x0, y0, w, h) pixels of the scene the frame shows: the aspect's crop, keeping the face in view."""
        aspect = self.width / self.height
        w, h = (size, int(round(size / aspect))) if aspect >= 1 else (int(round(size * aspect)), size)
        lo, hi = np.nanmin(tracks, axis=(0, 1)), np.nanmax(tracks, axis=(0, 1))
        x0, y0 = (int(np.clip(round((lo[a] + hi[a]) / 2 - e / 2), 0, size - e)) for a, e in ((0, w), (1, h)))
        return x0, y0, w, h

    def _viewpoints(self, rng: np.random.Generator, n: int, fps: float, size: int) -> list[np.ndarray] | None:
        """Per-frame homographies of a hand-held camera over the scene (zoomed in so no edge shows), or None."""
        if not self.handheld:
            return None
        path = camera_path(rng, n, fps, self.handheld)
        base = 1.04 + 0.08 * self.handheld
        return [pose_homography((size, size), size, base * path["zoom"][i], (path["x"][i], path["y"][i]),
                                path["yaw"][i], path["pitch"][i], path["roll"][i]) for i in range(n)]

    def _blur_kernel(self) -> np.ndarray:
        length = max(int(np.ceil(self.blur)) * 2 + 1, 3)
        kernel = np.zeros((length, length), np.float32)
        c = length // 2
        dx, dy = np.cos(np.radians(self.blur_angle)), np.sin(np.radians(self.blur_angle))
        for t in np.linspace(-self.blur / 2, self.blur / 2, 4 * length):
            kernel[int(round(c + t * dy)), int(round(c + t * dx))] += 1
        return kernel / kernel.sum()

    def capture(self, frames: list[np.ndarray], tracks: np.ndarray, rng: np.random.Generator,
                fps: float) -> tuple[np.ndarray, np.ndarray]:
        """Scene frames (float, S x S x 3) and landmarks -> ``(N, height, width, 3) uint8`` and landmarks."""
        size = frames[0].shape[0]
        n = len(frames)
        times = np.arange(n) / fps
        gains = 1 + wave(rng, times, self.exposure, 0.1, 0.5)
        turn = rng.uniform(0, 2 * np.pi) + wave(rng, times, 0.6, 0.1, 0.4)
        gx, gy = grid(size)
        balance = np.asarray(self.white_balance, np.float32)
        kernel = self._blur_kernel() if self.blur else None
        sensor = (max(2, round(self.width * self.soft)), max(2, round(self.height * self.soft)))
        cv2.setRNGSeed(int(rng.integers(2**31)))  # cv2.randn is several times faster than numpy's normal
        views = self._viewpoints(rng, n, fps, size)
        if views is not None:
            tracks = np.stack([faces.project(view, points) for view, points in zip(views, tracks)])
        x0, y0, w, h = self._window(tracks, size)
        noise = np.empty((sensor[1], sensor[0], 3), np.float32)
        out = np.empty((n, self.height, self.width, 3), np.uint8)
        for i, frame in enumerate(frames):
            if views is not None:
                frame = cv2.warpPerspective(frame, views[i], (size, size), flags=cv2.INTER_LINEAR,
                                            borderMode=cv2.BORDER_REFLECT_101)
            light = 1 + self.light * ((gx - size / 2) * np.cos(turn[i]) + (gy - size / 2) * np.sin(turn[i])) / size
            lit = frame * (balance * float(gains[i])) * light[..., None]
            image = cv2.resize(lit[y0:y0 + h, x0:x0 + w], sensor,
                               interpolation=cv2.INTER_AREA if w > sensor[0] else cv2.INTER_LINEAR)
            if kernel is not None:
                image = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
            cv2.randn(noise, 0.0, 1.0)
            grain = cv2.GaussianBlur(noise, (0, 0), self.correlated) * (1 + 2 * self.correlated) \
                if self.correlated else noise
            if self.noise == "shot":
                sigma = np.sqrt(self.level * np.clip(image, 0, 255) + self.read ** 2)
            else:
                sigma = self.level
            image = np.clip(image + grain * sigma, 0, 255)
            if self.gamma != 1.0:  # the sensor's signal and noise go through the tone curve together
                image = 255 * (image / 255) ** self.gamma
            if sensor != (self.width, self.height):  # a soft sensor: its noise is scaled up with the image
                image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_CUBIC)
            if self.sharpen:  # the processor sharpens what the sensor gave, its noise included
                image = image + self.sharpen * (image - cv2.GaussianBlur(image, (0, 0), 1.0))
            out[i] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        scale = np.array([self.width / w, self.height / h], np.float32)
        return out, ((tracks - np.array([x0, y0], np.float32) + 0.5) * scale - 0.5).astype(np.float32)
