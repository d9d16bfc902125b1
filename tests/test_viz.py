"""fasstream.viz: band-pass design, Eulerian magnification, Grad-CAM, and the magnify/explain commands."""
import json

import numpy as np
import pytest
import scipy.signal
import torch

from fasstream import cli
from fasstream.data.synthetic import make_identity, render_video
from fasstream.data.video import read_video, write_video
from fasstream.model import EulerNet
from fasstream.ops import diirf
from fasstream.viz.evm import Settings, collapse, magnify, pyramid
from fasstream.viz.filters import bandpass_coeffs, response, settle_frames, temporal_bandpass
from fasstream.viz.gradcam import LAYERS, explain_clip

BANDS = [(0.8, 2.0, 30.0), (0.5, 3.0, 25.0), (4.0, 9.0, 60.0)]


@pytest.mark.parametrize("low,high,fps", BANDS)
def test_bandpass_design_matches_scipy_and_the_op(low, high, fps):
    coeffs = bandpass_coeffs(low, high, fps)
    b, a = scipy.signal.butter(1, (low, high), "bandpass", fs=fps)
    np.testing.assert_allclose(coeffs, [*b, *a[1:]], atol=1e-12)
    freqs = np.linspace(0, fps / 2, 257)
    _, h = scipy.signal.freqz(b, a, worN=freqs, fs=fps)
    np.testing.assert_allclose(response(coeffs, freqs, fps), h, atol=1e-12)
    # design targets: -3 dB at both edges, unity at the prewarped centre, zero at DC and Nyquist
    np.testing.assert_allclose(np.abs(response(coeffs, [low, high], fps)), 2 ** -0.5, atol=1e-9)
    centre = fps / np.pi * np.arctan(np.sqrt(np.tan(np.pi * low / fps) * np.tan(np.pi * high / fps)))
    assert abs(response(coeffs, centre, fps)) == pytest.approx(1.0, abs=1e-9)
    assert np.abs(response(coeffs, [0.0, fps / 2], fps)).max() < 1e-9
    # the op's measured impulse response has the designed spectrum (tolerance 1e-6)
    n = 8192
    impulse = torch.zeros(1, n, 1, 1, 1, dtype=torch.float64)
    impulse[0, 0] = 1.0
    h_op = diirf(impulse, torch.tensor(coeffs)).flatten().numpy()
    assert np.abs(h_op[-100:]).max() < 1e-9, "impulse response not decayed: a longer run is needed"
    grid = np.fft.rfftfreq(n, 1 / fps)
    np.testing.assert_allclose(np.fft.rfft(h_op), response(coeffs, grid, fps), atol=1e-6)
    # float32, as magnify runs it: within 1e-4 of the design
    h32 = diirf(impulse.float(), torch.tensor(coeffs, dtype=torch.float32)).flatten().double().numpy()
    np.testing.assert_allclose(np.fft.rfft(h32), response(coeffs, grid, fps), atol=1e-4)


@pytest.mark.parametrize("low,high,fps", [(0, 2, 30), (2, 1, 30), (1, 15, 30), (1, 2, 0)])
def test_bandpass_rejects_bad_bands(low, high, fps):
    with pytest.raises(ValueError, match="fps"):
        bandpass_coeffs(low, high, fps)


def test_temporal_bandpass_has_no_step_transient_and_settles():
    fps, coeffs = 30.0, bandpass_coeffs(0.8, 2.0, 30.0)
    steady = temporal_bandpass(torch.full((50, 3, 2, 2), 0.7, dtype=torch.float64), coeffs)
    assert steady.abs().max() == 0  # a constant video, level 0.7, gives exactly nothing
    t = np.arange(200) / fps
    f = 1.3
    x = 0.5 + 0.01 * np.sin(2 * np.pi * f * t)
    y = temporal_bandpass(torch.tensor(x).view(-1, 1, 1, 1), coeffs).flatten().numpy()
    h = response(coeffs, f, fps)
    ideal = 0.01 * abs(h) * np.sin(2 * np.pi * f * t + np.angle(h))
    settle = settle_frames(coeffs)
    assert np.abs(y - ideal)[settle:].max() < 0.01 * 0.01 * 1.5  # within 1.5 % of the amplitude once settled


def _amplitude(video, freq, fps, skip):
    """Amplitude of ``freq`` in the frame-mean of ``video[skip:]``, by projection on a complex exponential."""
    trace = video[skip:].reshape(len(video) - skip, -1).mean(1).astype(np.float64)
    t = np.arange(len(trace)) / fps
    return abs(np.sum((trace - trace.mean()) * np.exp(-2j * np.pi * freq * t))) * 2 / len(trace)


