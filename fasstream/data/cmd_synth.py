"""``fasstream synth``: write the synthetic live/attack dataset."""
from __future__ import annotations

import argparse
import logging
import time

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream synth``."""
    parser.add_argument("--out", required=True, help="output folder (dataset.csv and videos/ go there)")
    parser.add_argument("--identities", type=int, default=12, help="number of synthetic subjects (default 12)")
    parser.add_argument("--videos-per-species", type=int, default=2,
                        help="videos of each species per subject (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same data")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: CPU count); the data does not depend on it")


def run(args: argparse.Namespace) -> int:
    """Generate the dataset described by ``args``; returns the exit code."""
    from .synthetic import generate_dataset

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    records = generate_dataset(args.out, n_identities=args.identities,
                               videos_per_species=args.videos_per_species, seed=args.seed, workers=args.workers)
    splits = {s: sum(r.split == s for r in records) for s in ("train", "dev", "test")}
    log.info("%d videos (%s) in %.1f s; layout CSV: %s/dataset.csv", len(records),
             ", ".join(f"{k} {v}" for k, v in splits.items()), time.perf_counter() - start, args.out)
    return 0
