"""Scoring videos with a trained EulerNet: face clips -> predicted maps -> clip scores -> video score.

Clip score = mean of the clip's predicted maps; video score = mean over its non-overlapping clips
(paper §IV.A), or their max for a checkpoint trained so (``aggregate``); ``still=True`` scores the
video frozen (:func:`freeze_clips`), the temporal probe. Faces come from exact landmarks when they
are given (an array, e.g. from the label cache, or a ``.npy`` file): the training crop. Otherwise the scorer's face tracker
(``fasstream.faces``, the licence-clean MTCNN stage by default) places every clip's box, calibrated
to that crop, exactly as a streaming worker does; ``faces="precomputed"`` reads the ``.npy`` (N, 68, 2)
beside each video instead (the synthetic generator writes them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fasstream.data.faceclips import clip_windows, crop_clip, tracked_windows
from fasstream.data.video import read_video
from fasstream.faces.geometry import check_resample
from fasstream.faces.stage import DEFAULT_DETECTOR, load_tracker
from fasstream.faces.tracking import FaceTracker
from fasstream.model import score
from fasstream.model.aggregate import aggregate, check_aggregate
from fasstream.model.eulernet import EulerNet

__all__ = ["VideoScore", "VideoScorer", "freeze_clips"]

log = logging.getLogger(__name__)


def freeze_clips(clips: np.ndarray) -> np.ndarray:
    """Clips (N, T, H, W, 3) with every frame replaced by its clip's first frame (same crop box).

    A frozen clip is a flawless still of the face (a perfect print, a paused screen): nothing in it
    moves, so only a model that reads time can tell it from the moving original.
    """
    return np.repeat(clips[:, :1], clips.shape[1], axis=1)


@dataclass(frozen=True)
class VideoScore:
    """A video's live score (high = live), the decision at the threshold and the clips it averages."""

    score: float
    live: bool
    clips: int
    clip_scores: tuple[float, ...]


class VideoScorer:
    """Scores video files with ``model`` (eval mode) at ``threshold``; crops as in training (``crop_scale``, and
    ``stabilise``: each clip's frames warped onto its first, ``fasstream.faces.stabilise``; ``resample``: the
    interpolation, ``fasstream.faces.geometry.RESAMPLING``).

    ``aggregate`` is the rule from clip scores to the video's (``fasstream.model.aggregate``: mean, max).
    ``faces`` is a face detector's name (see ``fasstream.faces.detectors``) or a ready FaceTracker;
    it is built on first use, on the scorer's device.
    """

    def __init__(self, model: EulerNet, threshold: float, crop_scale: float = 1.3,
                 faces: str | FaceTracker = DEFAULT_DETECTOR, batch_size: int = 16,
                 device: str | torch.device = "cpu", stabilise: bool = False, resample: str = "linear",
                 aggregate: str = "mean"):
        self.model, self.threshold, self.crop_scale, self.stabilise = model, float(threshold), crop_scale, stabilise
        self.resample, self.aggregate = check_resample(resample), check_aggregate(aggregate)
        self.faces, self.batch_size, self.device = faces, batch_size, torch.device(device)

    def tracker(self) -> FaceTracker:
        """The face tracker, built from ``faces`` on first use."""
        if not isinstance(self.faces, FaceTracker):
            self.faces = load_tracker(self.faces, str(self.device), self.crop_scale)
        return self.faces

    @classmethod
    def from_checkpoint(cls, model: EulerNet, meta: dict, **kwargs) -> "VideoScorer":
        """A scorer with the threshold, the crop (scale, stabilisation, resampling) and the video score rule stored
        in a checkpoint (see load_checkpoint)."""
        config = meta["config"]
        return cls(model, meta["threshold"], config.get("crop_scale", 1.3),
                   stabilise=bool(config.get("stabilise", False)), resample=config.get("resample", "linear"),
                   aggregate=config.get("aggregate", "mean"), **kwargs)

    def windows(self, frames: np.ndarray, path: Path, landmarks: Path | np.ndarray | None = None) -> list:
        """The video's face clips: from ``landmarks`` (an array or a .npy file) when given, else the tracker."""
        if landmarks is None:
            return tracked_windows(frames, self.tracker(), key=path)
        source = "given as an array" if isinstance(landmarks, np.ndarray) else landmarks
        points = landmarks if isinstance(landmarks, np.ndarray) else np.load(landmarks)
        if points.shape != (len(frames), 68, 2):
            raise ValueError(f"landmarks ({source}) have shape {points.shape}; expected ({len(frames)}, 68, 2) "
                             f"for {path}. Fix: regenerate them for this video (or relabel it).")
        return clip_windows(points, self.crop_scale)

    @torch.no_grad()
    def clip_scores(self, frames: np.ndarray, windows: list, still: bool = False) -> np.ndarray:
        """Scores of the video's face clips (``still``: frozen, see :func:`freeze_clips`);
        raises ValueError if it shows no face."""
        if not windows:
            raise ValueError("no face found in any clip of 4 frames. Fix: check the video shows one face.")
        clips = np.stack([crop_clip(frames, w, self.model.size, self.stabilise, self.resample) for w in windows])
        if still:
            clips = freeze_clips(clips)
        out = []
        for i in range(0, len(clips), self.batch_size):
            batch = torch.from_numpy(clips[i:i + self.batch_size]).to(self.device)
            batch = batch.permute(0, 1, 4, 2, 3).float().div_(255)
            out.append(score(self.model(batch)).float().cpu())
        return torch.cat(out).numpy()

    def _faces(self, path: str | Path, landmarks) -> tuple[np.ndarray, list]:
        path = Path(path)
        frames, _ = read_video(path)
        return frames, self.windows(frames, path, landmarks)

    def _video_score(self, scores: np.ndarray) -> VideoScore:
        value = aggregate(scores, self.aggregate)
        return VideoScore(value, value >= self.threshold, len(scores), tuple(float(s) for s in scores))

    def score_file(self, path: str | Path, landmarks: Path | np.ndarray | None = None,
                   still: bool = False) -> VideoScore:
        """Score one video file (faces as in :meth:`windows`; ``still``: every clip frozen).

        Raises VideoError (unreadable) or ValueError (too short, no face, landmarks of another length)."""
        frames, windows = self._faces(path, landmarks)
        return self._video_score(self.clip_scores(frames, windows, still))

    def score_file_and_still(self, path: str | Path,
                             landmarks: Path | np.ndarray | None = None) -> tuple[VideoScore, VideoScore]:
        """:meth:`score_file` of the video as it is and frozen, from one decode and one face pass."""
        frames, windows = self._faces(path, landmarks)
        return (self._video_score(self.clip_scores(frames, windows)),
                self._video_score(self.clip_scores(frames, windows, still=True)))
