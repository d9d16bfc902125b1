"""Synthetic bona fide and presentation-attack videos built on real public-domain faces.

An identity is a source face (see ``faces.source_faces``) plus an augmentation seed: flip, scale,
tilt, a small smooth warp, colour and skin-tone shifts, and often a new background. Every
geometric step is applied to the landmarks too, so each frame has exact 68-point landmarks.

Species:
  live      non-rigid head motion (a head-weighted affine), partial blinks and mouth motion as
            local warps, a 1-1.5 Hz pulse-like skin colour signal, per-frame sensor noise.
  print     a halftoned or paper-textured, desaturated print of the still face, moved rigidly
            as a plane (homography) in front of a background, paper edge visible in some videos.
  replay    a live video shown on a screen with a bezel: gamma and tint shift, moire, rolling
            refresh bands, sometimes glare.
  animated  the still face warped by smooth synthetic motion: no pulse, no blinks, flat print-like
            tones without halftone.
"""
from __future__ import annotations

import functools
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from . import faces
from .records import VideoRecord, write_layout_csv
from .video import write_video

log = logging.getLogger(__name__)

SPECIES = ("live", "print", "replay", "animated")
FRAME_SIZE = 320
FPS_CHOICES = (25, 30)
MIN_FRAMES, MAX_FRAMES = 40, 60
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Identity:
    """A synthetic subject: a still portrait ``(S, S, 3) uint8`` with its landmarks ``(68, 2)``."""

    name: str
    source: str
    image: np.ndarray
    landmarks: np.ndarray


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    return gx, gy


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a ``cells`` x ``cells`` random grid upsampled smoothly."""
    coarse = rng.standard_normal((cells, cells, channels)).astype(np.float32)
    fine = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).reshape(size, size, channels)
    return fine / max(float(np.abs(fine).max()), 1e-6)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A blurred indoor-looking backdrop: colour gradient, soft blotches and a few flat shapes."""
    gx, gy = _grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (gx * np.cos(angle) + gy * np.sin(angle)) / size
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    start, end = rng.uniform(30, 220, (2, 3)).astype(np.float32)
    image = start + (end - start) * ramp[..., None] + 18 * _smooth_noise(rng, size, 5, 3)
    for _ in range(rng.integers(1, 4)):
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        patch = image[y0:y0 + h, x0:x0 + w]
        patch[:] = 0.4 * patch + 0.6 * rng.uniform(20, 235, 3).astype(np.float32)
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 2.5)


def _similarity(centre, angle_deg: float, scale: float, target) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, scale)
    matrix[:, 2] += np.asarray(target, np.float64) - np.asarray(centre, np.float64)
    return matrix


