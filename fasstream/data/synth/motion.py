"""How a face moves: warps of a still portrait into frames, with exact landmarks for every frame.

A head-weighted affine moves the head over a fixed background; a 3-D head turn displaces every
pixel by a pseudo-depth (a dome over the head plus the nose), so the nose moves more than the
cheeks (in-face parallax that no single plane shows); blinks, mouth and brow motion are local warps.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fasstream.data import faces
from fasstream.data.synth.scene import grid, smooth_noise, wave


@dataclass(frozen=True)
class Motion:
    """Amplitudes of one video's motion.

    ``head``: (degrees, pixels, relative scale) of the head-weighted affine. ``turn``: pixels of
    parallax at the nose tip from turning the head (yaw and pitch). ``expressive``: blinks, mouth and
    brows (``speech`` False: blinks only, the mouth and brows still). ``pulse``: a 1-1.5 Hz skin colour signal. ``drift``: pixels of a smooth global warp.
    ``loop``: seconds of a ping-pong loop that the motion repeats (0: no loop).
    """

    head: tuple[float, float, float]
    turn: float = 0.0
    expressive: bool = False
    speech: bool = True
    pulse: bool = False
    drift: float = 0.0
    loop: float = 0.0


def _local_field(points: np.ndarray, size: int, where: np.ndarray, reach: float, spread: float) -> np.ndarray:
    """Unit displacement profile (along the face's down axis) centred at ``where``: a soft blob."""
    gx, gy = grid(size)
    geo = faces.face_frame(points)
    down, right = -geo["up"], geo["right"]
    along = (gx - where[0]) * down[0] + (gy - where[1]) * down[1]
    across = (gx - where[0]) * right[0] + (gy - where[1]) * right[1]
    return (np.exp(-0.5 * (along / reach) ** 2) * np.exp(-0.5 * (across / spread) ** 4)).astype(np.float32)


def blink_field(points: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel eyelid displacement (pixels along the face's down axis) at the deepest blink.

    The warp only compresses the eye to about half its opening: a partial blink, but fold-free.
    """
    gx, gy = grid(size)
    geo = faces.face_frame(points)
    down, right = -geo["up"], geo["right"]
    field = np.zeros((size, size), np.float32)
    for eye in (faces.RIGHT_EYE, faces.LEFT_EYE):
        lid = points[eye]
        width = float(np.linalg.norm(lid[3] - lid[0]))
        opening = max(float(np.linalg.norm(lid[1] - lid[5]) + np.linalg.norm(lid[2] - lid[4])) / 2, 0.2 * width)
        upper = (lid[1] + lid[2]) / 2
        along = (gx - upper[0]) * down[0] + (gy - upper[1]) * down[1]
        across = (gx - lid.mean(0)[0]) * right[0] + (gy - lid.mean(0)[1]) * right[1]
        ramp = np.clip(along / (1.2 * opening), 0, 1)
        profile = np.where(along < 0, np.exp(-0.5 * (along / (1.5 * opening)) ** 2), 1 - ramp * ramp * (3 - 2 * ramp))
        field += 1.2 * opening * profile * np.exp(-0.5 * (across / (0.65 * width)) ** 4)
    return field


def jaw_field(points: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel displacement (unit amplitude, down axis) that drops the lower lip and jaw."""
    gx, gy = grid(size)
    geo = faces.face_frame(points)
    down, right = -geo["up"], geo["right"]
    line = (points[62] + points[66]) / 2
    to_chin = max(float(np.dot(geo["chin"] - line, down)), 1.0)
    along = (gx - line[0]) * down[0] + (gy - line[1]) * down[1]
    across = (gx - line[0]) * right[0] + (gy - line[1]) * right[1]
    profile = np.where(along < 0, np.exp(-0.5 * (along / (0.3 * to_chin)) ** 2),
                       np.exp(-0.5 * (np.maximum(along - to_chin, 0) / (0.35 * to_chin)) ** 2))
    return (profile * np.exp(-0.5 * (across / (0.4 * geo["width"])) ** 4)).astype(np.float32)


def depth_field(points: np.ndarray, size: int) -> np.ndarray:
    """Pseudo-depth in [0, 1] towards the camera: a dome over the head plus the nose."""
    geo = faces.face_frame(points)
    dome = faces.head_mask(points, size, blur=0.25 * geo["width"])
    gx, gy = grid(size)
    nose = np.exp(-0.5 * ((gx - points[30, 0]) ** 2 + (gy - points[30, 1]) ** 2) / (0.12 * geo["width"]) ** 2)
    depth = 0.65 * dome / max(float(dome.max()), 1e-6) + 0.35 * nose
    return (depth / max(float(depth.max()), 1e-6)).astype(np.float32)


def _ping_pong(times: np.ndarray, period: float) -> np.ndarray:
    phase = np.mod(times, period)
    return np.where(phase < period / 2, phase, period - phase)


def animate(still: np.ndarray, points: np.ndarray, rng: np.random.Generator, n: int, fps: float,
            motion: Motion) -> tuple[list[np.ndarray], np.ndarray]:
    """Warp a float still over ``n`` frames; returns the float frames and ``(n, 68, 2)`` landmarks."""
    size = still.shape[0]
    gx, gy = grid(size)
    times = np.arange(n) / fps
    if motion.loop:
        times = _ping_pong(times, motion.loop)
    geo = faces.face_frame(points)
    centre, down = geo["centre"], -geo["up"]
    weight = faces.head_mask(points, size, blur=12)
    angles, shifts_x, shifts_y = (wave(rng, times, a) for a in (motion.head[0], motion.head[1], motion.head[1]))
    scales = 1 + wave(rng, times, motion.head[2])
    if motion.turn:
        depth = depth_field(points, size)
        yaw, pitch = wave(rng, times, motion.turn, 0.2, 0.8), wave(rng, times, 0.6 * motion.turn, 0.2, 0.8)
    local = np.zeros(n, np.float32)
    if motion.expressive:
        eyes, jaw = blink_field(points, size), jaw_field(points, size)
        brow_centre = points[faces.BROWS].mean(0)
        brows = _local_field(points, size, brow_centre, 0.2 * geo["height"], 0.6 * geo["width"])
        blinks = np.zeros(n)
        for start in rng.uniform(0.1, max(times[-1] - 0.1, 0.2), rng.integers(1, 4)):
            blinks += np.exp(-0.5 * ((times - start) / 0.07) ** 2)
        talk = rng.uniform(0.03, 0.08) * geo["height"] if rng.random() < 0.8 else 0.01 * geo["height"]
        mouth = talk * np.maximum(np.sin(2 * np.pi * rng.uniform(0.6, 1.8) * times + rng.uniform(0, 6.3)), 0) ** 2
        raise_ = -rng.uniform(0.01, 0.03) * geo["height"] * (0.5 + 0.5 * np.sin(
            2 * np.pi * rng.uniform(0.3, 1.0) * times + rng.uniform(0, 6.3)))
        if not motion.speech:  # drawn all the same, so that one seed gives the same blinks either way
            mouth, raise_ = 0 * mouth, 0 * raise_
        blinks, mouth, raise_ = (v.astype(np.float32) for v in (blinks, mouth, raise_))
        local = np.abs(blinks) + np.abs(mouth) + np.abs(raise_)
    if motion.pulse:
        rate, phase = rng.uniform(1.0, 1.5), rng.uniform(0, 2 * np.pi)
        pulse = (np.sin(2 * np.pi * rate * times + phase)
                 + 0.35 * np.sin(4 * np.pi * rate * times + 2 * phase)).astype(np.float32)
        tint = rng.uniform(0.018, 0.028) * np.array([0.45, 1.0, 0.3], np.float32)
        skin_signal = still * faces.skin_mask(points, size)[..., None] * tint
    if motion.drift:
        fields = [motion.drift * smooth_noise(rng, size, 3, 2) for _ in range(2)]
        gains = [wave(rng, times, 1.0, 0.3, 0.8).astype(np.float32) for _ in range(2)]
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angles[i]), float(scales[i]))
        rot[:, 2] += (shifts_x[i], shifts_y[i])
        back = cv2.invertAffineTransform(rot).astype(np.float32)
        map_x = gx + weight * (back[0, 0] * gx + back[0, 1] * gy + back[0, 2] - gx)
        map_y = gy + weight * (back[1, 0] * gx + back[1, 1] * gy + back[1, 2] - gy)
        if motion.turn:  # sample from where the pixel was before the turn: nearer parts move more
            shift = cv2.remap(depth, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            map_x, map_y = map_x - float(yaw[i]) * shift, map_y - float(pitch[i]) * shift
        image = still + pulse[i] * skin_signal if motion.pulse else still
        if local[i] > 1e-3:
            lift = cv2.remap(blinks[i] * eyes + mouth[i] * jaw + raise_[i] * brows, map_x, map_y,
                             cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            map_x, map_y = map_x - lift * down[0], map_y - lift * down[1]
        if motion.drift:
            map_x = map_x + gains[0][i] * fields[0][..., 0] + gains[1][i] * fields[1][..., 0]
            map_y = map_y + gains[0][i] * fields[0][..., 1] + gains[1][i] * fields[1][..., 1]
        frames.append(cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
        tracks[i] = faces.invert_map(map_x, map_y, points)
    return frames, tracks
