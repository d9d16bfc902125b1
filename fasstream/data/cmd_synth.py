"""``fasstream synth``: write the synthetic live/attack dataset."""
from __future__ import annotations

import argparse
import logging
import sys
import time

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream synth``."""
    parser.add_argument("--out", required=True, help="output folder (dataset.csv and videos/ go there)")
    parser.add_argument("--identities", type=int, default=12, help="number of synthetic subjects (default 12)")
    parser.add_argument("--videos-per-family", type=int, default=1,
                        help="videos of each attack family per subject (default 1); live gets "
                             "LIVE_SHARE (3) times as many")
    parser.add_argument("--families", nargs="+", default=None, metavar="FAMILY",
                        help="families to render (default: all but the opt-in ones; a species name stands for its "
                             "first family; the live sources are always added): print-flat print-curved replay-lcd "
                             "replay-phone animated-warp animated-puppet still-print still-pause rigid-plane rigid-layers; "
                             "opt-in: live-calm (a subject holding still), live-spline (a third live renderer), "
                             "rigid-head (a live frame's head turned by live-spline's pose and warp), "
                             "live-mesh (a second live renderer, held out: test splits only)")
    parser.add_argument("--live-sources", nargs="+", default=["live"], metavar="FAMILY",
                        help="live families rendered as live videos whose recordings the replay, still and rigid "
                             "attacks are made of, one drawn per attack video (default: live); e.g. "
                             "`--live-sources live live-spline`, so that no renderer's signature means live. "
                             "live-mesh only with --splits test")
    parser.add_argument("--capture", default="standard",
                        help="camera distribution every video is drawn from (synth/camera.py CAPTURES): standard "
                             "(default, the committed model's data) or wide (frames down to 80 px, cleaner "
                             "sensors, fewer soft lenses, processor sharpening)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same data")
    parser.add_argument("--splits", nargs="+", choices=("train", "dev", "test"), default=None,
                        help="render only the identities of these splits (default: all); an identity's split "
                             "and videos do not depend on it, so e.g. `--identities 60 --seed 7 --splits test` "
                             "makes a larger test set of unseen identities")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: CPU count); the data does not depend on it")


def run(args: argparse.Namespace) -> int:
    """Generate the dataset described by ``args``; returns the exit code."""
    from .synthetic import generate_dataset

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    try:
        records = generate_dataset(args.out, n_identities=args.identities, videos_per_family=args.videos_per_family,
                                   seed=args.seed, workers=args.workers, families=args.families,
                                   splits=args.splits, live_sources=tuple(args.live_sources),
                                   capture=args.capture)
    except ValueError as err:  # an unknown family, or counts below one: the message names the input
        print(f"fasstream synth: {err}", file=sys.stderr)
        return 2
    splits = {s: sum(r.split == s for r in records) for s in ("train", "dev", "test")}
    log.info("%d videos (%s) in %.1f s; layout CSV: %s/dataset.csv", len(records),
             ", ".join(f"{k} {v}" for k, v in splits.items()), time.perf_counter() - start, args.out)
    return 0