def make_identity(source: str, seed: int, name: str | None = None, size: int = FRAME_SIZE) -> Identity:
    """Build the portrait of one synthetic subject from a source face and an augmentation seed."""
    sources = faces.source_faces()
    if source not in sources:
        raise ValueError(f"unknown source face {source!r}; choose one of {sorted(sources)}")
    rng = np.random.default_rng(seed)
    image, points = sources[source]
    if rng.random() < 0.5:
        image, points = faces.flip_face(image, points)
    geo = faces.face_frame(points)
    scale = rng.uniform(0.44, 0.54) * size / geo["width"]
    target = (size / 2 + rng.uniform(-8, 8), size * 0.52 + rng.uniform(-8, 8))
    matrix = _similarity(geo["centre"], rng.uniform(-6, 6), scale, target)
    canvas = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    points = faces.project(matrix, points)

    gx, gy = _grid(size)  # a small smooth warp changes the face shape a little
    field = rng.uniform(2, 4) * _smooth_noise(rng, size, 4, 2)
    map_x, map_y = gx + field[..., 0], gy + field[..., 1]
    canvas = cv2.remap(canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    points = faces.invert_map(map_x, map_y, points)

    skin = faces.head_mask(points, size, blur=10)[..., None]  # skin tone, then white balance and exposure
    tone = rng.uniform(0.72, 1.12) * np.array([1 + rng.uniform(-0.06, 0.08), 1, 1 - rng.uniform(-0.05, 0.1)])
    canvas = canvas * (1 + skin * (tone.astype(np.float32) - 1))
    canvas = canvas * rng.uniform(0.92, 1.08, 3).astype(np.float32) * rng.uniform(0.88, 1.1)
    canvas = 255 * (np.clip(canvas, 0, 255) / 255) ** rng.uniform(0.85, 1.2)
    if rng.random() < 0.7:
        keep = faces.head_mask(points, size, shoulders=True)[..., None]
        canvas = keep * canvas + (1 - keep) * _background(rng, size)
    name = name or f"{source}-{seed}"
    return Identity(name, source, np.clip(canvas, 0, 255).astype(np.uint8), points.astype(np.float32))


def _wave(rng: np.random.Generator, times: np.ndarray, amplitude: float, low=0.15, high=0.9) -> np.ndarray:
    """Smooth motion: two sinusoids of random frequency (Hz) and phase, peak about ``amplitude``."""
    f1, f2 = rng.uniform(low, high, 2)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    return amplitude * (0.65 * np.sin(2 * np.pi * f1 * times + p1) + 0.35 * np.sin(2 * np.pi * f2 * times + p2))


def _blink_field(points: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel eyelid displacement (pixels along the face's down axis) at the deepest blink.

    The warp only compresses the eye to about half its opening: a partial blink, but fold-free.
    """
    gx, gy = _grid(size)
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


def _jaw_field(points: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel displacement (unit amplitude, down axis) that drops the lower lip and jaw."""
    gx, gy = _grid(size)
    geo = faces.face_frame(points)
    down, right = -geo["up"], geo["right"]
    line = (points[62] + points[66]) / 2
    to_chin = max(float(np.dot(geo["chin"] - line, down)), 1.0)
    along = (gx - line[0]) * down[0] + (gy - line[1]) * down[1]
    across = (gx - line[0]) * right[0] + (gy - line[1]) * right[1]
    profile = np.where(along < 0, np.exp(-0.5 * (along / (0.3 * to_chin)) ** 2),
                       np.exp(-0.5 * (np.maximum(along - to_chin, 0) / (0.35 * to_chin)) ** 2))
    return (profile * np.exp(-0.5 * (across / (0.4 * geo["width"])) ** 4)).astype(np.float32)


def _animate(still: np.ndarray, points: np.ndarray, rng: np.random.Generator, n: int, fps: float, *,
             head: tuple[float, float, float], live: bool, drift: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Warp a float still over ``n`` frames; returns the float frames and ``(n, 68, 2)`` landmarks.

    ``head`` = (degrees, pixels, relative scale) of the head-weighted affine motion; ``live`` adds
    blinks, mouth motion and the pulse; ``drift`` is the amplitude (pixels) of a smooth global warp.
    """
    size = still.shape[0]
    gx, gy = _grid(size)
    times = np.arange(n) / fps
    geo = faces.face_frame(points)
    centre, down = geo["centre"], -geo["up"]
    weight = faces.head_mask(points, size, blur=12)
    angles, shifts_x, shifts_y = (_wave(rng, times, a) for a in (head[0], head[1], head[1]))
    scales = 1 + _wave(rng, times, head[2])
    if live:
        eyes, jaw = _blink_field(points, size), _jaw_field(points, size)
        blinks = np.zeros(n)
        for start in rng.uniform(0.15, max(times[-1] - 0.15, 0.2), rng.integers(1, 3)):
            blinks += np.exp(-0.5 * ((times - start) / 0.07) ** 2)
        talk = rng.uniform(0.03, 0.08) * geo["height"] if rng.random() < 0.7 else 0.0
        mouth = talk * np.maximum(np.sin(2 * np.pi * rng.uniform(0.6, 1.6) * times + rng.uniform(0, 6.3)), 0) ** 2
        blinks, mouth = blinks.astype(np.float32), mouth.astype(np.float32)
        local = blinks + mouth
        rate, phase = rng.uniform(1.0, 1.5), rng.uniform(0, 2 * np.pi)
        pulse = (np.sin(2 * np.pi * rate * times + phase)
                 + 0.35 * np.sin(4 * np.pi * rate * times + 2 * phase)).astype(np.float32)
        tint = rng.uniform(0.018, 0.028) * np.array([0.45, 1.0, 0.3], np.float32)
        skin_signal = still * faces.skin_mask(points, size)[..., None] * tint
    if drift:
        fields = [drift * _smooth_noise(rng, size, 3, 2) for _ in range(2)]
        gains = [_wave(rng, times, 1.0, 0.3, 0.8).astype(np.float32) for _ in range(2)]
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angles[i]), float(scales[i]))
        rot[:, 2] += (shifts_x[i], shifts_y[i])
        back = cv2.invertAffineTransform(rot).astype(np.float32)
        map_x = gx + weight * (back[0, 0] * gx + back[0, 1] * gy + back[0, 2] - gx)
        map_y = gy + weight * (back[1, 0] * gx + back[1, 1] * gy + back[1, 2] - gy)
        image = still
        if live:
            image = still + pulse[i] * skin_signal
            if local[i] > 1e-3:
                lift = cv2.remap(blinks[i] * eyes + mouth[i] * jaw, map_x, map_y, cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
                map_x, map_y = map_x - lift * down[0], map_y - lift * down[1]
        if drift:
            map_x = map_x + gains[0][i] * fields[0][..., 0] + gains[1][i] * fields[1][..., 0]
            map_y = map_y + gains[0][i] * fields[0][..., 1] + gains[1][i] * fields[1][..., 1]
        frames.append(cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
        tracks[i] = faces.invert_map(map_x, map_y, points)
    return frames, tracks


def _capture(frames, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Add per-frame Gaussian sensor noise to float32 frames and quantise to uint8."""
    cv2.setRNGSeed(int(rng.integers(2**31)))  # cv2.randn is several times faster than numpy's normal
    noise = np.empty(frames[0].shape, np.float32)
    out = np.empty((len(frames),) + frames[0].shape, np.uint8)
    for i, frame in enumerate(frames):
        cv2.randn(noise, 0.0, sigma)
        out[i] = cv2.add(frame, noise, dtype=cv2.CV_8U)
    return out


def _pose_homography(plane: tuple[int, int], size: int, scale: float, offset, yaw: float, pitch: float,
                     roll: float) -> np.ndarray:
    """Homography of a planar object ``plane`` = (w, h) px seen by a pinhole camera, angles in degrees."""
    focal = 1.2 * size
    ry, rx, rz = np.radians([yaw, pitch, roll])
    rot_y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    rot_z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    rot = rot_z @ rot_y @ rot_x
    depth = focal / scale
    shift = np.array([offset[0] * depth / focal, offset[1] * depth / focal, depth])
    camera = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])
    centre = np.array([[1, 0, -plane[0] / 2], [0, 1, -plane[1] / 2], [0, 0, 1]])
    return camera @ np.column_stack([rot[:, 0], rot[:, 1], shift]) @ centre


def _hand_held(rng: np.random.Generator, n: int, fps: float, plane: tuple[int, int], size: int,
               scale: float, tilt: float) -> list[np.ndarray]:
    """Per-frame homographies of a plane held in front of the camera, swaying gently."""
    times = np.arange(n) / fps
    base = rng.uniform(-tilt, tilt, 3) * (1, 1, 0.4)
    yaw, pitch, roll = (base[k] + _wave(rng, times, a) for k, a in enumerate((tilt / 2, tilt / 2, 2.0)))
    off_x, off_y = (rng.uniform(-6, 6) + _wave(rng, times, 4.0) for _ in range(2))
    scales = scale * (1 + _wave(rng, times, 0.02))
    return [_pose_homography(plane, size, scales[i], (off_x[i], off_y[i]), yaw[i], pitch[i], roll[i])
            for i in range(n)]


def _place(plane: np.ndarray, masks: np.ndarray, homography: np.ndarray,
           background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite a plane image onto the float32 background.

    ``masks (h, w, C)`` float32 travel with the plane, channel 0 being its coverage (all ones).
    Returns the float32 frame and the warped masks ``(S, S, C)``.
    """
    size = background.shape[0]
    warped = cv2.warpPerspective(plane, homography, (size, size), flags=cv2.INTER_LINEAR).astype(np.float32)
    moved = cv2.warpPerspective(masks, homography, (size, size), flags=cv2.INTER_LINEAR).reshape(size, size, -1)
    return warped + (1 - moved[..., :1]) * background, moved


def _desaturate(image: np.ndarray, amount: float) -> np.ndarray:
    return image * (1 - amount) + amount * (image @ _LUMA)[..., None]


def _render_print(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    size = ident.image.shape[0]
    photo = _desaturate(ident.image.astype(np.float32), rng.uniform(0.25, 0.5))
    black, white = rng.uniform(25, 45), rng.uniform(212, 238)
    photo = black + photo * (white - black) / 255
    photo *= np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.86, 0.95)], np.float32)
    gx, gy = _grid(size)
    if rng.random() < 0.6:  # amplitude-modulated halftone screen, strongest in mid-tones
        period, angle = rng.uniform(2.8, 4.0), rng.uniform(0, np.pi / 2)
        u, v = gx * np.cos(angle) + gy * np.sin(angle), gy * np.cos(angle) - gx * np.sin(angle)
        screen = (np.cos(2 * np.pi * u / period) * np.cos(2 * np.pi * v / period))[..., None]
        tone = photo / 255
        photo = photo * (1 + rng.uniform(0.25, 0.4) * screen * 4 * tone * (1 - tone))
    else:  # paper fibres: streaky noise
        fibres = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.7, sigmaY=2.5)
        photo = photo * (1 + rng.uniform(0.05, 0.09) * fibres[..., None] / max(float(fibres.std()), 1e-6) / 3)
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.5, 0.9))
    margin = int(rng.integers(6, 18))
    paper = np.array([238, 236, 226], np.float32) * rng.uniform(0.9, 1.0)
    sheet = np.empty((size + 2 * margin, size + 2 * margin, 3), np.float32)
    sheet[:] = paper
    sheet[margin:margin + size, margin:margin + size] = photo
    edge_visible = rng.random() < 0.5
    scale = rng.uniform(0.84, 0.95) * size / sheet.shape[0] if edge_visible else rng.uniform(1.1, 1.25)
    background = _background(rng, size)
    light = (rng.uniform(-0.12, 0.12) * (gx - size / 2) / size + rng.uniform(-0.12, 0.12) * (gy - size / 2) / size)
    light, cover_mask = light[..., None], np.ones(sheet.shape[:2], np.float32)
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i, hom in enumerate(_hand_held(rng, n, fps, sheet.shape[1::-1], size, scale, tilt=10.0)):
        frame, cover = _place(sheet, cover_mask, hom, background)
        frames.append(frame * (1 + cover * light))
        tracks[i] = faces.project(hom, ident.landmarks + margin)
    return _capture(frames, rng, rng.uniform(1.5, 3.0)), tracks


def _render_live(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    frames, tracks = _animate(ident.image.astype(np.float32), ident.landmarks, rng, n, fps,
                              head=(2.5, 4.0, 0.015), live=True, drift=0.0)
    return _capture(frames, rng, rng.uniform(1.5, 3.0)), tracks


def _render_animated(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    still = _desaturate(ident.image.astype(np.float32), rng.uniform(0.15, 0.3))
    still = 0.85 * still + 0.15 * cv2.GaussianBlur(still, (0, 0), 12)  # flatter shading
    black, white = rng.uniform(15, 30), rng.uniform(225, 245)
    still = cv2.GaussianBlur(black + still * (white - black) / 255, (0, 0), 0.8)
    frames, tracks = _animate(still, ident.landmarks, rng, n, fps, head=(4.0, 6.0, 0.02), live=False,
                              drift=rng.uniform(1.5, 3.0))
    return _capture(frames, rng, rng.uniform(1.0, 2.0)), tracks


def _render_replay(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    content, content_tracks = _render_live(ident, rng, n, fps)
    size = ident.image.shape[0]
    gamma = rng.choice([rng.uniform(0.7, 0.85), rng.uniform(1.2, 1.4)])
    black = rng.uniform(8, 20)
    tint = np.array([rng.uniform(0.9, 0.97), rng.uniform(0.95, 1.0), rng.uniform(1.0, 1.06)])
    levels = 255 * (np.arange(256) / 255) ** gamma
    display = np.clip(black + (1 - black / 255) * levels[:, None] * tint, 0, 255).astype(np.uint8)[:, None, :]
    bezel = int(rng.integers(10, 26))
    device = np.full((size + 2 * bezel, size + 2 * bezel, 3), rng.integers(10, 46), np.uint8)
    masks = np.zeros(device.shape[:2] + (2,), np.float32)  # coverage, lit screen area
    masks[..., 0] = 1
    masks[bezel:bezel + size, bezel:bezel + size, 1] = 1
    background = _background(rng, size)
    homographies = _hand_held(rng, n, fps, device.shape[1::-1], size,
                              rng.uniform(0.86, 1.0) * size / device.shape[0], tilt=6.0)

    gx, gy = _grid(size)

    def grating(freq: float) -> tuple[np.ndarray, np.ndarray]:
        angle = rng.uniform(0, np.pi)
        phase = 2 * np.pi * freq * (gx * np.cos(angle) + gy * np.sin(angle))
        return np.cos(phase, dtype=np.float32)[..., None], np.sin(phase, dtype=np.float32)[..., None]

    fine_cos, fine_sin = grating(rng.uniform(0.22, 0.33))  # the screen's pixel grid, aliased
    beat_cos, beat_sin = grating(rng.uniform(0.02, 0.05))  # the moire beat
    fine_depth, beat_depth = rng.uniform(0.1, 0.16), rng.uniform(0.03, 0.06)
    fine_speed, beat_speed = rng.uniform(0.5, 2.0, 2)
    band_width, band_depth, band_speed = rng.uniform(20, 50), rng.uniform(0.06, 0.14), rng.uniform(6, 20)
    band_start = rng.uniform(0, size)
    glare = np.zeros((size, size, 1), np.float32)
    if rng.random() < 0.5:
        spot = np.exp(-0.5 * ((gx - rng.uniform(0, size)) ** 2 + (gy - rng.uniform(0, size)) ** 2)
                      / rng.uniform(30, 70) ** 2)
        glare = rng.uniform(15, 40) * spot[..., None]
    rows = np.arange(size, dtype=np.float32)

    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i, hom in enumerate(homographies):
        device[bezel:bezel + size, bezel:bezel + size] = cv2.LUT(content[i], display)
        frame, moved = _place(device, masks, hom, background)
        lit = moved[..., 1:]
        psi = (fine_speed * i + np.arange(3) * np.pi / 3).astype(np.float32)  # RGB sub-pixels: colour fringes
        centre = (band_start + band_speed * i) % (size + 2 * band_width) - band_width
        band = band_depth * np.exp(-0.5 * ((rows - centre) / band_width) ** 2)
        pattern = (fine_depth * (fine_cos * np.cos(psi) - fine_sin * np.sin(psi))
                   + beat_depth * (beat_cos * float(np.cos(beat_speed * i)) - beat_sin * float(np.sin(beat_speed * i)))
                   - band[:, None, None])
        frame = cv2.GaussianBlur(frame, (0, 0), 0.6)  # lens blur; the moire forms on the sensor, after it
        frames.append(frame * (1 + lit * pattern) + lit * glare)
        tracks[i] = faces.project(hom, content_tracks[i] + bezel)
    return _capture(frames, rng, rng.uniform(1.5, 3.0)), tracks


_RENDERERS = {"live": _render_live, "print": _render_print, "replay": _render_replay,
              "animated": _render_animated}


def render_video(identity: Identity, species: str, seed) -> tuple[np.ndarray, np.ndarray, float]:
    """Render one video: ``(frames (N,S,S,3) uint8, landmarks (N,68,2) float32, fps)``, N in 40..60."""
    if species not in _RENDERERS:
        raise ValueError(f"unknown species {species!r}; choose one of {SPECIES}")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))
    fps = float(rng.choice(FPS_CHOICES))
    frames, tracks = _RENDERERS[species](identity, rng, n, fps)
    return frames, tracks, fps


def assign_splits(n_identities: int, seed: int) -> list[str]:
    """Split of each identity: about 60/20/20 train/dev/test, at least one test (n >= 2) and dev (n >= 3)."""
    n_test = max(1, round(0.2 * n_identities)) if n_identities >= 2 else 0
    n_dev = max(1, round(0.2 * n_identities)) if n_identities >= 3 else 0
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5911])).permutation(n_identities)
    splits = ["train"] * n_identities
    for rank, index in enumerate(order):
        if rank < n_test:
            splits[index] = "test"
        elif rank < n_test + n_dev:
            splits[index] = "dev"
    return splits


def _make_video(task) -> None:
    identity, species, seed, video_path, landmarks_path = task
    frames, tracks, fps = render_video(identity, species, seed)
    write_video(video_path, frames, fps, reproducible=True)
    np.save(landmarks_path, tracks)


def _worker_init() -> None:
    cv2.setNumThreads(1)


def generate_dataset(out_dir, n_identities: int = 12, videos_per_species: int = 2, seed: int = 0,
                     workers: int | None = None) -> list[VideoRecord]:
    """Write a synthetic dataset to ``out_dir``: ``dataset.csv`` (generic layout) and ``videos/``.

    Identity ``i`` is source face ``i mod 2`` with augmentation seed ``(seed, i)``; whole
    identities go to one split. Each identity gets ``videos_per_species`` H.264 ``.mp4`` videos of
    every species in ``SPECIES``, each with a landmark file ``.npy (N, 68, 2)`` beside it. Output
    depends only on the arguments, not on ``workers`` (None or 0: the CPU count; 1 runs in-process).
    Returns the records written to the CSV.
    """
    if n_identities < 1 or videos_per_species < 1:
        raise ValueError(f"need at least one identity and one video per species, got "
                         f"n_identities={n_identities}, videos_per_species={videos_per_species}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be a positive number (or 0/None for the CPU count), got {workers}")
    out_dir = Path(out_dir).resolve()
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    sources = sorted(faces.source_faces())
    splits = assign_splits(n_identities, seed)
    tasks, records = [], []
    for i in range(n_identities):
        source = sources[i % len(sources)]
        identity = make_identity(source, int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                                 name=f"{source}-{seed}-{i:03d}")
        for s, species in enumerate(SPECIES):
            for k in range(videos_per_species):
                stem = f"{identity.name}_{species}_{k}"
                video, marks = out_dir / "videos" / f"{stem}.mp4", out_dir / "videos" / f"{stem}.npy"
                tasks.append((identity, species, np.random.SeedSequence([seed, i, s, k]), video, marks))
                records.append(VideoRecord(path=video, live=species == "live", species=species,
                                           split=splits[i], video_id=f"videos/{stem}",
                                           subject=identity.name, landmarks=marks))
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    progress = tqdm(total=len(tasks), desc="synth", unit="video")
    if workers == 1:
        for task in tasks:
            _make_video(task)
            progress.update()
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
            for _ in pool.map(_make_video, tasks):
                progress.update()
    progress.close()
    write_layout_csv(records, out_dir / "dataset.csv")
    log.info("wrote %d videos of %d identities to %s", len(records), n_identities, out_dir)
    return records
