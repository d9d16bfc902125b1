"""The README's main job, `fasstream demo`, end to end: broker, workers, synthetic sessions, results."""
import subprocess
import sys
from pathlib import Path

import pytest

from fasstream.data.synthetic import SPECIES
from fasstream.model.checkpoint import DEFAULT_MODEL, load_checkpoint

pytest.importorskip("kafka")
ROOT = Path(__file__).resolve().parents[1]


def test_demo_scores_every_session_and_stops_cleanly(no_dlib_env):
    """With dlib not importable anywhere: the generator, the workers' default face stage (MTCNN) and the demo."""
    proc = subprocess.run([sys.executable, "-m", "fasstream.cli", "demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=no_dlib_env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["session", "truth"])
    n = 2 * len(SPECIES)  # two identities, one session of each species
    rows = [line.split() for line in lines[start + 1:start + 1 + n]]
    assert len(rows) == n and {row[1] for row in rows} == set(SPECIES), rows
    threshold = load_checkpoint(DEFAULT_MODEL)[1]["threshold"]
    wrong = 0
    for sid, truth, status, decision, score, e2e_ms in rows:
        assert status == "ok" and decision == ("live" if float(score) >= threshold else "spoof"), (sid, decision, score)
        assert 0 <= float(score) <= 1 and float(e2e_ms) > 0
        wrong += decision != ("live" if truth == "live" else "spoof")
    # accuracy is tests/test_acceptance.py's job; 12 sessions: at most one error (the model's BPCER is 3-14%)
    assert wrong <= 1, rows
    assert f"{n}/{n} sessions scored" in proc.stdout and "ACER" in proc.stdout
