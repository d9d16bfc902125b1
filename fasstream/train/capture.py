"""Capture changes for training clips of every class alike: a lower resolution, a gamma, H.264; sharper or softer.

The generator's cameras draw from one range (128-320 px, CRF 16-36); a model trained there alone
may learn that the range's per-frame texture means live, and lose live faces that are smaller or
more compressed than that (benchmarks/capture_shift.py). ``degrade_clip`` gives a clip, whatever its
label, a random capture: the face's resolution cut (area down-sampling, bilinear back up), a gamma,
and the clip's frames encoded as one short H.264 stream at a random CRF and decoded again (I- and
P-frames, so static blocks are copied between frames as a real encoder copies them). The same degradation applies
to live clips, attacks and temporal hard negatives, so it carries no label. ``detail_clip`` sharpens a
clip as a phone's processor does (an unsharp mask) or softens it as a soft lens does (a Gaussian blur), alike in
every frame and for every class, so that a crop's fine detail alone does not mean live.
"""
from __future__ import annotations

import math
from fractions import Fraction

import av
import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["degrade_clip", "detail_clip", "h264_roundtrip"]


def h264_roundtrip(frames: np.ndarray, crf: int) -> np.ndarray:
    """``(T, H, W, 3) uint8`` RGB (even H, W) encoded as one H.264 stream at ``crf`` and decoded back."""
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"h264_roundtrip needs even frame sides for yuv420p, got {w}x{h}")
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"crf": str(int(crf)), "preset": "ultrafast", "tune": "zerolatency", "threads": "1"}
    packets = []
    for i, frame in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        packets += codec.encode(vf)
    packets += codec.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    out = [f.to_ndarray(format="rgb24") for p in packets for f in decoder.decode(p)]
    out += [f.to_ndarray(format="rgb24") for f in decoder.decode(None)]
    if len(out) != t:
        raise RuntimeError(f"h264_roundtrip: {t} frames in, {len(out)} out")
    return np.stack(out)


def degrade_clip(clip: torch.Tensor, min_scale: float = 0.5, gamma: float = 1.6,
                 crf: tuple[int, int] = (16, 32)) -> torch.Tensor:
    """``(T, 3, H, W)`` float in [0, 1] -> the same clip through a random capture.

    Each step happens with probability 1/2: resolution scaled by a factor drawn log-uniformly in
    [``min_scale``, 1] and back; gamma drawn log-uniformly in [1/``gamma``, ``gamma``]; H.264 at a CRF
    drawn uniformly in ``crf``. The clip is a face crop at the model's input size, so a CRF on it
    takes more of the face than the same CRF on a whole frame; the range stops lower for that reason.
    """
    draw = torch.rand(6)
    if draw[0] < 0.5:
        scale = math.exp(math.log(min_scale) * float(draw[1]))
        h, w = clip.shape[-2:]
        small = F.interpolate(clip, size=(max(2, round(h * scale)), max(2, round(w * scale))), mode="area")
        clip = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp_(0, 1)
    if draw[2] < 0.5:
        clip = clip.pow(math.exp(math.log(gamma) * (2 * float(draw[3]) - 1)))
    if draw[4] < 0.5:
        level = crf[0] + int(float(draw[5]) * (crf[1] - crf[0] + 1))
        frames = (clip.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        clip = torch.from_numpy(h264_roundtrip(frames, min(level, crf[1]))).permute(0, 3, 1, 2).float().div_(255)
    return clip


def gaussian_blur(clip: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(T, C, H, W)`` float blurred frame by frame by a Gaussian of ``sigma`` pixels (``cv2.GaussianBlur``, as the
    generator's cameras blur and sharpen)."""
    frames = clip.permute(0, 2, 3, 1).contiguous().numpy()
    out = np.stack([cv2.GaussianBlur(f, (0, 0), sigma).reshape(f.shape) for f in frames])
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def detail_clip(clip: torch.Tensor, sharpen: tuple[float, float] = (0.3, 1.5),
                soften: tuple[float, float] = (0.4, 1.2)) -> torch.Tensor:
    """``(T, 3, H, W)`` float in [0, 1] -> the same clip sharper or softer, every frame alike.

    With probability 1/2 an unsharp mask of radius 1 px and amount drawn uniformly in ``sharpen`` (the
    generator's phone processors draw from the same range), else a Gaussian blur of sigma drawn uniformly
    in ``soften`` pixels of the crop.
    """
    draw = torch.rand(2)
    if draw[0] < 0.5:
        amount = sharpen[0] + float(draw[1]) * (sharpen[1] - sharpen[0])
        return (clip + amount * (clip - gaussian_blur(clip, 1.0))).clamp_(0, 1)
    return gaussian_blur(clip, soften[0] + float(draw[1]) * (soften[1] - soften[0]))
