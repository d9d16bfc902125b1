"""Attacks that only time reveals: every single frame is a live frame (the camera adds the rest).

``still-print``: one frame of a live video, held for the whole video: a camera filming a flawless
print on a stand. ``still-pause``: a live video that updates only every 10-20 frames and holds the
frame in between: a paused or stuttering screen. ``rigid-plane``: one live frame moved as a plane
(zoom, pan, roll, perspective and camera shake): a flawless photo filmed by a moving camera, or an
animated photo done well. ``rigid-layers``: the same frame cut into a head layer and an inpainted
background layer that move with different parallax (2.5-D), plus zoom and shake. ``rigid-head``
(opt-in): the same frame's head turned as a rigid 3-D body by ``live-spline``'s pose and thin-plate
spline (a photo-animation app that moves the head but no eyelid, lip or brow, and no skin or light).
"""
from __future__ import annotations

import cv2
import numpy as np

from fasstream.data import faces
from fasstream.data.synth.live import render_live
from fasstream.data.synth.scene import Identity, similarity
from fasstream.data.synth.spline import RestFace, draw_pose, pose_points, warp_face
from fasstream.data.synth.viewpoint import camera_path, pose_homography

HOLD_FRAMES = (10, 20)
"""Shortest and longest hold of ``still-pause``, in frames."""


def live_source(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """A live video's scene frames and landmarks (rendered by ``live``), and the index of the frame a still
    attack is made of."""
    scene, tracks = live(ident, rng, n, fps)
    return scene, tracks, int(rng.integers(n))


def render_still_print(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """One live frame held for ``n`` frames (the camera later adds fresh noise to each)."""
    scene, tracks, j = live_source(ident, rng, n, fps, live)
    return [scene[j]] * n, np.repeat(tracks[j:j + 1], n, axis=0)


def hold_index(rng: np.random.Generator, n: int) -> np.ndarray:
    """Frame shown at each of ``n`` frames: the first frame of each hold of 10-20 frames."""
    index, start = np.empty(n, int), 0
    while start < n:
        length = int(rng.integers(HOLD_FRAMES[0], HOLD_FRAMES[1] + 1))
        index[start:start + length] = start
        start += length
    return index


def render_still_pause(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """A live video that shows a new frame only every 10-20 frames and holds it in between."""
    scene, tracks = live(ident, rng, n, fps)
    index = hold_index(rng, n)
    return [scene[k] for k in index], tracks[index]


def render_rigid_plane(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """One live frame moved as a plane: pan, roll, perspective, zoom and shake."""
    scene, tracks, j = live_source(ident, rng, n, fps, live)
    size = ident.image.shape[0]
    path = camera_path(rng, n, fps, rng.uniform(0.6, 1.2))
    base = rng.uniform(1.08, 1.14)  # zoomed in far enough that the photo's edges never show
    frames, out = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        hom = pose_homography((size, size), size, base * path["zoom"][i], (path["x"][i], path["y"][i]),
                              path["yaw"][i], path["pitch"][i], path["roll"][i])
        frames.append(cv2.warpPerspective(scene[j], hom, (size, size), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT_101))
        out[i] = faces.project(hom, tracks[j])
    return frames, out


def render_rigid_layers(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """One live frame as two layers (head, inpainted background) moving with different parallax."""
    scene, tracks, j = live_source(ident, rng, n, fps, live)
    size = ident.image.shape[0]
    still, points = scene[j], tracks[j]
    matte = faces.head_mask(points, size, shoulders=True, blur=3)
    hole = (cv2.dilate((matte > 0.05).astype(np.uint8), np.ones((9, 9), np.uint8)) * 255)
    half = cv2.inpaint(cv2.resize(np.clip(still, 0, 255).astype(np.uint8), (size // 2, size // 2)),
                       cv2.resize(hole, (size // 2, size // 2), interpolation=cv2.INTER_NEAREST), 5, cv2.INPAINT_TELEA)
    plate = cv2.GaussianBlur(cv2.resize(half, (size, size)).astype(np.float32), (0, 0), 1.5)
    plate = np.where(hole[..., None] > 0, plate, still)
    near = camera_path(rng, n, fps, rng.uniform(0.6, 1.2))
    depth_ratio = rng.uniform(0.2, 0.6)  # the background moves this much of the head's motion
    centre = points.mean(0)
    base = rng.uniform(1.06, 1.1)
    frames, out = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        move = (near["x"][i], near["y"][i])
        head = similarity(centre, near["roll"][i], base * near["zoom"][i], centre + move)
        back = similarity(centre, depth_ratio * near["roll"][i], base * (1 + depth_ratio * (near["zoom"][i] - 1)),
                          centre + depth_ratio * np.asarray(move))
        layer = cv2.warpAffine(still, head, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        alpha = cv2.warpAffine(matte, head, (size, size), flags=cv2.INTER_LINEAR)[..., None]
        behind = cv2.warpAffine(plate, back, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        frames.append(alpha * layer + (1 - alpha) * behind)
        out[i] = faces.project(head, points)
    return frames, out


def render_rigid_head(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """One live frame whose head turns, shifts and breathes as a rigid 3-D body (``synth.spline``'s pose
    and warp), with no expression, pulse or light change."""
    scene, tracks, j = live_source(ident, rng, n, fps, live)
    size = ident.image.shape[0]
    still, rest = scene[j], RestFace.of(tracks[j].astype(np.float64), size)
    pose = draw_pose(rng, np.arange(n) / fps, fps, size)
    frames, out = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        dst = pose_points(rest.points, rest, pose, i)
        frames.append(warp_face(still, rest, dst, pose.carry))
        out[i] = dst
    return frames, out
