"""``fasstream train RECIPE.yaml [--set key=value ...] [--resume]``; under torchrun, one process per device."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from fasstream.train.config import ConfigError, load_config

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream train``."""
    parser.add_argument("recipe", type=Path, help="training recipe, e.g. pipelines/train/baseline.yaml")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override recipe keys, e.g. --set epochs=5 model.fcam=false")
    parser.add_argument("--resume", action="store_true", help="continue the run in out/name from its last.pt")


def run(args: argparse.Namespace) -> int:
    """Train; returns 2 for an unusable recipe, dataset or run folder."""
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.recipe, args.overrides)
    except ConfigError as err:
        print(f"fasstream train: {err}", file=sys.stderr)
        return 2
    from fasstream.train.loop import train

    try:
        _, history = train(cfg, resume=args.resume)
    except (OSError, ValueError) as err:  # unusable data or run folder; the message names it and the fix
        log.debug("training stopped", exc_info=True)
        print(f"fasstream train: {err}", file=sys.stderr)
        return 2
    if rank == 0 and history:
        best = min(history, key=lambda h: h["dev"]["acer"])
        log.info("done: best dev ACER %.2f%% at epoch %d; checkpoints in %s",
                 100 * best["dev"]["acer"], best["epoch"], cfg.out_dir)
    return 0
