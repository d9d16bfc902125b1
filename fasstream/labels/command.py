"""``fasstream label``: label a dataset once and cache its face maps (see ``fasstream.labels.cache``)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .cache import label_dataset
from .landmarks import DETECTORS
from .maps import LABELS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream label``."""
    parser.add_argument("csv", type=Path, help="dataset CSV: path,label,species,split[,subject][,landmarks]")
    parser.add_argument("--cache", type=Path, help="output folder for <video_id>.npz (default: <CSV folder>/labels)")
    parser.add_argument("--labels", nargs="+", choices=list(LABELS), default=list(LABELS), help="maps to compute")
    parser.add_argument("--detector", choices=["auto", *DETECTORS], default="auto",
                        help="landmark source; auto: the CSV's landmark files where given, else dlib")
    parser.add_argument("--landmarks", type=Path, help="folder of precomputed <video_id>.npy landmark files")
    parser.add_argument("--size", type=int, default=32, help="side of the label maps")
    parser.add_argument("--scale", type=float, default=1.3, help="crop side / longer side of the landmarks' box")
    parser.add_argument("--min-face", type=float, default=0.5,
                        help="skip a video whose fraction of frames with a face is below this")
    parser.add_argument("--overwrite", action="store_true", help="relabel videos already in the cache")
    parser.add_argument("--upsample", type=int, default=0, help="dlib HOG upsampling (finds smaller faces, slower)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every video")


def run(args: argparse.Namespace) -> int:
    """Label the dataset; returns 1 when videos were to be labelled and none could be."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cache = args.cache or args.csv.parent / "labels"
    kwargs = {"upsample": args.upsample} if args.detector in ("auto", "dlib") else {}
    summary = label_dataset(args.csv, cache, labels=args.labels, detector=args.detector,
                            landmarks_dir=args.landmarks, size=args.size, scale=args.scale, min_found=args.min_face,
                            overwrite=args.overwrite, progress=False if args.no_progress else None,
                            detector_kwargs=kwargs)
    print(summary)
    print(f"cache: {cache}")
    return 1 if summary.skipped and not (summary.labelled or summary.cached) else 0
