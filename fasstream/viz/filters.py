"""Temporal band-pass filters for the DIIRF op: design, frequency response, and filtering of videos.

Design (a 2nd-order Butterworth band-pass, i.e. a 1st-order low-pass prototype moved to the band):
prewarp both band edges, ``t = tan(pi * f / fps)``, and map the analog band-pass
``H(s) = B s / (s^2 + B s + W0^2)`` with ``B = t_hi - t_lo`` and ``W0^2 = t_lo * t_hi`` through the
bilinear transform ``s = (1 - z^-1) / (1 + z^-1)``. With ``a0 = 1 + B + W0^2``::

    b0 = B / a0,   b1 = 0,   b2 = -B / a0,   a1 = 2 (W0^2 - 1) / a0,   a2 = (1 - B + W0^2) / a0

The gain is exactly 1 at the centre ``fps/pi * atan(sqrt(t_lo t_hi))`` and exactly 1/sqrt(2)
(-3 dB) at both band edges, 0 at DC and at Nyquist. This equals
``scipy.signal.butter(1, (lo, hi), "bandpass", fs=fps)``.

DIIRF runs the transposed direct form II of paper eqs 1-3, so its difference equation is
``y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]``, the sign convention of
``scipy.signal.lfilter(b, [1, a1, a2], x)``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from fasstream.ops import diirf


def bandpass_coeffs(low_hz: float, high_hz: float, fps: float) -> np.ndarray:
    """DIIRF coefficients ``(b0, b1, b2, a1, a2)`` float64 of the band-pass ``low_hz``-``high_hz`` at ``fps``."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}; read it from the video (read_video returns it)")
    nyquist = fps / 2
    if not 0 < low_hz < high_hz < nyquist:
        raise ValueError(f"the pass band must satisfy 0 < low < high < fps/2 = {nyquist:g} Hz, got "
                         f"low={low_hz:g} Hz, high={high_hz:g} Hz; pick band edges below half the frame rate")
    t_lo, t_hi = math.tan(math.pi * low_hz / fps), math.tan(math.pi * high_hz / fps)
    bw, w0sq = t_hi - t_lo, t_lo * t_hi
    a0 = 1 + bw + w0sq
    return np.array([bw / a0, 0.0, -bw / a0, 2 * (w0sq - 1) / a0, (1 - bw + w0sq) / a0])


def response(coeffs, freqs_hz, fps: float) -> np.ndarray:
    """Complex frequency response ``H(e^{jw})`` of DIIRF coefficients at ``freqs_hz`` (array) for ``fps``."""
    b0, b1, b2, a1, a2 = np.asarray(coeffs, np.float64)
    z1 = np.exp(-2j * np.pi * np.asarray(freqs_hz, np.float64) / fps)  # z^-1
    return (b0 + b1 * z1 + b2 * z1**2) / (1 + a1 * z1 + a2 * z1**2)


def settle_frames(coeffs, tolerance: float = 0.01) -> int:
    """Frames after which the filter's start-up transient has decayed below ``tolerance`` (pole radius^n)."""
    _, _, _, a1, a2 = np.asarray(coeffs, np.float64)
    radius = float(np.abs(np.roots([1.0, a1, a2])).max())
    if radius >= 1:
        raise ValueError(f"coefficients {list(coeffs)} have a pole radius {radius:.4f} >= 1; the filter is unstable")
    return max(1, math.ceil(math.log(tolerance) / math.log(radius))) if radius > 0 else 1


def temporal_bandpass(x: torch.Tensor, coeffs) -> torch.Tensor:
    """Band-pass ``x (T, C, H, W)`` along T with the DIIRF op, starting as if frame 0 had always been shown.

    The op starts from a zero state, so a pixel at a steady level would excite the step response
    (a pixel level is ~100x the changes EVM looks for). Subtracting frame 0, a constant per pixel
    that the band-pass removes anyway, gives the filter's steady state for a constant past. Changes
    inside the band still need :func:`settle_frames` frames to reach their steady-state amplitude.
    """
    if x.dim() != 4 or x.shape[0] < 1:
        raise ValueError(f"x must be frames (T, C, H, W) with T >= 1, got shape {tuple(x.shape)}")
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    c = torch.as_tensor(np.asarray(coeffs), dtype=dtype)
    return diirf((x - x[:1]).to(dtype).unsqueeze(0).contiguous(), c)[0]
