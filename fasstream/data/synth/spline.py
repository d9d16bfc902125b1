"""A third live renderer, trained on beside ``live``: landmarks posed in 3-D and a thin-plate-spline warp.

``live-spline`` shares only the portrait with ``synth.motion`` (sinusoid-driven head-weighted affine,
dome parallax, local warp fields) and with the held-out ``synth.mesh`` (Ornstein-Uhlenbeck pose,
piecewise-affine mesh, Lambertian light). The subject settles between poses: fixations joined by
minimum-jerk moves, a small tremor and breathing. The 68 landmarks ride on a cylinder-plus-nose depth
and are projected in perspective; blinks, smiles, brow raises and speech move landmarks before the
pose; the image follows the landmarks through a smooth thin-plate spline (fitted on the landmarks, a
ring that moves with the hair and neck at a fraction of the face, and fixed border points; evaluated
on a 4-px grid). A pulse and a slow change of the room light on the face are each drawn in about half
of the videos, so that neither stands for "live".
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.ndimage import gaussian_filter1d

from fasstream.data import faces
from fasstream.data.synth.scene import Identity, grid
from fasstream.data.synth.viewpoint import rotation

UPPER_LIDS, LOWER_LIDS = [37, 38, 43, 44], [41, 40, 47, 46]
BROWS = list(range(17, 27))
MOUTH_CORNERS = [48, 54]
LOWER_LIP = [56, 57, 58, 65, 66, 67]
JAW = [6, 7, 8, 9, 10]
NOSE_TIP = 30
GRID_STEP = 4
"""Pixels between the points where the spline is evaluated (the map between them is bilinear)."""


def minimum_jerk(s: np.ndarray) -> np.ndarray:
    """The minimum-jerk profile 0 -> 1 over ``s`` in [0, 1] (clipped outside)."""
    s = np.clip(s, 0, 1)
    return s ** 3 * (10 - 15 * s + 6 * s * s)


def fixations(rng: np.random.Generator, times: np.ndarray, spread: float,
              dwell: tuple[float, float] = (0.3, 1.2), move: tuple[float, float] = (0.25, 0.6)) -> np.ndarray:
    """A value that holds at random targets (std ``spread``) for ``dwell`` seconds and moves between them in
    ``move`` seconds along minimum-jerk paths, sampled at ``times``."""
    value = rng.normal(0, spread)
    out = np.full(times.shape, value)
    start = -rng.uniform(0, dwell[1])
    while start < times[-1]:
        begin = start + rng.uniform(*dwell)
        length = rng.uniform(*move)
        target = rng.normal(0, spread)
        out = np.where(times >= begin, value + (target - value) * minimum_jerk((times - begin) / length), out)
        value, start = target, begin + length
    return out


def bumps(rng: np.random.Generator, times: np.ndarray, rate_hz: float, length: tuple[float, float]) -> np.ndarray:
    """0..1 events at gamma-distributed intervals (mean ``1 / rate_hz``): a minimum-jerk rise and fall each."""
    out = np.zeros_like(times)
    start = rng.uniform(-0.5, 1) / rate_hz
    while start < times[-1]:
        span = rng.uniform(*length)
        s = (times - start) / span
        out = np.maximum(out, np.where(s < 0.5, minimum_jerk(2 * s), minimum_jerk(2 - 2 * s)))
        start += span + rng.gamma(2.0, 0.5 / rate_hz)
    return out


def head_depth(points: np.ndarray) -> np.ndarray:
    """Depth towards the camera of the 68 landmarks: a vertical cylinder, the nose ridge out, the eyes in."""
    geo = faces.face_frame(points)
    across = (points - geo["centre"]) @ geo["right"] / (0.6 * geo["width"])
    depth = 0.5 * geo["width"] * np.sqrt(np.clip(1 - across ** 2, 0.05, 1))
    depth += 0.2 * geo["width"] * np.exp(-0.5 * (np.linalg.norm(points - points[NOSE_TIP], axis=1)
                                                 / (0.15 * geo["width"])) ** 2)
    depth[36:48] -= 0.03 * geo["width"]
    return depth


def anchors(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Spline anchors beyond the landmarks: a ring round the head (hair, ears, neck) and fixed border points."""
    geo = faces.face_frame(points)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = (geo["centre"] + np.cos(angles)[:, None] * 0.85 * geo["width"] * geo["right"]
            + np.sin(angles)[:, None] * 1.1 * geo["height"] * geo["up"])
    edge = np.linspace(0, size - 1, 6)
    border = np.array([(x, y) for x in edge for y in edge if x in (edge[0], edge[-1]) or y in (edge[0], edge[-1])])
    return ring, border


