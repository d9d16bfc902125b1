"""Synthetic bona fide and presentation-attack videos built on real public-domain faces.

An identity is a source face (``faces.source_faces``) plus an augmentation seed
(``synth.scene.make_identity``). Each video is one family's scene (``synth.families``: fifteen
physical models of six species, from ``live`` to ``rigid-layers``; ``live-mesh`` is held out,
``live-calm``, ``live-spline`` and ``rigid-head`` are opt-in) seen through one randomised camera (``synth.camera``)
that every species shares, and encoded as H.264 at the camera's quality. Replays, stills and rigid
attacks are made of a recording by one of the dataset's live sources (``LIVE_SOURCES`` by default).
Every frame has exact 68-point landmarks.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .. import cores
from . import faces
from .records import VideoRecord, write_layout_csv
from .synth.camera import CAPTURES, Camera
from .synth.families import DEFAULT_FAMILIES, FAMILIES, SPECIES, check_live_sources, resolve
from .synth.scene import FRAME_SIZE, Identity, make_identity
from .video import write_video

__all__ = ["DEFAULT_FAMILIES", "FAMILIES", "FRAME_SIZE", "LIVE_SHARE", "LIVE_SOURCES", "SPECIES", "Identity",
           "assign_splits", "capture_file", "faces", "generate_dataset", "make_identity",
           "read_capture", "recording_family", "render_video", "video_camera"]

log = logging.getLogger(__name__)

FPS_CHOICES = (20, 24, 25, 30)
MIN_FRAMES, MAX_FRAMES = 40, 60
LIVE_SHARE = 3
"""Live videos of an identity per ``videos_per_family`` and live family: the attacks come in ten families."""
LIVE_SOURCES = ("live",)
"""Live families whose recordings replay, still and rigid attacks are made of, unless a dataset names others."""


def _child(seed, key: int) -> np.random.SeedSequence:
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + (key,))


def video_camera(seed, capture: str = "standard") -> Camera:
    """The camera of the video rendered from ``seed``, drawn from ``CAPTURES[capture]`` (its own random stream,
    apart from the scene's)."""
    if capture not in CAPTURES:
        raise ValueError(f"unknown capture {capture!r}; choose one of {', '.join(CAPTURES)}")
    return Camera.sample(np.random.default_rng(_child(seed, 0xCA)), CAPTURES[capture])


def recording_family(family: str, seed, live_sources: tuple[str, ...] = LIVE_SOURCES) -> str | None:
    """The live family whose recording the video of ``family`` rendered from ``seed`` is made of.

    None for a family not made from a live recording (``Family.from_live``); one of ``live_sources``,
    drawn from the video's own random stream (apart from the scene's), otherwise.
    """
    if not FAMILIES[resolve(family)].from_live:
        return None
    if len(live_sources) == 1:
        return live_sources[0]
    return live_sources[int(np.random.default_rng(_child(seed, 0x11)).integers(len(live_sources)))]


def render_video(identity: Identity, family: str, seed, camera: Camera | None = None,
                 live_sources: tuple[str, ...] = LIVE_SOURCES) -> tuple[np.ndarray, np.ndarray, float]:
    """Render one video: ``(frames (N,H,W,3) uint8, landmarks (N,68,2) float32, fps)``, N in 40..60.

    ``family`` names a family of ``FAMILIES`` (a species name stands for its first family); the
    camera is ``video_camera(seed)`` unless given; a replay, still or rigid attack is made of a recording
    by the live family ``recording_family(family, seed, live_sources)``.
    """
    spec = FAMILIES[resolve(family)]
    rng = np.random.default_rng(seed)
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))
    fps = float(rng.choice(FPS_CHOICES))
    source = recording_family(family, seed, live_sources)
    live = {"live": FAMILIES[source].render} if source else {}
    scene, tracks = spec.render(identity, rng, n, fps, **live)
    frames, tracks = (camera or video_camera(seed)).capture(scene, tracks, rng, fps)
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


def capture_file(video_path) -> Path:
    """Where the capture record of a synthetic video lies: ``<stem>.json`` beside it."""
    return Path(video_path).with_suffix(".json")


def read_capture(video_path) -> dict | None:
    """The capture record of a synthetic video (family, fps, frames, camera settings), None without one."""
    path = capture_file(video_path)
    return json.loads(path.read_text()) if path.is_file() else None


