"""``fasstream eval``: score a dataset's dev and test splits with a checkpoint and write the report.

The threshold is chosen on dev at the EER and applied unchanged to test. OULU-NPU protocols 3
and 4 with ``--fold all`` evaluate the six folds, each with its own checkpoint (``--model`` with a
``{fold}`` placeholder), and report mean ± std over the folds. Landmarks come from the label cache
of ``fasstream label`` (``--cache``, by default the one the checkpoint was trained with), else from
a ``.npy`` beside each video or the dlib detector.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from fasstream.data.video import VideoError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint; with --fold all, a path with {fold}")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="dataset CSV in the generic layout (path,label,species,split)")
    source.add_argument("--oulu", type=Path, help="OULU-NPU root (with Protocols/ and the *_files folders)")
    parser.add_argument("--protocol", type=int, choices=(1, 2, 3, 4), help="OULU-NPU protocol")
    parser.add_argument("--fold", default="", choices=["", "all", *map(str, range(1, 7))],
                        help="OULU-NPU fold 1-6 for protocols 3 and 4, or 'all'")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", type=Path, help="label cache of `fasstream label` to take landmarks from "
                                                  "(default: the checkpoint's data.cache, if that folder exists)")
    cache.add_argument("--no-cache", action="store_true", help="ignore label caches: .npy beside the video, else dlib")
    parser.add_argument("--out", type=Path, default=Path("runs/eval"), help="report folder (default: %(default)s)")
    parser.add_argument("--device", default="cpu")


def _records(args, fold: int | None, split: str):
    if args.data:
        from fasstream.data.records import read_layout_csv
        return [r for r in read_layout_csv(args.data) if r.split == split]
    from fasstream.data.oulu import oulu_records
    return oulu_records(args.oulu, args.protocol, fold, split=split)


def _cache(args, meta: dict) -> Path | None:
    """The label cache to use: --cache, else the checkpoint's training cache where it exists, else None."""
    if args.no_cache:
        return None
    if args.cache:
        if not args.cache.is_dir():
            raise FileNotFoundError(f"--cache {args.cache} is not a folder; pass the --cache of `fasstream label`, "
                                    "or --no-cache to find landmarks without it")
        return args.cache
    trained = meta["config"].get("recipe", {}).get("data", {}).get("cache", "")
    if trained and Path(trained).is_dir():
        return Path(trained)
    if trained:
        print(f"the checkpoint's label cache {trained} is not here; finding landmarks without it (see --cache)")
    return None


def score_split(scorer, records, split: str, cache: Path | None = None):
    """Video-level ScoreSet of ``records``; unusable videos are logged, counted and left out.

    With ``cache``, landmarks come from the label cache (a video missing from it is skipped).
    """
    from tqdm import tqdm

    from fasstream.eval.metrics import ScoreSet
    from fasstream.labels.cache import cached_landmarks

    kept, scores, skipped = [], [], []
    for rec in tqdm(records, desc=f"scoring {split}", unit="video"):
        try:
            landmarks = cached_landmarks(cache, rec.video_id) if cache else rec.landmarks
            scores.append(scorer.score_file(rec.path, landmarks).score)
            kept.append(rec)
        except (VideoError, ValueError, OSError) as err:
            skipped.append(rec.video_id)
            log.warning("skipped %s video %s: %s", split, rec.video_id, err)
    print(f"{split}: {len(kept)} videos scored, {len(skipped)} skipped")
    if not kept:
        raise SystemExit(f"fasstream eval: no usable {split} video; see the warnings above.")
    return ScoreSet(np.asarray(scores), np.array([r.live for r in kept]), np.array([r.species for r in kept]),
                    np.array([r.video_id for r in kept]))


def _evaluate_fold(args, model_path: str, fold: int | None):
    from fasstream.eval.metrics import evaluate
    from fasstream.eval.scoring import VideoScorer
    from fasstream.model.checkpoint import load_checkpoint

    model, meta = load_checkpoint(model_path, args.device)
    scorer = VideoScorer.from_checkpoint(model, meta, device=args.device)
    cache = _cache(args, meta)
    print(f"{model_path}: landmarks from " + (f"the label cache {cache}" if cache else
                                              "the landmark files, else faces from the mtcnn face stage"))
    dev, test = _records(args, fold, "dev"), _records(args, fold, "test")
    return evaluate(score_split(scorer, dev, "dev", cache), score_split(scorer, test, "test", cache))


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the report; returns 2 for unusable arguments, data or checkpoint."""
    from fasstream.eval.report import results_markdown, write_report

    if args.oulu and args.protocol is None:
        raise SystemExit("fasstream eval: --oulu needs --protocol 1-4.")
    try:
        if args.fold == "all":
            if not (args.oulu and args.protocol in (3, 4)) or "{fold}" not in args.model:
                raise SystemExit("fasstream eval: --fold all needs --oulu, --protocol 3 or 4 and a --model path "
                                 "with {fold}, e.g. runs/p3_{fold}/best.pt.")
            results = [_evaluate_fold(args, args.model.format(fold=k), k) for k in range(1, 7)]
        else:
            results = _evaluate_fold(args, args.model, int(args.fold) if args.fold else None)
    except (OSError, ValueError) as err:  # bad list, video folder or checkpoint: the message names it and the fix
        print(f"fasstream eval: {err}", file=sys.stderr)
        return 2
    files = write_report(results, args.out)
    print(results_markdown(results))
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 0
