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
