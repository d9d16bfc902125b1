"""Crop geometry shared by training, evaluation and serving: the square face box and its resampling.

Coordinates
    Points are (x, y) in pixel-centre coordinates of the frame (pixel (i, j) is centred on
    x=i, y=j). A crop box is a square ``(x0, y0, size)`` in frame pixels: its left/top edge lies
    on the pixel-edge line ``x0 - 0.5`` / ``y0 - 0.5`` and it spans ``size`` pixels, so the box
    ``(0, 0, W)`` of a W x W frame is the frame itself. :func:`crop_frame` samples that box into
    the model input (256 x 256) and the label maps sample the same box at 32 x 32, so a map cell
    covers exactly 8 x 8 pixels of the crop.

The training crop is :func:`face_crop_box` of a clip's mean 68 landmarks; detectors that give
no 68 points reach the same box through a fitted calibration (``fasstream.faces.calibration``).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["RESAMPLING", "Box", "check_box", "check_landmarks", "check_resample", "check_size", "crop_frame",
           "face_crop_box", "to_crop"]

Box = tuple[float, float, float]

RESAMPLING = {"linear": cv2.INTER_LINEAR, "lanczos": cv2.INTER_LANCZOS4}
"""Interpolation of the crop: bilinear (how the committed model was trained) or Lanczos (8 x 8 taps).

Bilinear sampling at a fractional offset p blurs by the taps (1 - p, p): at half a pixel it cancels detail
at the pixel scale, so how sharp a crop is depends on where the box falls between pixels. Lanczos keeps
about three quarters of it at the worst offset (docs/faces.md, "Resampling")."""


def check_landmarks(landmarks) -> np.ndarray:
    """``landmarks`` as a finite (68, 2) float64 array; ValueError otherwise."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        raise ValueError(f"landmarks must be a finite (68, 2) array of (x, y) pixels, got shape {pts.shape}; "
                         "pass the 68 iBUG points of one face")
    return pts


def check_box(box) -> Box:
    """``box`` as a float ``(x0, y0, size)`` with size > 0; ValueError otherwise."""
    b = np.asarray(box, dtype=np.float64).ravel()
    if b.shape != (3,) or not np.isfinite(b).all() or b[2] <= 0:
        raise ValueError(f"crop_box must be (x0, y0, size) with size > 0, got {box!r}; use face_crop_box(landmarks)")
    return float(b[0]), float(b[1]), float(b[2])


def check_size(size: int) -> int:
    """``size`` as a positive int; ValueError otherwise."""
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return int(size)


def check_resample(resample: str) -> str:
    """``resample`` if it names one of :data:`RESAMPLING`; ValueError otherwise."""
    if resample not in RESAMPLING:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLING)}, got {resample!r}")
    return resample


def to_crop(points, crop_box, out: int) -> np.ndarray:
    """Map frame points (..., 2) into pixel-centre coordinates of the box sampled at ``out`` x ``out``."""
    x0, y0, side = check_box(crop_box)
    scale = out / side
    return (np.asarray(points, dtype=np.float64) - (x0 - 0.5, y0 - 0.5)) * scale - 0.5


def face_crop_box(landmarks, scale: float = 1.3) -> Box:
    """Square box centred on the landmarks' bounding box, ``scale`` times its longer side."""
    pts = check_landmarks(landmarks)
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    lo, hi = pts.min(0), pts.max(0)
    side = scale * max(float((hi - lo).max()), 1.0)
    cx, cy = (lo + hi) / 2
    return float(cx - side / 2), float(cy - side / 2), float(side)


def crop_frame(frame: np.ndarray, box, out: int = 256, pad: str = "zero", resample: str = "linear",
               warp=None) -> np.ndarray:
    """Resample the square ``box`` of an RGB frame to ``(out, out, 3)`` uint8 (``resample``, low-passed first).

    ``warp`` (3 x 3) is a homography on the crop's pixel coordinates: the result is then the crop as
    ``cv2.warpPerspective(crop, warp)`` would move it, but sampled once from the frame.

    A box larger than ``out`` (by a factor f = side / out) is low-passed before it is sampled, so the
    crop does not alias and moving the box by a fraction of a pixel changes it about as little: its
    pixels are averaged in k x k blocks (k the integer part of f) and blurred by a Gaussian of sigma
    ``sqrt(r**2 - 1) / sqrt(6)`` blocks for the rest r = f / k (with the bilinear tap, about the
    stretched-tent filter of torch's and PIL's anti-aliased resize). Parts of the box outside the
    frame are filled with zeros (``pad="zero"``) or the nearest edge pixel (``pad="edge"``).
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    borders = {"zero": cv2.BORDER_CONSTANT, "edge": cv2.BORDER_REPLICATE}
    if pad not in borders:
        raise ValueError(f"pad must be one of {sorted(borders)}, got {pad!r}")
    out, flags = check_size(out), RESAMPLING[check_resample(resample)]
    x0, y0, side = check_box(box)
    if warp is not None:
        warp = np.asarray(warp, np.float64).reshape(3, 3)
    if side > out:  # the box's pixels and a margin, as float, low-passed; the box in that region's blocks
        k = int(side / out)
        sigma = float(np.sqrt((side / out / k) ** 2 - 1) / np.sqrt(6))
        reach = 0.0  # how far outside the box the warp samples, in frame pixels
        if warp is not None:
            corners = np.array([[0, 0], [out, 0], [0, out], [out, out]], np.float64).reshape(-1, 1, 2)
            reach = np.abs(cv2.perspectiveTransform(corners, np.linalg.inv(warp)) - corners).max() * side / out
        margin = k * (int(np.ceil(3 * sigma)) + 2 + int(np.ceil(reach / k)))
        left, top = int(np.floor(x0)) - margin, int(np.floor(y0)) - margin
        span = k * int(np.ceil((np.ceil(side) + 2 * margin) / k))
        shift = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top]])
        frame = cv2.warpAffine(frame, shift, (span, span), flags=cv2.INTER_NEAREST, borderMode=borders[pad],
                               borderValue=0).astype(np.float32)
        if k > 1:
            frame = cv2.resize(frame, (span // k, span // k), interpolation=cv2.INTER_AREA)
        if sigma > 0.05:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        x0, y0, side = (x0 - left) / k, (y0 - top) / k, side / k
    s = out / side
    # forward map frame -> crop, the same affine as to_crop()
    m = np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])
    if warp is None:
        crop = cv2.warpAffine(frame, m, (out, out), flags=flags, borderMode=borders[pad], borderValue=0)
    else:
        m = warp @ np.vstack([m, [0.0, 0.0, 1.0]])
        crop = cv2.warpPerspective(frame, m, (out, out), flags=flags, borderMode=borders[pad], borderValue=0)
    return crop if crop.dtype == np.uint8 else np.clip(np.rint(crop), 0, 255).astype(np.uint8)
