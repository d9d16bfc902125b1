"""A second physical model of a live subject, kept out of training: a posed, lit 3-D landmark mesh.

``live-mesh`` shares nothing with ``synth.motion`` but the portrait: the head is a triangle mesh
over the 68 landmarks, a forehead row and a ring around the head, every vertex given a depth from a
generic face profile (an ellipsoid plus the nose, eyes set back). The head pose follows
Ornstein-Uhlenbeck processes (random, mean-reverting, low-passed; not sums of sinusoids) and is projected in
perspective; the image is warped triangle by triangle (piecewise affine, nearer triangles drawn
last), blinks and speech move mesh vertices, and a fixed light shades the turning head (Lambertian,
on the mesh's normals). There is no pulse. The family is held out (``Family.held_out``): no dataset
renders it unless asked, and no recipe trains on it, so a model's bona fide error on it measures how
far its idea of "live" reaches beyond the generator's own live renderer.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import Delaunay

from fasstream.data import faces
from fasstream.data.synth.scene import Identity
from fasstream.data.synth.viewpoint import rotation

UPPER_LIDS, LOWER_LIDS = [37, 38, 43, 44], [41, 40, 47, 46]
LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
CHIN = [5, 6, 7, 8, 9, 10, 11]
MOUTH_CORNERS = [48, 54, 60, 64]
NOSE = list(range(27, 36))
EYES = list(range(36, 48))


def ou_process(rng: np.random.Generator, n: int, fps: float, std: float, rate: float) -> np.ndarray:
    """``n`` samples at ``fps`` of a smooth random motion: an Ornstein-Uhlenbeck process (mean reversion
    ``rate`` per second) low-passed below about 1 Hz as a head moves, scaled to standard deviation ``std``."""
    pad = int(2 * fps)
    decay = np.exp(-rate / fps)
    out = np.empty(n + 2 * pad)
    out[0] = rng.normal()
    for i in range(1, len(out)):
        out[i] = decay * out[i - 1] + rng.normal(0, np.sqrt(1 - decay ** 2))
    out = gaussian_filter1d(out, 0.15 * fps)
    return std * out[pad:pad + n] / max(float(out.std()), 1e-6)


def head_vertices(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mesh vertices of a portrait: ``(V, 2)`` image positions, ``(V,)`` depths towards the camera and a
    ``(V,)`` mask of those that move with the head. The first 68 are the landmarks."""
    geo = faces.face_frame(points)
    centre, up, right = geo["centre"], geo["up"], geo["right"]
    width, height = geo["width"], geo["height"]
    forehead = points[17:27:2] + 0.45 * height * up
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    pivot = geo["brow"] + 0.05 * height * up
    ellipse = np.stack([np.cos(angles), np.sin(angles)], 1)
    ring = pivot + ellipse[:, :1] * 0.78 * width * right + ellipse[:, 1:] * 1.25 * height * up
    outer = pivot + ellipse[:, :1] * 1.25 * width * right + ellipse[:, 1:] * 1.8 * height * up
    edge = np.linspace(-2, size + 1, 5)
    border = np.array([(x, y) for x in edge for y in edge if x in (edge[0], edge[-1]) or y in (edge[0], edge[-1])])
    face = np.vstack([points, forehead])
    rel = face - centre
    u, v = rel @ right / (0.55 * width), rel @ up / (0.95 * height)
    depth = 0.45 * width * np.sqrt(np.clip(1 - u ** 2 - v ** 2, 0.05, 1))
    nose_tip = np.linalg.norm(points[NOSE] - points[30], axis=1)
    depth[NOSE] += 0.22 * width * np.exp(-0.5 * (nose_tip / (0.12 * width)) ** 2)
    depth[EYES] -= 0.04 * width
    vertices = np.vstack([face, ring, outer, border]).astype(np.float64)
    depths = np.concatenate([depth, np.full(len(ring), 0.05 * width), np.zeros(len(outer) + len(border))])
    moving = np.concatenate([np.ones(len(face) + len(ring), bool), np.zeros(len(outer) + len(border), bool)])
    return vertices, depths, moving


