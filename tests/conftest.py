"""Shared test settings: deterministic seeds, few threads (CI has two cores)."""
import os

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A tansu broker on loopback, one per test module that asks for it."""
    from fasstream.stream.broker import LocalBroker

    with LocalBroker(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log") as bootstrap:
        yield bootstrap


_BLOCK_DLIB = '''import sys


class _NoDlib:
    """Makes dlib and its model package unimportable, as on a machine without them."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dlib", "_dlib_pybind11", "face_recognition_models"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test: no dlib here)")
        return None


sys.meta_path.insert(0, _NoDlib())
'''


@pytest.fixture
def no_dlib_env(tmp_path):
    """Environment for subprocesses (and theirs) in which dlib cannot be imported."""
    folder = tmp_path / "no-dlib"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(_BLOCK_DLIB)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}