def test_magnify_amplifies_the_pulse_and_not_other_frequencies():
    fps, alpha = 30.0, 10.0
    coeffs = bandpass_coeffs(0.8, 2.0, fps)
    skip = settle_frames(coeffs)  # measure the steady state: 600 frames, a whole number of cycles of each part
    t = np.arange(skip + 600) / fps
    parts = {1.2: 0.02, 0.1: 0.02, 6.0: 0.02}  # pulse in the 0.8-2 Hz band, slow drift, fast flicker
    level = 0.5 + sum(a * np.sin(2 * np.pi * f * t) for f, a in parts.items())
    noise = np.random.default_rng(0).normal(0, 2, (len(t), 32, 32, 3))
    frames = np.clip(level[:, None, None, None] * 255 + noise, 0, 255).round().astype(np.uint8)
    settings = Settings(low_hz=0.8, high_hz=2.0, alpha=alpha, mode="colour", levels=3)
    out = magnify(frames, fps, settings, progress=False)
    assert out.shape == frames.shape and out.dtype == np.uint8
    gains = {f: _amplitude(out, f, fps, skip) / _amplitude(frames, f, fps, skip) for f in parts}
    for f, gain in gains.items():  # output = input + alpha * band-passed input, within 5 %
        assert gain == pytest.approx(abs(1 + alpha * response(coeffs, f, fps)), rel=0.05), (f, gains)
    assert gains[1.2] > 9
    assert gains[0.1] < 0.3 * gains[1.2] and gains[6.0] < 0.3 * gains[1.2], gains


def _edge_motion(freq, fps=30.0, n=150, amplitude=0.4):
    """A soft vertical edge swaying by ``amplitude`` px at ``freq`` Hz, and a measure of its sway."""
    t, x = np.arange(n) / fps, np.arange(64)
    rows = [255 / (1 + np.exp(-(x - 32 - amplitude * np.sin(2 * np.pi * freq * s)) / 3.0)) for s in t]
    frames = np.repeat(np.repeat(np.array(rows)[:, None, :, None], 64, 1), 3, 3).round().astype(np.uint8)

    def sway(video):
        grad = np.abs(np.diff(video[40:, 32, :, 0].astype(np.float64), axis=1))  # skip the settling frames
        return np.ptp((grad * np.arange(63)).sum(1) / grad.sum(1)) / 2

    return frames, sway


@pytest.mark.parametrize("freq,low,high", [(1.2, 3.0, 1e9), (6.0, 0.0, 1.6)])
def test_motion_mode_magnifies_small_movements_in_the_band(freq, low, high):
    frames, sway = _edge_motion(freq)
    out = magnify(frames, 30.0, Settings(mode="motion", alpha=10, levels=4, chroma=0.1), progress=False)
    assert out.shape == frames.shape
    assert low < sway(out) / sway(frames) < high


