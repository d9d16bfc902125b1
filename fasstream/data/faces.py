"""Public-domain source faces with their 68 iBUG landmarks, and geometry on landmarks.

The sources are ``skimage.data.astronaut()`` (NASA, public domain) and matplotlib's
``grace_hopper.jpg`` (US Navy portrait). Their landmarks were found once with dlib's HOG detector
and 68-point shape predictor and are stored in ``source_landmarks.json``.
"""
from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

JAW, BROWS = slice(0, 17), slice(17, 27)
RIGHT_EYE, LEFT_EYE, OUTER_LIPS = slice(36, 42), slice(42, 48), slice(48, 60)


def _mirror_order() -> np.ndarray:
    """Index permutation that relabels the 68 points after a horizontal flip."""
    pairs = [(i, 16 - i) for i in range(17)]                              # jaw
    pairs += [(17 + i, 26 - i) for i in range(10)]                        # brows
    pairs += [(27 + i, 27 + i) for i in range(4)]                         # nose bridge
    pairs += [(31 + i, 35 - i) for i in range(5)]                         # nostrils
    pairs += list(zip([36, 37, 38, 39, 40, 41], [45, 44, 43, 42, 47, 46]))  # eyes
    pairs += list(zip([42, 43, 44, 45, 46, 47], [39, 38, 37, 36, 41, 40]))
    pairs += [(48 + i, 54 - i) for i in range(7)]                         # outer lips, top
    pairs += [(55 + i, 59 - i) for i in range(5)]                         # outer lips, bottom
    pairs += [(60 + i, 64 - i) for i in range(5)]                         # inner lips, top
    pairs += [(65, 67), (66, 66), (67, 65)]                               # inner lips, bottom
    order = np.empty(68, dtype=np.int64)
    for i, j in pairs:
        order[i] = j
    return order


MIRROR = _mirror_order()


def flip_face(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror an image left-right and move its landmarks with it, keeping the iBUG point order."""
    width = image.shape[1]
    flipped = landmarks[MIRROR].copy()
    flipped[:, 0] = width - 1 - flipped[:, 0]
    return np.ascontiguousarray(image[:, ::-1]), flipped


def _load_sources() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    import skimage.data

    grace = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    if grace is None:
        raise FileNotFoundError("matplotlib's sample image grace_hopper.jpg could not be read; "
                                "reinstall matplotlib")
    return {"astronaut": skimage.data.astronaut(), "grace_hopper": np.ascontiguousarray(grace[..., ::-1])}


SOURCE_LANDMARKS = Path(__file__).with_name("source_landmarks.json")


def measure_source_landmarks() -> dict[str, np.ndarray]:
    """The source faces' 68 points found afresh by dlib (opt-in; how ``source_landmarks.json`` was made)."""
    from fasstream.faces.landmarks import DlibLandmarks

    detector, out = DlibLandmarks(), {}
    for name, image in _load_sources().items():
        points = detector.detect(image)
        if points is None:
            raise RuntimeError(f"dlib found no face in source image {name!r}; check the dlib-bin and "
                               "scikit-image/matplotlib versions")
        out[name] = points
    return out


@functools.lru_cache(maxsize=1)
def source_faces() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (image (H,W,3) uint8 RGB, landmarks (68,2) float32)}`` for every source face.

    The landmarks are read from ``source_landmarks.json`` (dlib's 68 points, measured once by
    :func:`measure_source_landmarks`), so generating data needs no face detector.
    """
    stored = json.loads(SOURCE_LANDMARKS.read_text())
    images = _load_sources()
    if sorted(stored) != sorted(images):
        raise RuntimeError(f"{SOURCE_LANDMARKS} has landmarks for {sorted(stored)} but the sources are "
                           f"{sorted(images)}; rewrite it from measure_source_landmarks()")
    return {name: (image, np.asarray(stored[name], np.float32)) for name, image in images.items()}


def face_frame(landmarks: np.ndarray) -> dict[str, np.ndarray | float]:
    """Centre, width, height and unit up/right vectors of the face the landmarks outline."""
    chin = landmarks[8]
    brow = landmarks[BROWS].mean(axis=0)
    up = (brow - chin) / max(float(np.linalg.norm(brow - chin)), 1e-6)
    return {"centre": landmarks.mean(axis=0), "width": float(np.linalg.norm(landmarks[16] - landmarks[0])),
            "height": float(np.linalg.norm(brow - chin)), "up": up, "right": np.array([-up[1], up[0]]),
            "chin": chin, "brow": brow}


def _soft_fill(size: int, polygons, blur: float) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), blur)


def _scaled(points: np.ndarray, factor: float) -> np.ndarray:
    centre = points.mean(axis=0)
    return centre + (points - centre) * factor


def skin_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Soft ``(size, size) float32`` mask of face skin: jaw and forehead, without eyes and mouth."""
    geo = face_frame(landmarks)
    forehead = landmarks[BROWS][::-1] + 0.35 * geo["height"] * geo["up"]
    face = _soft_fill(size, [np.vstack([landmarks[JAW], forehead])], blur=3)
    holes = _soft_fill(size, [_scaled(landmarks[RIGHT_EYE], 1.8), _scaled(landmarks[LEFT_EYE], 1.8),
                              _scaled(landmarks[OUTER_LIPS], 1.25)], blur=2)
    return np.clip(face - holes, 0, 1)


