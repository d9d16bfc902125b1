"""``fasstream export RUN/best.pt OUT.pt``: the serving part of a training checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint written by `fasstream train`")
    parser.add_argument("out", type=Path, help="where to write the slim checkpoint")


def run(args: argparse.Namespace) -> int:
    from fasstream.model.checkpoint import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0