def test_pyramid_is_exactly_invertible_and_level_gains_follow_the_mode():
    image = np.random.default_rng(1).random((37, 50, 3), dtype=np.float32)
    levels = pyramid(image, 3)
    assert [lv.shape[:2] for lv in levels] == [(37, 50), (19, 25), (10, 13), (5, 7)]
    np.testing.assert_allclose(collapse(levels), image, atol=1e-5)
    assert Settings(alpha=30, levels=3).level_gains() == [0, 0, 0, 30]
    motion = Settings(alpha=10, mode="motion", levels=4, wavelength=16).level_gains()
    assert motion[-1] == 0 and motion == sorted(motion[:-1]) + [0] and max(motion) == 10 and motion[0] < 10
    with pytest.raises(ValueError, match="too short"):
        magnify(np.zeros((10, 32, 32, 3), np.uint8), 30.0, Settings(low_hz=0.5), progress=False)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A synthetic live and print video (H.264) with their landmark files, and a too-short and a faceless one."""
    folder = tmp_path_factory.mktemp("videos")
    identity = make_identity("grace_hopper", 3)
    paths = {}
    for species in ("live", "print"):
        frames, marks, fps = render_video(identity, species, np.random.SeedSequence([3, 1]))
        paths[species] = write_video(folder / f"{species}.mp4", frames, fps)
        np.save(folder / f"{species}.npy", marks)
    paths["short"] = write_video(folder / "short.mp4", frames[:6], fps)
    np.save(folder / "short.npy", marks[:6])
    grey = np.full((40, 96, 96, 3), 128, np.uint8)
    paths["faceless"] = write_video(folder / "faceless.mp4", grey, fps)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    paths["broken"] = folder / "broken.mp4"
    return paths


def test_magnify_command_writes_video_strip_and_numbers(videos, tmp_path):
    out = tmp_path / "mag"
    rc = cli.main(["magnify", str(videos["live"]), str(videos["print"]), "--out", str(out), "--no-progress"])
    assert rc == 0
    magnified, fps = read_video(out / "live_magnified.mp4")
    original, fps_in = read_video(videos["live"])
    assert magnified.shape == original.shape and fps == pytest.approx(fps_in)
    numbers = json.loads((out / "magnify.json").read_text())
    live, attack = numbers["videos"]
    assert 0.8 <= live["peak_hz"] <= 2.0  # the synthetic pulse (1-1.5 Hz) dominates the magnified face
    assert live["gain_in_band"] > 5
    assert len(live["magnified_green_trace"]) == live["frames"] == len(original)
    assert (out / "magnify.png").stat().st_size > 10_000


def _checkpoint(path, label="position", **kwargs):
    model = EulerNet("tiny", **kwargs)
    torch.save({"model": model.state_dict(), "config": {**model.config, "label": label}, "threshold": 0.4,
                "metrics": {}, "version": "test"}, path)
    return path


@pytest.mark.parametrize("fcam,pyramid", [(True, True), (False, False)])
def test_explain_clip_gives_maps_at_every_depth(fcam, pyramid):
    model = EulerNet("tiny", fcam=fcam, pyramid=pyramid).eval()
    clip = torch.rand(4, 3, 256, 256)
    ex = explain_clip(model, clip)
    sizes = {"max pooling 1": 128, "max pooling 2": 64, "max pooling 3": 32, "fusion": 32}
    assert list(ex.cams) == list(LAYERS)
    for layer, size in sizes.items():
        cam = ex.cams[layer]
        assert cam.shape == (4, size, size) and np.isfinite(cam).all() and (cam >= 0).all()
    assert ex.predicted.shape == (4, 32, 32)
    with torch.no_grad():
        expected = model(clip[None]).mean().item()
    assert ex.score == pytest.approx(expected, abs=1e-6)
    assert not any(g._forward_hooks for g in model.gates) and not model.fuse._forward_hooks


def test_explain_command_writes_both_figures(videos, tmp_path):
    ckpts = [_checkpoint(tmp_path / "position.pt"), _checkpoint(tmp_path / "depth.pt", "depth", fcam=False)]
    out = tmp_path / "explain"
    argv = ["explain", str(videos["live"]), str(videos["print"]), "--names", "L", "P", "--out", str(out),
            "--no-progress"]
    assert cli.main(argv + sum((["--model", str(c)] for c in ckpts), [])) == 0
    grad = json.loads((out / "gradcam.json").read_text())
    assert len(grad["rows"]) == 4
    sizes = {name: panel["size"] for name, panel in grad["rows"][0]["panels"].items()}
    assert sizes == {"max pooling 1": [128, 128], "max pooling 2": [64, 64], "max pooling 3": [32, 32],
                     "fusion": [32, 32], "predicted map": [32, 32]}
    assert grad["rows"][0]["threshold"] == 0.4 and 0 <= grad["rows"][0]["score"] <= 1
    sup = json.loads((out / "supervision.json").read_text())
    assert {r["supervision"] for r in sup["rows"]} == {"position", "depth"}
    assert [r["name"] for r in sup["rows"]] == ["L", "L", "P", "P"]
    assert np.asarray(sup["rows"][0]["predicted_map"]).shape == (32, 32)
    assert (out / "gradcam.png").is_file() and (out / "supervision.png").is_file()


@pytest.mark.parametrize("video,message", [("broken", "cannot read video"), ("short", "at least 10"),
                                           ("faceless", "no face found")])
def test_explain_bad_input_gives_a_clear_error(videos, tmp_path, capsys, video, message):
    ckpt = _checkpoint(tmp_path / "m.pt")
    assert cli.main(["explain", str(videos[video]), "--model", str(ckpt), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(videos[video]) in err


@pytest.mark.parametrize("video,extra,message", [("broken", [], "cannot read video"), ("short", [], "too short"),
                                                 ("faceless", [], "no face found"),
                                                 ("live", ["--high", "40"], "below half the frame rate")])
def test_magnify_bad_input_gives_a_clear_error(videos, tmp_path, capsys, video, extra, message):
    assert cli.main(["magnify", str(videos[video]), "--out", str(tmp_path), "--no-progress", *extra]) == 2
    assert message in capsys.readouterr().err


def test_explain_rejects_a_missing_or_foreign_checkpoint(videos, tmp_path, capsys):
    assert cli.main(["explain", str(videos["live"]), "--model", str(tmp_path / "none.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    torch.save({"weights": {}}, tmp_path / "foreign.pt")
    assert cli.main(["explain", str(videos["live"]), "--model", str(tmp_path / "foreign.pt")]) == 2
    assert "lacks model, config, threshold" in capsys.readouterr().err