def head_mask(landmarks: np.ndarray, size: int, shoulders: bool = False, blur: float = 6) -> np.ndarray:
    """Soft mask of the head (an ellipse over face, forehead and hair), optionally with neck and shoulders."""
    geo = face_frame(landmarks)
    centre = geo["brow"] + 0.1 * geo["height"] * geo["up"]
    angle = float(np.degrees(np.arctan2(geo["right"][1], geo["right"][0])))
    axes = (int(0.68 * geo["width"]), int(1.25 * geo["height"]))
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, angle, 0, 360, 255, -1)
    if shoulders:
        mid, half = geo["chin"][0], geo["width"]
        neck = np.array([landmarks[4], landmarks[12], (mid + 1.1 * half, size + 20), (mid - 1.1 * half, size + 20)])
        cv2.fillPoly(mask, [np.round(neck).astype(np.int32)], 255)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), blur)


def sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear values of a ``(H, W)`` field at ``points (K, 2)`` (x, y), clamped to the border."""
    height, width = field.shape
    x = np.clip(points[:, 0], 0, width - 1)
    y = np.clip(points[:, 1], 0, height - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2)
    fx, fy = x - x0, y - y0
    top = field[y0, x0] * (1 - fx) + field[y0, x0 + 1] * fx
    bottom = field[y0 + 1, x0] * (1 - fx) + field[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def invert_map(map_x: np.ndarray, map_y: np.ndarray, points: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Where source ``points`` land after ``cv2.remap(src, map_x, map_y)``: solve ``map(p) = point``.

    Newton's method with a finite-difference Jacobian and steps of at most 4 px; the maps must be
    smooth and fold-free.
    """
    target = points.astype(np.float64)
    p = target.copy()
    step = 0.5

    def residual_at(q):
        return np.stack([sample(map_x, q), sample(map_y, q)], axis=1).astype(np.float64) - target

    residual = residual_at(p)
    for _ in range(iterations):
        if np.abs(residual).max() < 1e-3:
            break
        jac = np.empty((len(p), 2, 2))
        for axis in range(2):
            offset = np.zeros(2)
            offset[axis] = step
            hi, lo = p + offset, p - offset
            jac[:, 0, axis] = (sample(map_x, hi) - sample(map_x, lo)) / (2 * step)
            jac[:, 1, axis] = (sample(map_y, hi) - sample(map_y, lo)) / (2 * step)
        flat = np.abs(jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]) < 1e-3
        jac[flat] = np.eye(2)  # a clamped or degenerate spot: fall back to a fixed-point step
        p = p - np.clip(np.linalg.solve(jac, residual[..., None])[..., 0], -4, 4)
        residual = residual_at(p)
    if np.abs(residual).max() > 0.05:
        log.warning("invert_map: residual %.3f px after %d iterations; is the map folded?",
                    np.abs(residual).max(), iterations)
    return p.astype(np.float32)


def project(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine or 3x3 homography to ``points (K, 2)``."""
    homog = np.hstack([points, np.ones((len(points), 1))]) @ np.asarray(matrix, np.float64).T
    if homog.shape[1] == 3:
        homog = homog[:, :2] / homog[:, 2:]
    return homog.astype(np.float32)
