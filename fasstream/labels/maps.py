"""Supervision maps for one frame, built from its 68 landmarks in the face crop box.

Coordinates and crop boxes are those of ``fasstream.faces.geometry``: every map samples the
frame's crop box at ``size`` x ``size`` (32), so a map cell covers 8 x 8 pixels of a 256 crop.

Maps (``(size, size) float32`` in [0, 1]; all zero for a spoof)
    position
        The paper's face position map (§II.B): the polygon through the jaw points 0..16 and back
        along the brows 26..17 is 1 for a live face. Edges are anti-aliased: on an 8x finer grid
        a sub-pixel is 1 when its centre is inside the polygon (nonzero winding, exact float
        vertices) and each cell is the mean of its 8 x 8 sub-pixels, i.e. the fraction of the
        cell the polygon covers, to 1/64.
    mask
        Binary-mask supervision (ablation C1), as in DeepPixBiS (George & Marcel, ICB 2019): every
        cell of the face crop is 1 for a live face, with no face/background distinction.
    depth
        Dense pseudo-depth (ablations C2/C5) from a generic template, without any 3D model.
        Canonical template: on the unit disc, with the nose tip at the centre and the face contour
        on the rim, the height at radius r is ``0.7 * sqrt(1 - r**2) + 0.3 * exp(-r**2 / 0.08)``:
        a hemispherical dome plus a nose bump (Gaussian, sigma 0.2), 1 at the nose tip and ~0 on
        the contour. Fit: the face is cut into a fan of triangles (nose tip, point k, point k+1)
        over consecutive contour points (the position-map polygon); each is the affine image of the
        matching canonical disc sector, so a pixel with barycentric weight w on the nose tip has
        r = 1 - w. Where fan triangles overlap (a contour that is not star-shaped around the nose,
        e.g. under strong yaw) the larger height wins, as a z-buffer would. If the nose tip (point
        30) lies outside the contour the fan is centred on the polygon's centroid instead. The
        field is evaluated at the centres of the 8x finer grid and area-averaged like the others.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from fasstream.faces.geometry import check_box, check_landmarks, check_size, to_crop

SUPERSAMPLE = 8  # sub-pixels per map cell along each axis
CONTOUR = np.r_[np.arange(0, 17), np.arange(26, 16, -1)]  # jaw 0..16, then brows 26..17
NOSE_TIP = 30


def _area_downsample(hi: np.ndarray, size: int) -> np.ndarray:
    return hi.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def _rasterise(poly: np.ndarray, n: int) -> np.ndarray:
    """(n, n) 0/1 mask of the pixel centres inside a polygon (nonzero winding rule), exact in float."""
    p, q = poly, np.roll(poly, -1, axis=0)
    ys = np.arange(n, dtype=np.float64)[:, None]
    up = (p[:, 1] <= ys) & (ys < q[:, 1])  # half-open, so a vertex on a row counts once
    down = (q[:, 1] <= ys) & (ys < p[:, 1])
    rows, edges = np.nonzero(up | down)
    dy = q[edges, 1] - p[edges, 1]
    x = p[edges, 0] + (rows - p[edges, 1]) * (q[edges, 0] - p[edges, 0]) / dy
    first = np.clip(np.ceil(x), 0, n).astype(np.int64)  # first pixel centre at or right of the crossing
    winding = np.zeros((n, n + 1), np.int64)
    np.add.at(winding, (rows, first), np.where(up[rows, edges], 1, -1))
    return (np.cumsum(winding, axis=1)[:, :n] != 0).astype(np.float64)


def _contour_polygon(landmarks, crop_box, size: int) -> np.ndarray:
    """Face contour in pixel-centre coordinates of the supersampled grid."""
    return to_crop(check_landmarks(landmarks)[CONTOUR], crop_box, size * SUPERSAMPLE)


def face_position_map(landmarks, crop_box, size: int = 32, live: bool = True) -> np.ndarray:
    """The paper's face position map: the jaw+brow polygon is 1 for a live face; all 0 for a spoof."""
    size = check_size(size)
    poly = _contour_polygon(landmarks, crop_box, size)
    if not live:
        return np.zeros((size, size), np.float32)
    return _area_downsample(_rasterise(poly, size * SUPERSAMPLE), size)


def binary_mask(landmarks, crop_box, size: int = 32, live: bool = True) -> np.ndarray:
    """DeepPixBiS-style binary mask: the whole face crop is 1 for a live face, 0 for a spoof."""
    size = check_size(size)
    check_landmarks(landmarks)
    check_box(crop_box)
    return np.full((size, size), 1.0 if live else 0.0, np.float32)


def _template_height(r: np.ndarray) -> np.ndarray:
    r2 = np.clip(r, 0.0, 1.0) ** 2
    return 0.7 * np.sqrt(1.0 - r2) + 0.3 * np.exp(-r2 / 0.08)


def _fan_centre(poly: np.ndarray, nose: np.ndarray) -> np.ndarray:
    inside = cv2.pointPolygonTest(poly.astype(np.float32).reshape(-1, 1, 2), (float(nose[0]), float(nose[1])), False)
    if inside >= 0:
        return nose
    closed = np.vstack([poly, poly[:1]])
    cross = closed[:-1, 0] * closed[1:, 1] - closed[1:, 0] * closed[:-1, 1]
    area = cross.sum() / 2
    if abs(area) < 1e-9:
        return poly.mean(0)
    return ((closed[:-1] + closed[1:]) * cross[:, None]).sum(0) / (6 * area)


def depth_map(landmarks, crop_box, size: int = 32, live: bool = True) -> np.ndarray:
    """Pseudo-depth of a generic face template fitted to the landmarks (see the module docstring)."""
    size = check_size(size)
    poly = _contour_polygon(landmarks, crop_box, size)
    if not live:
        return np.zeros((size, size), np.float32)
    n = size * SUPERSAMPLE
    centre = _fan_centre(poly, to_crop(check_landmarks(landmarks)[NOSE_TIP], crop_box, n))
    hi = np.zeros((n, n), np.float64)
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        tri = np.stack([centre, a, b])
        lo = np.maximum(np.floor(tri.min(0)), 0).astype(int)
        up = np.minimum(np.ceil(tri.max(0)), n - 1).astype(int)
        if (up < lo).any():
            continue
        det = (a[0] - centre[0]) * (b[1] - centre[1]) - (b[0] - centre[0]) * (a[1] - centre[1])
        if abs(det) < 1e-12:
            continue  # degenerate sector covers no area
        ys, xs = np.mgrid[lo[1]:up[1] + 1, lo[0]:up[0] + 1].astype(np.float64)
        dx, dy = xs - centre[0], ys - centre[1]
        wa = (dx * (b[1] - centre[1]) - dy * (b[0] - centre[0])) / det
        wb = (dy * (a[0] - centre[0]) - dx * (a[1] - centre[1])) / det
        inside = (wa >= 0) & (wb >= 0) & (wa + wb <= 1)
        height = np.where(inside, _template_height(wa + wb), 0.0)  # r = 1 - w_centre = wa + wb
        view = hi[lo[1]:up[1] + 1, lo[0]:up[0] + 1]
        np.maximum(view, height, out=view)
    return np.clip(_area_downsample(hi, size), 0.0, 1.0)


LabelFn = Callable[..., np.ndarray]
LABELS: dict[str, LabelFn] = {"position": face_position_map, "mask": binary_mask, "depth": depth_map}
