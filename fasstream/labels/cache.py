"""Label a dataset once: per video, landmarks -> face boxes -> label maps, cached as one ``.npz``.

``<cache>/<video_id>.npz`` holds, for a video of N frames:

- ``boxes`` (N, 3) float32: the square crop box (x0, y0, size) of each frame (see ``maps``);
- ``landmarks`` (N, 68, 2) float32 and ``found`` (N,) bool: frames where no face was found
  (``found`` False) take the landmarks of the nearest frame that has one;
- one (N, size, size) float32 array per label name (``position``, ``mask``, ``depth``);
- ``live``, ``fps``, ``size``, ``scale`` and ``detector`` (the backend's name).

``video_id`` is the record's: the video's path under the dataset root (the CSV's folder, or the
OULU-NPU root) without its suffix, so ``live/a.mp4`` is cached as ``<cache>/live/a.npz`` and
OULU-NPU's ``Train_files/1_1_01_1.avi`` as ``<cache>/Train_files/1_1_01_1.npz``. Training and
evaluation look videos up by the same key.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.records import VideoRecord, read_layout_csv
from ..data.video import read_video
from ..faces.geometry import face_crop_box
from ..faces.landmarks import LandmarkDetector, PrecomputedLandmarks, make_detector
from .maps import LABELS

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What a labelling run did, video by video."""

    labelled: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        lines = [f"labelled {len(self.labelled)} videos ({self.frames} frames, {rate:.1f} frames/s), "
                 f"already cached {len(self.cached)}, skipped {len(self.skipped)}"]
        lines += [f"  skipped {vid}: {why}" for vid, why in self.skipped.items()]
        return "\n".join(lines)


def fill_missing(landmarks: np.ndarray) -> np.ndarray:
    """Give frames without a face (NaN rows) the landmarks of the nearest frame that has one."""
    found = np.flatnonzero(~np.isnan(landmarks).any(axis=(1, 2)))
    if len(found) == 0:
        raise ValueError("no frame has landmarks to fill from")
    frames = np.arange(len(landmarks))
    after = np.searchsorted(found, frames)  # index of the first found frame at or after each frame
    right = found[np.minimum(after, len(found) - 1)]
    left = found[np.maximum(after - 1, 0)]
    return landmarks[np.where(np.abs(frames - left) <= np.abs(right - frames), left, right)]


def _check_labels(labels: Sequence[str]) -> None:
    unknown = [n for n in labels if n not in LABELS]
    if unknown or not labels:
        raise ValueError(f"labels must name one or more of {', '.join(LABELS)}, got {list(labels)}")


def label_track(landmarks: np.ndarray, live: bool, labels: Sequence[str], size: int = 32, scale: float = 1.3,
                min_found: float = 0.5) -> dict[str, np.ndarray]:
    """Boxes and label maps for a video's (N, 68, 2) landmarks (NaN rows: no face).

    Raises ValueError when fewer than ``min_found`` of the frames have a face.
    """
    _check_labels(labels)
    found = ~np.isnan(landmarks).any(axis=(1, 2))
    if len(found) == 0 or found.mean() < min_found:
        raise ValueError(f"a face in only {int(found.sum())} of {len(found)} frames (need {min_found:.0%})")
    filled = fill_missing(landmarks).astype(np.float32)
    boxes = np.array([face_crop_box(p, scale) for p in filled], np.float32)
    out = {"boxes": boxes, "landmarks": filled, "found": found}
    for name in labels:
        out[name] = np.stack([LABELS[name](p, b, size, live) for p, b in zip(filled, boxes)])
    return out


def cache_file(cache_dir: str | os.PathLike, video_id: str) -> Path:
    """Path of a video's cached labels."""
    return Path(cache_dir) / f"{video_id}.npz"


def load_labels(cache_dir: str | os.PathLike, video_id: str) -> dict[str, np.ndarray]:
    """The arrays cached for ``video_id`` (see the module docstring)."""
    path = cache_file(cache_dir, video_id)
    if not path.is_file():
        raise FileNotFoundError(f"no cached labels for {video_id!r} at {path}; label its dataset into {cache_dir} "
                                "first (`fasstream label DATASET.csv --cache DIR` or `fasstream label --oulu ROOT "
                                "--cache DIR`); `fasstream label` lists the videos it skipped and why")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def cached_landmarks(cache_dir: str | os.PathLike, video_id: str) -> np.ndarray:
    """A video's cached (N, 68, 2) landmarks, NaN in frames where no face was found."""
    labels = load_labels(cache_dir, video_id)
    return np.where(labels["found"][:, None, None], labels["landmarks"], np.nan).astype(np.float32)


