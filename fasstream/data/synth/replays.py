"""Replay attacks: a recorded live video shown on a screen held in front of the camera.

``replay-lcd``: a monitor or tablet with a bezel: gamma and tint shift, the pixel grid aliased into
moire with RGB fringes, rolling refresh bands, sometimes glare. ``replay-phone``: an OLED phone held
close: content recorded at a lower frame rate (frames repeat: judder), deep blacks and boosted
colour, a finer diagonal sub-pixel grid, PWM brightness flicker and a reflection of the room that
slides over the glass as the phone moves.
"""
from __future__ import annotations

import cv2
import numpy as np

from fasstream.data import faces
from fasstream.data.synth.live import record, render_live
from fasstream.data.synth.prints import hand_held, place
from fasstream.data.synth.scene import Identity, background, grid


def _grating(rng: np.random.Generator, size: int, freq: float) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = grid(size)
    angle = rng.uniform(0, np.pi)
    phase = 2 * np.pi * freq * (gx * np.cos(angle) + gy * np.sin(angle))
    return np.cos(phase, dtype=np.float32)[..., None], np.sin(phase, dtype=np.float32)[..., None]


def _device(size: int, bezel: int, shade: float) -> tuple[np.ndarray, np.ndarray]:
    """A screen of ``size`` px in a bezel: the device image and its masks (coverage, lit screen)."""
    device = np.full((size + 2 * bezel, size + 2 * bezel, 3), shade, np.float32)
    masks = np.zeros(device.shape[:2] + (2,), np.float32)
    masks[..., 0] = 1
    masks[bezel:bezel + size, bezel:bezel + size, 1] = 1
    return device, masks


def render_replay_lcd(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """Float scene frames and landmarks of a live recording replayed on a monitor."""
    scene, scene_tracks = live(ident, rng, n, fps)
    content = record(scene, rng)
    size = ident.image.shape[0]
    gamma = rng.choice([rng.uniform(0.7, 0.85), rng.uniform(1.2, 1.4)])
    black = rng.uniform(8, 20)
    tint = np.array([rng.uniform(0.9, 0.97), rng.uniform(0.95, 1.0), rng.uniform(1.0, 1.06)], np.float32)
    bezel = int(rng.integers(10, 26))
    device, masks = _device(size, bezel, float(rng.integers(10, 46)))
    backdrop = background(rng, size)
    homographies = hand_held(rng, n, fps, device.shape[1::-1], size,
                             rng.uniform(0.86, 1.0) * size / device.shape[0], tilt=6.0)
    gx, gy = grid(size)
    fine_cos, fine_sin = _grating(rng, size, rng.uniform(0.22, 0.33))  # the screen's pixel grid, aliased
    beat_cos, beat_sin = _grating(rng, size, rng.uniform(0.02, 0.05))  # the moire beat
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
        shown = black + (255 - black) * (np.clip(content[i], 0, 255) / 255) ** gamma * tint
        device[bezel:bezel + size, bezel:bezel + size] = shown
        frame, moved = place(device, masks, hom, backdrop)
        lit = moved[..., 1:]
        psi = (fine_speed * i + np.arange(3) * np.pi / 3).astype(np.float32)  # RGB sub-pixels: colour fringes
        centre = (band_start + band_speed * i) % (size + 2 * band_width) - band_width
        band = band_depth * np.exp(-0.5 * ((rows - centre) / band_width) ** 2)
        pattern = (fine_depth * (fine_cos * np.cos(psi) - fine_sin * np.sin(psi))
                   + beat_depth * (beat_cos * float(np.cos(beat_speed * i)) - beat_sin * float(np.sin(beat_speed * i)))
                   - band[:, None, None])
        frame = cv2.GaussianBlur(frame, (0, 0), 0.6)  # lens blur; the moire forms on the sensor, after it
        frames.append(frame * (1 + lit * pattern) + lit * glare)
        tracks[i] = faces.project(hom, scene_tracks[i] + bezel)
    return frames, tracks


def render_replay_phone(ident: Identity, rng: np.random.Generator, n: int, fps: float, live=render_live):
    """Float scene frames and landmarks of a live recording replayed on an OLED phone held close."""
    size = ident.image.shape[0]
    content_fps = float(rng.choice([12.0, 15.0, 20.0]))
    shown_index = np.floor(np.arange(n) * content_fps / fps).astype(int)
    scene, scene_tracks = live(ident, rng, int(shown_index[-1]) + 1, content_fps)
    content = record(scene, rng)
    saturation, contrast = rng.uniform(1.1, 1.3), rng.uniform(1.05, 1.2)
    tint = np.array([rng.uniform(0.95, 1.0), 1.0, rng.uniform(1.02, 1.1)], np.float32)
    bezel = int(rng.integers(4, 10))
    device, masks = _device(size, bezel, float(rng.integers(5, 20)))
    backdrop = background(rng, size)
    room = cv2.GaussianBlur(background(rng, size), (0, 0), 6)
    reflect = rng.uniform(0.05, 0.15)
    homographies = hand_held(rng, n, fps, device.shape[1::-1], size,
                             rng.uniform(1.0, 1.15) * size / device.shape[0], tilt=8.0)
    grid_cos, grid_sin = _grating(rng, size, rng.uniform(0.36, 0.45))  # diagonal sub-pixel layout, aliased
    grid_depth = rng.uniform(0.05, 0.1)
    flicker_hz, flicker_depth = rng.uniform(3, 12), rng.uniform(0.03, 0.1)
    times = np.arange(n) / fps
    middle = np.array([[device.shape[1] / 2, device.shape[0] / 2]], np.float32)
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i, hom in enumerate(homographies):
        image = content[shown_index[i]]
        grey = image.mean(axis=2, keepdims=True)
        shown = np.clip((grey + (image - grey) * saturation - 128) * contrast + 128, 0, 255) * tint
        device[bezel:bezel + size, bezel:bezel + size] = shown
        frame, moved = place(device, masks, hom, backdrop)
        lit = moved[..., 1:]
        flicker = 1 - flicker_depth * (0.5 + 0.5 * np.cos(2 * np.pi * flicker_hz * times[i]))
        pattern = grid_depth * (grid_cos * np.cos(0.7 * i) - grid_sin * np.sin(0.7 * i))
        moved_by = faces.project(hom, middle) - faces.project(homographies[0], middle)
        shift = -2 * moved_by[0]  # a reflection moves twice as far as the phone, the other way
        glass = cv2.warpAffine(room, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (size, size),
                               borderMode=cv2.BORDER_REFLECT_101)
        frame = cv2.GaussianBlur(frame, (0, 0), 0.5)
        frames.append(frame * (1 + lit * (pattern + flicker - 1)) + lit * reflect * glass)
        tracks[i] = faces.project(hom, scene_tracks[shown_index[i]] + bezel)
    return frames, tracks
