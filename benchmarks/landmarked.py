"""Test videos with exact landmarks, pooled from datasets, for the benchmarks that compare with the training crop."""
from __future__ import annotations

import argparse
from pathlib import Path

from fasstream.data.records import VideoRecord, read_layout_csv
from fasstream.model.checkpoint import DEFAULT_MODEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--data`` (one or more dataset.csv, pooled) and ``--split``."""
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="dataset.csv files whose videos have landmark .npy files (pooled)")
    parser.add_argument("--split", default="test")


def read_records(data: list[Path], split: str, script: str) -> tuple[list[VideoRecord], str]:
    """The ``split`` videos of every dataset in ``data`` and a name for the pool; exits on an unusable pool."""
    where = " + ".join(map(str, data))
    records = [r for path in data for r in read_layout_csv(path) if r.split == split]
    if not records or any(r.landmarks is None for r in records):
        raise SystemExit(f"{script}: {where} has no {split} videos, or some lack landmarks")
    if len({r.video_id for r in records}) != len(records):
        raise SystemExit(f"{script}: {where} share video ids; pool datasets made with different seeds")
    return records, where
