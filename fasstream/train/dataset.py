"""Training and dev clips held in memory, each video decoded once.

Every video yields its non-overlapping clips (4 frames at interval 3, one clip every 10 frames,
docs/CONTRACTS.md). A clip is cropped with ONE square face box, fitted to its frames' mean
landmarks, so the face does not jitter inside the clip; each frame gets its own label map in
that box. Crops and maps are kept as uint8 (maps quantised to 1/255).
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from fasstream.data.lofo import attack_families, check_families, without_families
from fasstream.data.oulu import ACCESS_FAMILY, oulu_records
from fasstream.data.records import VideoRecord, read_layout_csv
from fasstream.data.synth.families import HELD_OUT_FAMILIES
from fasstream.data.faceclips import ClipWindow, clip_window, clip_windows, crop_clip, stabilised_crop
from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, VideoError, read_video
from fasstream.faces.geometry import check_resample
from fasstream.faces.stabilise import stabilise_clip, stabilised_landmarks
from fasstream.labels.cache import cached_landmarks
from fasstream.labels.maps import LABELS
from fasstream.train.capture import degrade_clip, detail_clip
from fasstream.train.config import TrainConfig
from fasstream.train.framing import margin_box, margin_size, moved_box, random_box, reframe
from fasstream.train.temporal import freeze_clip, rigid_clip

__all__ = ["ClipDataset", "build_datasets", "colour_jitter", "split_records"]

log = logging.getLogger(__name__)


def colour_jitter(clip: torch.Tensor, strength: float) -> torch.Tensor:
    """Random brightness, contrast and saturation factors in ``1 +- strength``, shared by all frames of (T,3,H,W)."""
    b, c, s = (1 + (torch.rand(3) * 2 - 1) * strength).tolist()
    clip = clip * b
    mean = clip.mean()
    clip = (clip - mean) * c + mean
    gray = (clip * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return ((clip - gray) * s + gray).clamp_(0, 1)


def _stabilised(clip: torch.Tensor, resample: str) -> torch.Tensor:
    """``stabilise_clip`` of a float clip (T, 3, H, W) in [0, 1]."""
    frames = (clip * 255).round_().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return torch.from_numpy(stabilise_clip(frames, resample)[0]).permute(0, 3, 1, 2).float().div_(255)


class ClipDataset(Dataset):
    """Clips of ``records`` with their ``label`` maps; item i is ``(clip, maps, live, i)``.

    clip: (4, 3, size, size) float in [0, 1]; maps: (4, 1, size/8, size/8) float in [0, 1].
    ``clips_per_video`` > 0 keeps that many evenly spaced clips of each video. ``augment`` turns
    on a random face box (``fasstream.train.framing``: up to ``box_shift`` of the side off centre,
    scaled by up to ``box_zoom``; clips are then stored with a margin), a random horizontal flip (of
    clip and maps together, when ``flip``) and ``colour_jitter``,
    and turns a live clip into a temporal hard negative (``fasstream.train.temporal``) with
    probability ``still`` (held frame) or ``rigid`` (frame moved as a plane): label all zeros, not live;
    then any clip, with probability ``detail``, is sharpened or softened (``detail_clip``) and, with probability
    ``capture``, goes through a random capture (``degrade_clip``).
    ``stabilise`` warps every clip's frames onto its first (``fasstream.faces.stabilise``; a rigid hard
    negative after it is made), with the label maps drawn where the face then is. ``box_draws`` > 1
    stores that many crops of every training clip, cropped (and stabilised) from the video on their own:
    the landmark box and boxes moved by up to half a crop pixel along each axis (seeded by the video
    id), one drawn per item, so that the sub-pixel phase of the crop is not a cue. ``intervals`` lists the frame
    intervals a training clip is stored at (each from the clip's first frame, boxed by its own landmarks; a
    spacing that runs past the video or off the face stores the clip as cut), one drawn per item, so that a
    face's motion per clip varies as its speed does; evaluation cuts clips at ``CLIP_INTERVAL``. ``resample`` is the
    crop's interpolation (``fasstream.faces.geometry.RESAMPLING``; ``fasstream.data.faceclips.stabilised_crop``).
    Per clip: ``video_ids``, ``live``, ``species``. Unusable videos are logged and listed in
    ``skipped`` as (video_id, reason).
    """

    def __init__(self, records: list[VideoRecord], label: str = "position", size: int = 256,
                 crop_scale: float = 1.3, clips_per_video: int = 0, augment: bool = False,
                 flip: bool = True, jitter: float = 0.1, cache: str | Path = "", still: float = 0.0,
                 rigid: float = 0.0, capture: float = 0.0, detail: float = 0.0, box_shift: float = 0.0,
                 box_zoom: float = 0.0, stabilise: bool = False, box_draws: int = 1, resample: str = "linear",
                 intervals: tuple[int, ...] = (CLIP_INTERVAL,)):
        if label not in LABELS:
            raise ValueError(f"label {label!r} is not one of {sorted(LABELS)}")
        if size < 8 or size % 8:
            raise ValueError(f"size={size} must be a positive multiple of 8 (maps are size/8)")
        self.label, self.size, self.crop_scale = label, size, crop_scale
        self.clips_per_video, self.augment, self.flip, self.jitter = clips_per_video, augment, flip, jitter
        self.still, self.rigid, self.capture, self.detail = still, rigid, capture, detail
        self.box_shift, self.box_zoom, self.stabilise = box_shift, box_zoom, stabilise
        self.resample = check_resample(resample)
        if stabilise and self.augment and (box_shift or box_zoom):
            raise ValueError("stabilised clips are not reframed: turn box_shift and box_zoom off")
        self.stored = margin_size(size) if augment and (box_shift or box_zoom) else size
        if box_draws < 1 or (box_draws > 1 and self.stored != size):
            raise ValueError(f"box_draws={box_draws} must be >= 1, and 1 with box_shift or box_zoom "
                             "(a reframed crop has its own sub-pixel offset)")
        self.box_draws = box_draws if augment else 1
        self.intervals = tuple(intervals) if augment else (CLIP_INTERVAL,)
        if not self.intervals or any(int(d) != d or d < 1 for d in self.intervals):
            raise ValueError(f"intervals={intervals} must list frame intervals >= 1, e.g. (3,)")
        if self.intervals != (CLIP_INTERVAL,) and self.stored != size:
            raise ValueError(f"intervals={intervals} needs box_shift and box_zoom off (a reframed clip's maps are "
                             "drawn from the clip as cut)")
        self.draws = self.box_draws * len(self.intervals)  # crops stored per clip
        self.cache = cache
        frames, maps = [], []
        self.video_ids: list[str] = []
        self.live: list[bool] = []
        self.species: list[str] = []
        self.skipped: list[tuple[str, str]] = []
        self.windows: list[ClipWindow] = []  # the training box and landmarks of every clip
        for rec in records:
            try:
                clips = self._video_clips(rec)
            except (VideoError, OSError, ValueError) as err:
                self.skipped.append((rec.video_id, str(err)))
                log.warning("skipping video %s: %s", rec.video_id, err)
                continue
            for crop, label_maps, window in clips:
                frames.append(crop)
                maps.append(label_maps)
                self.windows.append(window)
                self.video_ids.append(rec.video_id)
                self.live.append(rec.live)
                self.species.append(rec.species)
        self._by_video: dict[str, list[int]] = {}
        for j, vid in enumerate(self.video_ids):
            self._by_video.setdefault(vid, []).append(j)
        s, m, k = self.stored, size // 8, self.draws
        self.frames = np.stack(frames) if frames else np.zeros((0, k, CLIP_LENGTH, s, s, 3), np.uint8)
        self.maps = np.stack(maps) if maps else np.zeros((0, k, CLIP_LENGTH, m, m), np.uint8)
        log.info("%d clips from %d videos (%d skipped)", len(self), len(records) - len(self.skipped),
                 len(self.skipped))

    def _landmarks(self, rec: VideoRecord) -> np.ndarray:
        """(N, 68, 2) landmarks of ``rec``, NaN where a frame has no face."""
        if self.cache:
            return cached_landmarks(self.cache, rec.video_id)
        if rec.landmarks is None:
            raise ValueError("no landmarks: run `fasstream label` on the dataset and set data.cache to its cache, "
                             "or give the video a (N, 68, 2) .npy (CSV landmarks column, or beside an OULU video)")
        return np.load(rec.landmarks)

    def _video_clips(self, rec: VideoRecord) -> list[tuple[np.ndarray, np.ndarray, ClipWindow]]:
        """(crops (K,4,S,S,3) uint8, maps (K,4,S/8,S/8) uint8, window) per usable clip, K = ``draws`` (per interval,
        ``box_draws`` boxes), the crops with a margin when the face box is jittered; raises ValueError naming the
        problem."""
        points = self._landmarks(rec)
        video, _ = read_video(rec.path)
        if points.shape != (len(video), 68, 2):
            raise ValueError(f"its landmarks have shape {points.shape} but the video has {len(video)} frames; "
                             f"expected ({len(video)}, 68, 2)")
        windows = clip_windows(points, self.crop_scale, self.clips_per_video)  # ValueError when too short
        rng = np.random.default_rng(zlib.crc32(rec.video_id.encode()))
        out = []
        for w in windows:
            draws = []
            for interval in self.intervals:
                spaced = clip_window(points, int(w.frames[0]), self.crop_scale, interval) or w
                draws.append(self._crop(video, spaced, rec.live))
                for _ in range(self.box_draws - 1):  # the box moved by up to half a crop pixel
                    dx, dy = rng.uniform(-0.5, 0.5, 2) / self.size
                    draws.append(self._crop(video, replace(spaced, box=moved_box(spaced.box, (dx, dy, 1.0))),
                                            rec.live))
            out.append((np.stack([c for c, _ in draws]), np.stack([m for _, m in draws]), w))
        if not out:
            raise ValueError(f"none of its clips has landmarks on all {CLIP_LENGTH} frames")
        return out

    def _crop(self, video: np.ndarray, w: ClipWindow, live: bool) -> tuple[np.ndarray, np.ndarray]:
        """The crop (4,S,S,3) uint8 of window ``w`` (with the margin, or stabilised, if asked) and its maps
        (4,S/8,S/8) uint8, drawn for ``w``'s box."""
        stored = replace(w, box=margin_box(w.box, self.size)) if self.stored != self.size else w
        landmarks = w.landmarks
        if self.stabilise:  # the maps follow the face where stabilisation moved it
            crop, homographies = stabilised_crop(video, stored, self.stored, self.resample)
            landmarks = stabilised_landmarks(landmarks, homographies, w.box, self.size)
        else:
            crop = crop_clip(video, stored, self.stored, resample=self.resample)
        maps = np.stack([LABELS[self.label](p, w.box, size=self.size // 8, live=live) for p in landmarks])
        return crop, np.round(maps * 255).astype(np.uint8)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int):
        return self.item(i)

    def clips_of(self, i: int) -> list[int]:
        """Indices of every clip of clip ``i``'s video, ``i`` included."""
        return self._by_video[self.video_ids[i]]

    def item(self, i: int, temporal: bool = True):
        """``(clip (4,3,S,S), maps (4,1,S/8,S/8), live, i)`` of clip ``i``, augmented when training; ``temporal``
        False never turns it into a temporal hard negative."""
        k = int(torch.randint(self.draws, ())) if self.draws > 1 else 0
        clip = torch.from_numpy(self.frames[i, k]).permute(0, 3, 1, 2).float().div_(255)
        maps = torch.from_numpy(self.maps[i, k]).float().div_(255).unsqueeze(1)
        live = self.live[i]
        if self.stored != self.size:  # a random face box: the crop resampled, the maps drawn for that box
            rel, w = random_box(self.box_shift, self.box_zoom), self.windows[i]
            clip = reframe(clip, self.size, rel)
            if live:
                make_map, box = LABELS[self.label], moved_box(w.box, rel)
                maps = torch.from_numpy(np.stack([make_map(p, box, size=self.size // 8) for p in w.landmarks]))
                maps = maps.unsqueeze(1)
        if self.augment:
            if self.flip and torch.rand(()) < 0.5:
                clip, maps = clip.flip(-1), maps.flip(-1)
            if self.jitter:
                clip = colour_jitter(clip, self.jitter)
            if temporal and live and (self.still or self.rigid):
                draw = float(torch.rand(()))
                if draw < self.still + self.rigid:
                    clip = freeze_clip(clip) if draw < self.still else rigid_clip(clip)
                    if draw >= self.still and self.stabilise:  # as every clip the model sees
                        clip = _stabilised(clip, self.resample)
                    maps, live = torch.zeros_like(maps), False
            if self.detail and torch.rand(()) < self.detail:
                clip = detail_clip(clip)
            if self.capture and torch.rand(()) < self.capture:
                clip = degrade_clip(clip)
        return clip, maps, live, i


def split_records(cfg: TrainConfig, split: str) -> list[VideoRecord]:
    """Records of one split (train, dev, test) of the recipe's data source.

    Train and dev leave out the attacks of ``data.exclude_families`` (a leave-one-family-out fold);
    an excluded family unknown to the data, or one whose removal leaves dev without attacks, raises ValueError,
    and so do train or dev videos of a held-out synthetic family (``Family.held_out``: test only).
    """
    if cfg.data.source == "csv":
        everything = read_layout_csv(cfg.data.path)
        records, known = [r for r in everything if r.split == split], attack_families(everything)
    else:
        records = oulu_records(cfg.data.path, cfg.data.protocol, cfg.data.fold or None, split=split)
        known = sorted(set(ACCESS_FAMILY.values()) - {"live"})
    held = sorted({r.family for r in records if r.family in HELD_OUT_FAMILIES}) if split != "test" else []
    if held:
        raise ValueError(f"the {split} split of {cfg.data.path} holds videos of the held-out famil"
                         f"{'ies' if len(held) > 1 else 'y'} {', '.join(held)}, which test and never train. Fix: "
                         "render them into test splits only (fasstream synth --splits test --families ...)")
    excluded = cfg.data.exclude_families
    if not excluded or split == "test":
        return records
    check_families(known, excluded, f"data.exclude_families of {cfg.data.path}")
    kept = without_families(records, excluded)
    if split == "dev" and all(r.live for r in kept) and not all(r.live for r in records):
        raise ValueError(f"data.exclude_families={excluded} leaves the dev split of {cfg.data.path} without attacks, "
                         "so no threshold can be chosen. Fix: exclude fewer families, or add dev attacks of others.")
    return kept


def build_datasets(cfg: TrainConfig) -> tuple[ClipDataset, ClipDataset]:
    """The recipe's (train, dev) clip sets: train augmented and capped at clips_per_video, dev with every clip."""
    common = dict(label=cfg.label, size=cfg.model.size, crop_scale=cfg.data.crop_scale, cache=cfg.data.cache,
                  stabilise=cfg.data.stabilise, resample=cfg.data.resample)
    if cfg.data.exclude_families:
        log.info("attacks of the families %s are left out of train and dev", ", ".join(cfg.data.exclude_families))
    train = ClipDataset(split_records(cfg, "train"), clips_per_video=cfg.data.clips_per_video, augment=True,
                        flip=cfg.data.flip, jitter=cfg.data.jitter, still=cfg.data.still, rigid=cfg.data.rigid,
                        capture=cfg.data.capture, detail=cfg.data.detail, box_shift=cfg.data.box_shift,
                        box_zoom=cfg.data.box_zoom, box_draws=cfg.data.box_draws,
                        intervals=tuple(cfg.data.intervals), **common)
    return train, ClipDataset(split_records(cfg, "dev"), **common)
