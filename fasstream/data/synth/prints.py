"""Print attacks: a photo of the face on paper, held in front of the camera.

``print-flat``: a halftoned or paper-textured, desaturated office print, held flat and swaying as a
plane (homography), paper edge visible in some videos. ``print-curved``: a glossy photo print
(continuous tone, dye-sublimation colour) bent into a cylinder whose curvature flexes while it is
held, with a specular highlight that slides across the bend.
"""
from __future__ import annotations

import cv2
import numpy as np

from fasstream.data import faces
from fasstream.data.synth.scene import Identity, background, desaturate, grid, wave
from fasstream.data.synth.viewpoint import pose_homography


def hand_held(rng: np.random.Generator, n: int, fps: float, plane: tuple[int, int], size: int,
              scale: float, tilt: float) -> list[np.ndarray]:
    """Per-frame homographies of a plane held in front of the camera, swaying gently."""
    times = np.arange(n) / fps
    base = rng.uniform(-tilt, tilt, 3) * (1, 1, 0.4)
    yaw, pitch, roll = (base[k] + wave(rng, times, a) for k, a in enumerate((tilt / 2, tilt / 2, 2.0)))
    off_x, off_y = (rng.uniform(-6, 6) + wave(rng, times, 4.0) for _ in range(2))
    scales = scale * (1 + wave(rng, times, 0.02))
    return [pose_homography(plane, size, scales[i], (off_x[i], off_y[i]), yaw[i], pitch[i], roll[i])
            for i in range(n)]


def place(plane: np.ndarray, masks: np.ndarray, homography: np.ndarray,
          backdrop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite a plane image onto the float32 backdrop.

    ``masks (h, w, C)`` float32 travel with the plane, channel 0 being its coverage (all ones).
    Returns the float32 frame and the warped masks ``(S, S, C)``.
    """
    size = backdrop.shape[0]
    warped = cv2.warpPerspective(plane, homography, (size, size), flags=cv2.INTER_LINEAR).astype(np.float32)
    moved = cv2.warpPerspective(masks, homography, (size, size), flags=cv2.INTER_LINEAR).reshape(size, size, -1)
    return warped + (1 - moved[..., :1]) * backdrop, moved


def _sheet(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The photo on a sheet of paper with a white margin; returns the sheet and the margin."""
    size = photo.shape[0]
    margin = int(rng.integers(6, 18))
    sheet = np.empty((size + 2 * margin, size + 2 * margin, 3), np.float32)
    sheet[:] = np.array([238, 236, 226], np.float32) * rng.uniform(0.9, 1.0)
    sheet[margin:margin + size, margin:margin + size] = photo
    return sheet, margin


def _held_scale(rng: np.random.Generator, size: int, sheet: int) -> float:
    edge_visible = rng.random() < 0.5
    return rng.uniform(0.84, 0.95) * size / sheet if edge_visible else rng.uniform(1.1, 1.25)


def render_print_flat(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a flat office print swaying in front of the camera."""
    size = ident.image.shape[0]
    photo = desaturate(ident.image.astype(np.float32), rng.uniform(0.25, 0.5))
    black, white = rng.uniform(25, 45), rng.uniform(212, 238)
    photo = black + photo * (white - black) / 255
    photo *= np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.86, 0.95)], np.float32)
    gx, gy = grid(size)
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
    sheet, margin = _sheet(photo, rng)
    scale = _held_scale(rng, size, sheet.shape[0])
    backdrop = background(rng, size)
    light = (rng.uniform(-0.12, 0.12) * (gx - size / 2) / size + rng.uniform(-0.12, 0.12) * (gy - size / 2) / size)
    light, cover_mask = light[..., None], np.ones(sheet.shape[:2], np.float32)
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i, hom in enumerate(hand_held(rng, n, fps, sheet.shape[1::-1], size, scale, tilt=10.0)):
        frame, cover = place(sheet, cover_mask, hom, backdrop)
        frames.append(frame * (1 + cover * light))
        tracks[i] = faces.project(hom, ident.landmarks + margin)
    return frames, tracks


def render_print_curved(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a glossy photo print bent into a flexing cylinder."""
    size = ident.image.shape[0]
    photo = ident.image.astype(np.float32)
    grey = photo.mean(axis=2, keepdims=True)
    photo = grey + (photo - grey) * rng.uniform(1.05, 1.25)  # dye-sublimation: punchy colour
    photo = 12 + np.clip(photo, 0, 255) * rng.uniform(0.82, 0.9) * np.array(
        [rng.uniform(0.97, 1.03), 1.0, rng.uniform(0.92, 1.0)], np.float32)
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.6, 1.0))
    sheet, margin = _sheet(photo, rng)
    side = sheet.shape[0]
    sx, sy = grid(side)
    times = np.arange(n) / fps
    bend = rng.uniform(0.08, 0.2) * (1 + wave(rng, times, 0.5, 0.3, 1.0))  # curvature, flexing
    axis_vertical = rng.random() < 0.7
    gloss_pos = 0.5 + wave(rng, times, 0.3, 0.2, 0.6)
    gloss_gain, gloss_width = rng.uniform(25, 60), rng.uniform(0.05, 0.12)
    scale = _held_scale(rng, size, side)
    backdrop = background(rng, size)
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i, hom in enumerate(hand_held(rng, n, fps, (side, side), size, scale, tilt=8.0)):
        u = (sx if axis_vertical else sy) / side * 2 - 1  # -1..1 across the bend
        k = float(np.clip(1.5 * np.pi * bend[i], 1e-3, 1.4))  # half the arc's angle
        # foreshortening: the image point u shows the sheet at arc position asin(u sin k) / k
        across = np.arcsin(u * np.sin(k)) / k
        src = (across + 1) / 2 * side
        map_x, map_y = (src, sy) if axis_vertical else (sx, src)
        sag = 0.04 * side * bend[i] * (1 - u ** 2)  # the middle bulges towards the camera
        map_x, map_y = (map_x, map_y - sag) if axis_vertical else (map_x - sag, map_y)
        map_x, map_y = map_x.astype(np.float32), map_y.astype(np.float32)
        bent = cv2.remap(sheet, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gloss = gloss_gain * np.exp(-0.5 * ((u + 1) / 2 - gloss_pos[i]) ** 2 / gloss_width ** 2)
        bent = bent + gloss[..., None]
        frame, _ = place(bent, np.ones((side, side), np.float32), hom, backdrop)
        frames.append(frame)
        on_sheet = faces.invert_map(map_x, map_y, ident.landmarks + margin)
        tracks[i] = faces.project(hom, on_sheet)
    return frames, tracks
