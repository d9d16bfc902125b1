"""The cores a process may use and their share among processes side by side."""
import os

import pytest

from fasstream import cores


def test_available_follows_the_affinity(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert cores.available() == 3


def test_threads_each_shares_the_cores_and_keeps_one(monkeypatch):
    monkeypatch.setattr(cores, "available", lambda: 8)
    assert [cores.threads_each(n) for n in (1, 2, 3, 8, 20)] == [8, 4, 2, 1, 1]


def test_threads_each_refuses_no_process():
    with pytest.raises(ValueError, match="processes must be 1 or more, got 0"):
        cores.threads_each(0)
