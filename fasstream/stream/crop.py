"""The worker's face stage: decoded clips of many sessions -> face crops, batched on the worker's device.

``FaceCropper`` turns clips into ``(4, size, size, 3)`` crops through one ``fasstream.faces``
tracker, a track per session (detect on some clips, track between, re-detect when lost; see
``fasstream.faces.tracking``), with the box calibrated to the training crop, and stabilised
(``fasstream.faces.stabilise``) when the model was trained so. A session that sent
a face box (``x0,y0,size`` header) is cropped with that box as it is; with
``face_detector: client`` no detector is loaded and every session must send one.

``CropStage`` runs it on ``threads`` threads. A session's clips always go to the same thread, in
order (a track is stateful); each thread takes up to ``max_batch`` clips of different sessions
from its queue and places them in one batched detector call.
"""
from __future__ import annotations

import queue
import threading
import time
import weakref
import zlib
from collections import deque
from typing import Callable

import numpy as np

from fasstream.data.faceclips import ClipWindow, crop_clip
from fasstream.data.video import CLIP_INTERVAL
from fasstream.faces.geometry import check_box, check_resample
from fasstream.faces.stage import load_tracker
from fasstream.faces.tracking import FaceTracker, Track

__all__ = ["CropStage", "FaceCropper"]


class FaceCropper:
    """Clips -> face crops of side ``size`` (``stabilise``: warped onto their first frame; ``resample``: the
    interpolation; both as the model was trained); ``tracker`` None serves client face boxes only."""

    def __init__(self, tracker: FaceTracker | None, size: int = 256, stabilise: bool = False,
                 resample: str = "linear"):
        self.tracker, self.size, self.stabilise, self.resample = tracker, size, stabilise, check_resample(resample)

    @classmethod
    def from_config(cls, detector: str, device: str, size: int, crop_scale: float,
                    stabilise: bool = False, resample: str = "linear") -> FaceCropper:
        """The cropper of a worker's ``face_detector`` (``client``: no detector) on ``device``."""
        return cls(None if detector == "client" else load_tracker(detector, device, crop_scale), size, stabilise,
                   resample)

    def load(self) -> None:
        """Load the detector's weights now (warm-up), not on the first clip."""
        if self.tracker is not None:
            self.tracker.detector.load()

    def track(self, face_box=None, key=None) -> Track:
        """A new session's track; ``face_box`` (x0, y0, side) fixes its crop box."""
        if self.tracker is not None:
            return self.tracker.track(key, face_box)
        if face_box is None:
            raise ValueError("this cropper has no face detector (face_detector: client): pass the session's face box")
        return Track(key=key, box=check_box(face_box))

    def crops(self, items: list[tuple[Track, np.ndarray, object]]) -> list[np.ndarray | None]:
        """Crops of clips ``(track, frames (4, H, W, 3) uint8 RGB, raw frame indices or None)``, one per track.

        None for a clip without a face. Raises ValueError for frames that are not RGB uint8 clips.
        """
        for _, frames, _ in items:
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
                raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        if self.tracker is None:
            boxes = [t.box for t, _, _ in items]
        else:
            boxes = self.tracker.boxes(items)
        return [None if box is None else
                crop_clip(frames, ClipWindow(np.arange(len(frames)), box), self.size, self.stabilise, self.resample)
                for box, (_, frames, _) in zip(boxes, items)]

    def __call__(self, frames: np.ndarray, box=None) -> np.ndarray | None:
        """One clip's crops with a fresh track (``box``: a fixed crop box); None without a face."""
        return self.crops([(self.track(box), np.ascontiguousarray(frames), None)])[0]


class CropStage:
    """``threads`` threads running ``cropper`` on the clips ``put`` to them; results go to ``on_crop``.

    ``on_crop(session, clip, crop or None, seconds, error or None)`` is called on a stage thread, once for
    every clip put (with None, unprocessed, once its session is closed);
    ``seconds`` is the clip's share of its batch's time, ``error`` a ValueError when the clip could not
    be cropped (e.g. a degenerate face box). ``session`` needs ``sid``, ``face_box`` and ``closed``.
    """

    def __init__(self, cropper: FaceCropper, on_crop: Callable, threads: int = 1, max_batch: int = 8):
        if threads < 1 or max_batch < 1:
            raise ValueError(f"threads and max_batch must be >= 1, got {threads} and {max_batch}")
        self.cropper, self.on_crop, self.max_batch = cropper, on_crop, max_batch
        self._queues = [queue.SimpleQueue() for _ in range(threads)]
        self._tracks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i, q in enumerate(self._queues):
            thread = threading.Thread(target=self._run, args=(q,), name=f"crop-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def put(self, session, clip) -> None:
        """Queue one decoded clip (``index``, ``start``, ``frames``) of ``session``."""
        self._queues[zlib.crc32(session.sid.encode()) % len(self._queues)].put((session, clip))

    def depth(self) -> int:
        """Clips waiting in the stage."""
        return sum(q.qsize() for q in self._queues)

    def stop(self) -> None:
        for q in self._queues:
            q.put(None)

    def _track(self, session) -> Track:
        track = self._tracks.get(session)
        if track is None:
            track = self._tracks[session] = self.cropper.track(session.face_box, key=session.sid)
        return track

    def _run(self, q: queue.SimpleQueue) -> None:
        self.cropper.load()
        pending: deque = deque()
        stopping = False
        while not (stopping and not pending):
            if not pending:
                item = q.get()
                if item is None:
                    return
                pending.append(item)
            while len(pending) < 4 * self.max_batch:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                pending.append(item)
            batch, held, later = [], set(), deque()
            for s, clip in pending:  # one clip per session, in order; the rest waits for the next batch
                if s.closed:  # still reported, so the worker can release what the clip holds
                    self.on_crop(s, clip, None, 0.0, None)
                    continue
                if id(s) in held or len(batch) >= self.max_batch:
                    held.add(id(s))
                    later.append((s, clip))
                else:
                    held.add(id(s))
                    batch.append((s, clip))
            pending = later
            if batch:
                self._place(batch)

    def _place(self, batch: list) -> None:
        tic = time.perf_counter()
        items, fixed = [], []
        for s, clip in batch:
            try:
                items.append((self._track(s), clip.frames, clip.start + CLIP_INTERVAL * np.arange(len(clip.frames))))
                fixed.append((s, clip))
            except ValueError as err:  # a degenerate face-box header
                self.on_crop(s, clip, None, 0.0, err)
        try:
            crops = self.cropper.crops(items) if items else []
        except ValueError as err:  # frames that are not an RGB clip
            for s, clip in fixed:
                self.on_crop(s, clip, None, 0.0, err)
            return
        share = (time.perf_counter() - tic) / max(1, len(items))
        for (s, clip), crop in zip(fixed, crops):
            self.on_crop(s, clip, crop, share, None)