def _write_atomic(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


class _Landmarker:
    """Per-video landmark source: a landmark file (for "auto"/"precomputed"), else one live detector."""

    def __init__(self, detector: str | LandmarkDetector, landmarks_dir: Path | None, detector_kwargs: dict):
        self.choice = detector
        self.folder = PrecomputedLandmarks(landmarks_dir) if landmarks_dir is not None else None
        self.kwargs = detector_kwargs
        self._live = detector if isinstance(detector, LandmarkDetector) else None

    def _live_detector(self, name: str) -> LandmarkDetector:
        if self._live is None:
            self._live = make_detector(name, **self.kwargs)
        return self._live

    def track(self, record: VideoRecord, frames: np.ndarray) -> tuple[np.ndarray, str]:
        if isinstance(self.choice, LandmarkDetector):
            return self.choice.track(frames, record.video_id), self.choice.name
        if self.choice in ("auto", "precomputed"):
            file = self.folder.file_for(record.video_id) if self.folder is not None else None
            if file is not None and file.is_file():
                return self.folder.track(frames, record.video_id), "precomputed"
            if record.landmarks is not None:
                return PrecomputedLandmarks(record.landmarks).track(frames), "precomputed"
            if self.choice == "precomputed":
                raise ValueError(f"no landmarks file ({file or 'no --landmarks folder'}): add a landmarks column to "
                                 "the CSV, put <name>.npy beside the video, or pass a folder of <video_id>.npy")
        detector = self._live_detector("dlib" if self.choice == "auto" else self.choice)
        return detector.track(frames, record.video_id), detector.name


def label_dataset(csv_path: str | os.PathLike, cache_dir: str | os.PathLike, **kwargs) -> Summary:
    """Label every video of a generic-layout CSV into ``cache_dir``; see :func:`label_records`."""
    return label_records(read_layout_csv(csv_path), cache_dir, **kwargs)


def label_records(records: Sequence[VideoRecord], cache_dir: str | os.PathLike, labels: Sequence[str] = tuple(LABELS),
                  detector: str | LandmarkDetector = "auto", landmarks_dir: str | os.PathLike | None = None,
                  size: int = 32, scale: float = 1.3, min_found: float = 0.5, overwrite: bool = False,
                  progress: bool | None = None, detector_kwargs: dict | None = None) -> Summary:
    """Label ``records`` into ``cache_dir`` by ``video_id``; failing videos are skipped and reported.

    ``detector`` is a backend name, a ready :class:`LandmarkDetector`, or "auto": the video's
    landmark file in ``landmarks_dir`` (``<video_id>.npy``) or the record's, where present, dlib
    otherwise. Videos already cached are kept unless ``overwrite``. ``progress=None`` shows the
    bar only on a terminal.
    """
    from tqdm import tqdm

    _check_labels(labels)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    source = _Landmarker(detector, Path(landmarks_dir) if landmarks_dir is not None else None, detector_kwargs or {})
    summary = Summary()
    start = time.perf_counter()
    with tqdm(unit="frame", desc="labelling", disable=None if progress is None else not progress) as bar:
        for i, record in enumerate(records):
            bar.set_postfix_str(f"video {i + 1}/{len(records)} skipped {len(summary.skipped)}")
            target = cache_file(cache_dir, record.video_id)
            if target.exists() and not overwrite:
                summary.cached.append(record.video_id)
                continue
            try:
                frames, fps = read_video(record.path)
                marks, name = source.track(record, frames)
                arrays = label_track(marks, record.live, labels, size, scale, min_found)
            except Exception as err:  # one bad video must not stop the run; the reason is reported
                reason = f"{type(err).__name__}: {err}"
                log.warning("skipping %s (%s): %s", record.video_id, record.path, reason)
                log.debug("traceback for %s", record.video_id, exc_info=True)
                summary.skipped[record.video_id] = reason
                continue
            arrays.update(live=np.bool_(record.live), fps=np.float32(fps), size=np.int32(size),
                          scale=np.float32(scale), detector=np.str_(name))
            _write_atomic(target, arrays)
            summary.labelled.append(record.video_id)
            summary.frames += len(frames)
            bar.update(len(frames))
            log.info("labelled %s: %d frames, face in %d", record.video_id, len(frames), int(arrays["found"].sum()))
    summary.seconds = time.perf_counter() - start
    return summary