def spline_map(dst: np.ndarray, src: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward map ``(map_x, map_y)`` of a thin-plate spline that takes ``src`` points to ``dst``."""
    coarse = np.arange(0, size + GRID_STEP, GRID_STEP, dtype=np.float64)
    cx, cy = np.meshgrid(coarse, coarse)
    spline = RBFInterpolator(dst, src - dst, kernel="thin_plate_spline", smoothing=1e-3)  # closed lips coincide
    shift = spline(np.column_stack([cx.ravel(), cy.ravel()])).reshape(len(coarse), len(coarse), 2)
    gx, gy = grid(size)  # grid point k is pixel k * GRID_STEP: bilinear between them, corners aligned
    full = cv2.remap(shift.astype(np.float32), gx / GRID_STEP, gy / GRID_STEP, cv2.INTER_LINEAR)
    return gx + full[..., 0], gy + full[..., 1]


@dataclass(frozen=True)
class HeadPose:
    """A head's path over a video: fixation-driven yaw, pitch and roll (degrees) with tremor, image shift with
    breathing, zoom, how far the hair and neck follow (``carry``) and the camera's focal length (pixels)."""

    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    shift: np.ndarray
    zoom: np.ndarray
    carry: float
    focal: float


def draw_pose(rng: np.random.Generator, times: np.ndarray, fps: float, size: int) -> HeadPose:
    """A random ``HeadPose`` sampled at ``times``, for frames of ``size`` pixels."""
    tremor = [gaussian_filter1d(rng.normal(0, 1, len(times)), 0.1 * fps) for _ in range(3)]
    yaw, pitch, roll = (fixations(rng, times, rng.uniform(*spread)) + rng.uniform(0.1, 0.4) * shake
                        for spread, shake in zip(((2.0, 5.0), (1.5, 3.5), (0.5, 2.0)), tremor))
    breath = rng.uniform(0.4, 1.5) * np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * times + rng.uniform(0, 6.3))
    shift = np.column_stack([fixations(rng, times, rng.uniform(1.0, 3.0)),
                             fixations(rng, times, rng.uniform(1.0, 2.5)) + breath])
    zoom = 1 + fixations(rng, times, rng.uniform(0.004, 0.012))
    carry = rng.uniform(0.3, 0.7)
    return HeadPose(yaw, pitch, roll, shift, zoom, carry, rng.uniform(2.5, 4.0) * size)


@dataclass(frozen=True)
class RestFace:
    """A face at rest, prepared once for posing and warping: its landmarks, their depth (``head_depth``), the
    centre and the pivot behind the face that turns revolve about, and the spline's extra anchors (``anchors``)."""

    points: np.ndarray
    centre: np.ndarray
    pivot: np.ndarray
    depth: np.ndarray
    ring: np.ndarray
    border: np.ndarray

    @classmethod
    def of(cls, points: np.ndarray, size: int) -> RestFace:
        """The rest face of 68 landmarks ``points`` in a ``size``-pixel frame."""
        geo = faces.face_frame(points)
        ring, border = anchors(points, size)
        return cls(points, geo["centre"], np.array([*geo["centre"], -0.6 * geo["width"]]), head_depth(points),
                   ring, border)