def _make_video(task) -> None:
    identity, family, seed, live_sources, capture, video_path, landmarks_path = task
    camera = video_camera(seed, capture)
    frames, tracks, fps = render_video(identity, family, seed, camera, live_sources)
    write_video(video_path, frames, fps, reproducible=True, crf=camera.crf)
    np.save(landmarks_path, tracks)
    record = {"family": family, "fps": fps, "frames": len(frames), "capture": capture,
              "camera": dataclasses.asdict(camera)}
    source = recording_family(family, seed, live_sources)
    capture_file(video_path).write_text(json.dumps(record | ({"live_source": source} if source else {})))


def _worker_init() -> None:
    cv2.setNumThreads(1)


def generate_dataset(out_dir, n_identities: int = 12, videos_per_family: int = 1, seed: int = 0,
                     workers: int | None = None, families: tuple[str, ...] | None = None,
                     live_videos: int | None = None, splits: tuple[str, ...] | None = None,
                     live_sources: tuple[str, ...] = LIVE_SOURCES, capture: str = "standard") -> list[VideoRecord]:
    """Write a synthetic dataset to ``out_dir``: ``dataset.csv`` (generic layout) and ``videos/``.

    Identity ``i`` is source face ``i mod 2`` with augmentation seed ``(seed, i)``; whole identities
    go to one split. Each identity gets ``videos_per_family`` H.264 ``.mp4`` videos of every attack
    family in ``families`` (default: ``DEFAULT_FAMILIES``, every family but the held-out ones) and
    ``live_videos`` videos of each live family (default ``LIVE_SHARE * videos_per_family``), each with a
    landmark file ``.npy (N, 68, 2)`` and its capture record ``.json`` (``read_capture``) beside it. A
    video depends only on its identity, family and index, not on ``workers`` (None or 0: the CPU count;
    1 runs in-process) nor on which other families are chosen. ``splits`` renders only the identities of
    those splits (the split of an identity does not depend on it). ``live_sources`` (``check_live_sources``)
    are rendered as live families too, and each replay, still or rigid attack is made of a recording by one of
    them (``recording_family``). Every camera is drawn from ``CAPTURES[capture]``. Returns the records written
    to the CSV.
    """
    if n_identities < 1 or videos_per_family < 1:
        raise ValueError(f"need at least one identity and one video per family, got "
                         f"n_identities={n_identities}, videos_per_family={videos_per_family}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be a positive number (or 0/None for the CPU count), got {workers}")
    unknown = sorted(set(splits or ()) - {"train", "dev", "test"})
    if unknown:
        raise ValueError(f"unknown split(s) {', '.join(map(repr, unknown))}: use train, dev or test")
    live_videos = LIVE_SHARE * videos_per_family if live_videos is None else live_videos
    live_sources = check_live_sources(live_sources, splits)
    video_camera(0, capture)  # an unknown capture stops here, before anything is written
    chosen = list(DEFAULT_FAMILIES) if families is None else [resolve(f) for f in families]
    for source in reversed(live_sources if live_videos else ()):
        if source not in chosen:
            chosen.insert(0, source)
    out_dir = Path(out_dir).resolve()
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    sources = sorted(faces.source_faces())
    splits_of = assign_splits(n_identities, seed)
    tasks, records = [], []
    for i in range(n_identities):
        if splits is not None and splits_of[i] not in splits:
            continue
        source = sources[i % len(sources)]
        identity = make_identity(source, int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                                 name=f"{source}-{seed}-{i:03d}")
        for family in chosen:
            f = list(FAMILIES).index(family)
            species = FAMILIES[family].species
            for k in range(live_videos if species == "live" else videos_per_family):
                stem = f"{identity.name}_{family}_{k}"
                video, marks = out_dir / "videos" / f"{stem}.mp4", out_dir / "videos" / f"{stem}.npy"
                tasks.append((identity, family, np.random.SeedSequence([seed, i, f, k]), live_sources, capture,
                          video, marks))
                records.append(VideoRecord(path=video, live=species == "live", species=species,
                                           split=splits_of[i], video_id=f"videos/{stem}",
                                           subject=identity.name, landmarks=marks, family=family))
    workers = min(workers or cores.available(), len(tasks))
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