def vertex_normals(vertices3d: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit normals ``(V, 3)`` of a mesh, the area-weighted mean of its triangles' (facing the camera, +z)."""
    a, b, c = (vertices3d[triangles[:, k]] for k in range(3))
    tri = np.cross(b - a, c - a)
    tri *= np.sign(tri[:, 2:3] + 1e-12)
    normals = np.zeros_like(vertices3d)
    for k in range(3):
        np.add.at(normals, triangles[:, k], tri)
    normals[:, 2] += 1e-9
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def piecewise_affine(image: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray,
                     order: np.ndarray, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``image`` warped so that vertex ``src[k]`` lands on ``dst[k]``, each triangle by its own affine map.

    Triangles are drawn in ``order`` (later ones cover earlier ones where they overlap) and must cover
    the image. ``values (V,)``, when given, are interpolated over the same triangles and returned too.
    """
    height, width = image.shape[:2]
    owner = np.full((height, width), -1, np.int32)
    for t in order:
        cv2.fillConvexPoly(owner, np.round(dst[triangles[t]] * 16).astype(np.int32), int(t), cv2.LINE_8, 4)
    if (owner < 0).any():
        raise ValueError("the mesh does not cover the image: add border vertices")
    corners = np.concatenate([dst[triangles], np.ones(triangles.shape + (1,))], axis=2)  # (T, 3, 3)
    to_weights = np.linalg.inv(np.transpose(corners, (0, 2, 1)))  # weights = inv([d0 d1 d2; 1 1 1]) @ (x, y, 1)
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float64)
    pixel = np.stack([gx, gy, np.ones_like(gx)], axis=-1)
    weights = np.einsum("hwij,hwj->hwi", to_weights[owner], pixel)
    corner_src = src[triangles][owner]  # (H, W, 3, 2)
    map_xy = np.einsum("hwi,hwij->hwj", weights, corner_src).astype(np.float32)
    warped = cv2.remap(image, map_xy[..., 0], map_xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    field = None if values is None else np.einsum("hwi,hwi->hw", weights, values[triangles][owner]).astype(np.float32)
    return warped, field


def _events(rng: np.random.Generator, times: np.ndarray, rate_hz: float, width_s: tuple[float, float]) -> np.ndarray:
    """A train of smooth 0..1 events (Poisson starts at ``rate_hz``, raised-cosine of random width)."""
    out = np.zeros_like(times)
    start = rng.exponential(1 / rate_hz) - 0.3
    while start < times[-1]:
        width = rng.uniform(*width_s)
        inside = (times >= start) & (times <= start + width)
        out[inside] = np.maximum(out[inside], 0.5 - 0.5 * np.cos(2 * np.pi * (times[inside] - start) / width))
        start += width + rng.exponential(1 / rate_hz)
    return out


def render_live_mesh(ident: Identity, rng: np.random.Generator, n: int, fps: float):
    """Float scene frames and landmarks of a live subject rendered as a posed, lit landmark mesh."""
    size = ident.image.shape[0]
    still = ident.image.astype(np.float32)
    src, depth, moving = head_vertices(ident.landmarks.astype(np.float64), size)
    triangles = Delaunay(src).simplices
    geo = faces.face_frame(ident.landmarks)
    pivot = np.array([*geo["centre"], -0.5 * geo["width"]])
    down = -geo["up"]
    times = np.arange(n) / fps
    yaw, pitch, roll = (ou_process(rng, n, fps, rng.uniform(*s), rng.uniform(0.8, 2.5))
                        for s in ((1.5, 3.5), (1.0, 2.5), (0.5, 1.5)))
    shift_x, shift_y = (ou_process(rng, n, fps, rng.uniform(1.0, 3.0), rng.uniform(0.5, 2.0)) for _ in range(2))
    zoom = 1 + ou_process(rng, n, fps, rng.uniform(0.005, 0.015), rng.uniform(0.3, 1.0))
    blink = _events(rng, times, rng.uniform(0.2, 0.5), (0.15, 0.3))
    speech = rng.uniform(0.0, 0.07) * geo["height"] * _events(rng, times, rng.uniform(2.0, 5.0), (0.12, 0.3))
    smile = rng.uniform(0.0, 0.04) * geo["width"] * _events(rng, times, 0.3, (0.8, 1.6))
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.3), 1.0])
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.45, 0.7)
    focal = 3.0 * size
    rest3d = np.column_stack([src, depth])
    lit_rest = ambient + (1 - ambient) * np.clip(vertex_normals(rest3d, triangles) @ light, 0, 1)
    sides = np.sign((src[MOUTH_CORNERS] - geo["centre"]) @ geo["right"])[:, None]
    frames, tracks = [], np.empty((n, 68, 2), np.float32)
    for i in range(n):
        shaped = src.copy()
        shaped[UPPER_LIDS] += 0.85 * blink[i] * (src[LOWER_LIDS] - src[UPPER_LIDS])
        shaped[LOWER_LIP] += speech[i] * down
        shaped[CHIN] += 0.8 * speech[i] * down
        shaped[MOUTH_CORNERS] += smile[i] * (sides * geo["right"] + 0.4 * geo["up"])
        posed = np.column_stack([shaped, depth]) - pivot
        posed = posed @ rotation(yaw[i], pitch[i], roll[i]).T + pivot
        perspective = focal / (focal - posed[:, 2:3])
        centre = pivot[:2] + np.array([shift_x[i], shift_y[i]])
        dst = np.where(moving[:, None], centre + zoom[i] * perspective * (posed[:, :2] - pivot[:2]), src)
        lit = ambient + (1 - ambient) * np.clip(vertex_normals(posed, triangles) @ light, 0, 1)
        shade = np.where(moving, lit / lit_rest, 1.0)
        order = np.argsort(posed[triangles].mean(axis=1)[:, 2] + np.where(moving[triangles].all(1), 0, -1e6))
        frame, gain = piecewise_affine(still, src, dst, triangles, order, shade)
        frames.append(frame * gain[..., None])
        tracks[i] = dst[:68]
    return frames, tracks