def pose_points(shaped: np.ndarray, rest: RestFace, pose: HeadPose, i: int) -> np.ndarray:
    """Image position at frame ``i`` of landmarks ``shaped`` (the face ``rest`` with its expression): turned in
    3-D on the rest depth about the pivot, projected in perspective, zoomed and shifted."""
    turn = rotation(pose.yaw[i], pose.pitch[i], pose.roll[i])
    posed = (np.column_stack([shaped, rest.depth]) - rest.pivot) @ turn.T + rest.pivot
    scale = pose.zoom[i] * pose.focal / (pose.focal - posed[:, 2:3])
    return rest.centre + pose.shift[i] + scale * (posed[:, :2] - rest.centre)


def warp_face(image: np.ndarray, rest: RestFace, dst: np.ndarray, carry: float) -> np.ndarray:
    """``image``, whose landmarks are ``rest.points``, warped by a thin-plate spline so that they land on ``dst``;
    the hair and neck ring follows the face's shift by ``carry``, the border stays."""
    moved = dst.mean(0) - rest.points.mean(0)
    map_x, map_y = spline_map(np.vstack([dst, rest.ring + carry * moved, rest.border]),
                              np.vstack([rest.points, rest.ring, rest.border]), image.shape[0])
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def render_live_spline(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a live subject posed as 3-D landmarks and warped by a spline."""
    size = ident.image.shape[0]
    points = ident.landmarks.astype(np.float64)
    geo = faces.face_frame(points)
    up, right = geo["up"], geo["right"]
    times = np.arange(n) / fps
    rest, pose = RestFace.of(points, size), draw_pose(rng, times, fps, size)
    blink = bumps(rng, times, rng.uniform(0.15, 0.45), (0.12, 0.3))
    smile = rng.uniform(0.0, 0.05) * geo["width"] * bumps(rng, times, 0.25, (0.8, 2.0))
    brow = rng.uniform(0.0, 0.05) * geo["height"] * bumps(rng, times, 0.3, (0.4, 1.2))
    speech = rng.uniform(0.0, 0.08) * geo["height"] * bumps(rng, times, rng.uniform(2.0, 4.5), (0.15, 0.35))
    still = ident.image.astype(np.float32)
    skin = faces.skin_mask(ident.landmarks, size)[..., None]
    pulse_gain = rng.uniform(0.015, 0.03) if rng.random() < 0.5 else 0.0
    pulse = np.sin(2 * np.pi * rng.uniform(0.9, 1.6) * times + rng.uniform(0, 6.3))
    tint = pulse_gain * skin * np.array([0.5, 1.0, 0.3], np.float32)
    light_gain = rng.uniform(0.03, 0.08) if rng.random() < 0.5 else 0.0
    light = fixations(rng, times, 1.0, dwell=(0.5, 2.0), move=(0.5, 1.5))
    light_dir = rng.normal(size=2)
    light_dir /= np.linalg.norm(light_dir)
    gx, gy = grid(size)
    ramp = ((gx - geo["centre"][0]) * light_dir[0] + (gy - geo["centre"][1]) * light_dir[1]) / geo["width"]
    sides = np.sign((points[MOUTH_CORNERS] - geo["centre"]) @ right)[:, None]
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        shaped = points.copy()
        shaped[UPPER_LIDS] += 0.9 * blink[i] * (points[LOWER_LIDS] - points[UPPER_LIDS])
        shaped[MOUTH_CORNERS] += smile[i] * (sides * right + 0.5 * up)
        shaped[BROWS] += brow[i] * up
        shaped[LOWER_LIP] -= speech[i] * up
        shaped[JAW] -= 0.7 * speech[i] * up
        dst = pose_points(shaped, rest, pose, i)
        frame = warp_face(still * (1 + pulse[i] * tint) if pulse_gain else still, rest, dst, pose.carry)
        if light_gain:  # the room's light changes on the face where it is now, not where it was
            head = faces.head_mask(dst.astype(np.float32), size, blur=8)[..., None]
            frame = frame * (1 + light_gain * light[i] * head * np.clip(ramp, -1.5, 1.5)[..., None])
        frames.append(frame)
        tracks[i] = dst
    return frames, tracks
