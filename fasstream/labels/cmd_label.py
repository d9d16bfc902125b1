"""``fasstream label``: label a dataset once and cache its face maps (see ``fasstream.labels.cache``)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..faces.landmarks import DETECTORS
from .cache import label_records
from .maps import LABELS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fasstream label``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("csv", type=Path, nargs="?", help="dataset CSV: path,label,species,split[,subject][,landmarks]")
    source.add_argument("--oulu", type=Path, metavar="ROOT",
                        help="OULU-NPU root: label every video in its {Train,Dev,Test}_files (any protocol)")
    parser.add_argument("--cache", type=Path,
                        help="output folder for <video_id>.npz (default: <CSV folder or OULU root>/labels)")
    parser.add_argument("--labels", nargs="+", choices=list(LABELS), default=list(LABELS), help="maps to compute")
    parser.add_argument("--detector", choices=["auto", *DETECTORS], default="auto",
                        help="landmark source; auto: the video's landmark file where there is one, else dlib")
    parser.add_argument("--landmarks", type=Path,
                        help="folder of precomputed <video_id>.npy landmark files (e.g. Train_files/1_1_01_1.npy)")
    parser.add_argument("--size", type=int, default=32, help="side of the label maps")
    parser.add_argument("--scale", type=float, default=1.3, help="crop side / longer side of the landmarks' box")
    parser.add_argument("--min-face", type=float, default=0.5,
                        help="skip a video whose fraction of frames with a face is below this")
    parser.add_argument("--overwrite", action="store_true", help="relabel videos already in the cache")
    parser.add_argument("--upsample", type=int, default=0, help="dlib HOG upsampling (finds smaller faces, slower)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every video")


def _records(args: argparse.Namespace):
    if args.oulu:
        from fasstream.data.oulu import oulu_videos
        return oulu_videos(args.oulu)
    from fasstream.data.records import read_layout_csv
    return read_layout_csv(args.csv)


def run(args: argparse.Namespace) -> int:
    """Label the dataset; returns 2 for unusable input, 1 when videos were to be labelled and none could be."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        records = _records(args)
        if args.landmarks is not None and not args.landmarks.is_dir():
            raise FileNotFoundError(f"--landmarks {args.landmarks} is not a folder; pass the folder of "
                                    "<video_id>.npy files")
    except (OSError, ValueError) as err:
        print(f"fasstream label: {err}", file=sys.stderr)
        return 2
    cache = args.cache or (args.oulu or args.csv.parent) / "labels"
    kwargs = {"upsample": args.upsample} if args.detector in ("auto", "dlib") else {}
    summary = label_records(records, cache, labels=args.labels, detector=args.detector,
                            landmarks_dir=args.landmarks, size=args.size, scale=args.scale, min_found=args.min_face,
                            overwrite=args.overwrite, progress=False if args.no_progress else None,
                            detector_kwargs=kwargs)
    print(summary)
    print(f"cache: {cache}")
    return 1 if summary.skipped and not (summary.labelled or summary.cached) else 0
