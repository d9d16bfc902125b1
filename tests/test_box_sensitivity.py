"""benchmarks/box_sensitivity.py: boxes moved per clip or per video, and scaled about their centres."""
import importlib.util
import sys
from pathlib import Path

import numpy as np

from fasstream.data.faceclips import ClipWindow

_BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(_BENCHMARKS))  # box_sensitivity imports landmarked, beside it
_spec = importlib.util.spec_from_file_location("box_sensitivity", _BENCHMARKS / "box_sensitivity.py")
box_sensitivity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(box_sensitivity)

WINDOWS = [ClipWindow(np.arange(4) + 12 * k, (40.0 + k, 30.0, 180.0)) for k in range(5)]


def _offsets(windows):
    """(centre dx, centre dy, side factor) of each moved window against WINDOWS."""
    centre = lambda box: np.array(box[:2]) + box[2] / 2
    return np.array([(*(centre(m.box) - centre(w.box)), m.box[2] / w.box[2]) for w, m in zip(WINDOWS, windows)])


def test_per_clip_draws_move_every_clip_its_own_way_within_the_shift():
    got = _offsets(box_sensitivity.moved(WINDOWS, np.random.default_rng(0), 3.0))
    assert np.all(np.abs(got[:, :2]) <= 3.0) and np.all(got[:, 2] == 1.0)
    assert len(np.unique(got[:, 0])) == len(WINDOWS)


def test_per_video_draws_move_all_clips_alike_and_zoom_keeps_the_centre():
    windows = box_sensitivity.moved(WINDOWS, np.random.default_rng(1), 10.0, zoom=0.05, per_video=True)
    got = _offsets(windows)
    assert np.allclose(got, got[0]) and 0.95 <= got[0, 2] <= 1.05 and got[0, 2] != 1.0
    assert np.all(np.abs(got[:, :2]) <= 10.0) and np.any(got[0, :2] != 0)
    assert all(m.frames is w.frames for w, m in zip(WINDOWS, windows))


def test_without_zoom_the_offsets_are_the_ones_drawn_before_zoom_existed():
    rng = np.random.default_rng(7)
    expected = [rng.uniform(-0.5, 0.5, 2) for _ in WINDOWS]
    got = _offsets(box_sensitivity.moved(WINDOWS, np.random.default_rng(7), 0.5))
    assert np.allclose(got[:, :2], expected)
