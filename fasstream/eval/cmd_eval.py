"""``fasstream eval``: score a dataset's dev and test splits with a checkpoint and write the report.

The threshold is chosen on dev at the EER and applied unchanged to test. OULU-NPU protocols 3
and 4 with ``--fold all`` evaluate the six folds, each with its own checkpoint (``--model`` with a
``{fold}`` placeholder), and report mean ± std over the folds. ``--leave-out`` runs the
leave-one-family-out protocol (``fasstream.data.lofo``): one fold per held-out attack family,
each with its own checkpoint (``{family}`` placeholder), per-family APCER and mean ± std. Every
evaluation also runs the still probe (each live test video scored with its clips frozen, still
APCER at the dev threshold) unless ``--no-still-probe``. Landmarks come from the label cache
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
from fasstream.eval.metrics import LIVE

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint; with --fold all, a path with {fold}; "
                                                        "with --leave-out of several families, one with {family}")
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
    parser.add_argument("--leave-out", metavar="FAMILY[,...]|all",
                        help="leave-one-family-out: each named attack family (all: every one) is a fold, scored with "
                             "its own checkpoint (--model with {family}, trained without it), the threshold from "
                             "dev without it, tested on test live videos and its test attacks")
    parser.add_argument("--apcer-by", choices=("species", "family"), default="species",
                        help="group attacks for APCER by species or family (default: %(default)s; "
                             "--leave-out always groups by family)")
    parser.add_argument("--no-still-probe", action="store_true",
                        help="skip the still probe (every live test video scored again with each clip frozen "
                             "to its first frame; still APCER = share of those accepted)")
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


def score_split(scorer, records, split: str, cache: Path | None = None, still: bool = False,
                group: str = "species"):
    """Video-level ScoreSet of ``records`` (attacks grouped by ``group``: species or family), and with
    ``still`` the ScoreSet of its live videos frozen (the still probe), else None.

    Unusable videos are logged, counted and left out. With ``cache``, landmarks come from the label
    cache (a video missing from it is skipped).
    """
    from tqdm import tqdm

    from fasstream.eval.metrics import ScoreSet
    from fasstream.labels.cache import cached_landmarks

    kept, scores, frozen, skipped = [], [], [], []
    for rec in tqdm(records, desc=f"scoring {split}" + (" (live also frozen)" if still else ""), unit="video"):
        try:
            landmarks = cached_landmarks(cache, rec.video_id) if cache else rec.landmarks
            if still and rec.live:
                moving, held = scorer.score_file_and_still(rec.path, landmarks)
                frozen.append((rec.video_id, held.score))
            else:
                moving = scorer.score_file(rec.path, landmarks)
            scores.append(moving.score)
            kept.append(rec)
        except (VideoError, ValueError, OSError) as err:
            skipped.append(rec.video_id)
            log.warning("skipped %s video %s: %s", split, rec.video_id, err)
    print(f"{split}: {len(kept)} videos scored, {len(skipped)} skipped")
    if not kept:
        raise SystemExit(f"fasstream eval: no usable {split} video; see the warnings above.")
    groups = np.array([LIVE if r.live else getattr(r, group) for r in kept], dtype=object)  # bona fide pooled
    data = ScoreSet(np.asarray(scores), np.array([r.live for r in kept]), groups, np.array([r.video_id for r in kept]))
    if not frozen:
        return data, None
    ids, values = zip(*frozen)
    return data, ScoreSet(np.asarray(values), np.ones(len(ids), bool), np.full(len(ids), LIVE, dtype=object),
                          np.asarray(ids))


def _evaluate(args, model, meta: dict, model_path: str, dev, test, group: str):
    """Score ``dev`` and ``test`` records with one checkpoint; the Evaluation (with the still probe unless off)."""
    from fasstream.eval.metrics import evaluate
    from fasstream.eval.scoring import VideoScorer

    scorer = VideoScorer.from_checkpoint(model, meta, device=args.device)
    cache = _cache(args, meta)
    print(f"{model_path}: landmarks from " + (f"the label cache {cache}" if cache else
                                              "the landmark files, else faces from the mtcnn face stage"))
    dev_scores, _ = score_split(scorer, dev, "dev", cache, group=group)
    test_scores, frozen = score_split(scorer, test, "test", cache, still=not args.no_still_probe, group=group)
    return evaluate(dev_scores, test_scores, frozen)


def _evaluate_fold(args, model_path: str, fold: int | None):
    from fasstream.model.checkpoint import load_checkpoint

    model, meta = load_checkpoint(model_path, args.device)
    return _evaluate(args, model, meta, model_path, _records(args, fold, "dev"), _records(args, fold, "test"),
                     args.apcer_by)


def _trained_without(meta: dict, family: str, model_path: str) -> None:
    """Refuse a checkpoint whose recorded recipe trained on ``family`` (a fold would test on what it saw)."""
    recipe = meta["config"].get("recipe")
    if recipe is None:
        log.warning("%s records no recipe: cannot check that it was trained without family %s", model_path, family)
        return
    excluded = recipe.get("data", {}).get("exclude_families", [])
    if family not in excluded:
        raise ValueError(f"checkpoint {model_path} was trained with family {family} (its data.exclude_families is "
                         f"{excluded}), so fold {family} would test on a family it saw. Fix: train it with "
                         f"--set 'data.exclude_families=[{family}]', e.g. with pipelines/lofo.py.")


def _held_out_folds(args) -> list:
    """Evaluate every fold of --leave-out, each with its own checkpoint; checks everything before scoring."""
    from fasstream.data.lofo import attack_families, check_families, lofo_fold
    from fasstream.eval.metrics import HeldOutFold
    from fasstream.model.checkpoint import load_checkpoint

    fold = int(args.fold) if args.fold else None
    dev, test = _records(args, fold, "dev"), _records(args, fold, "test")
    source = args.data or f"{args.oulu} protocol {args.protocol}"
    known = attack_families(dev + test)
    named = dict.fromkeys(f.strip() for f in args.leave_out.split(",") if f.strip())  # in order, once each
    families = known if args.leave_out == "all" else list(named)
    if not families:
        raise ValueError(f"--leave-out {args.leave_out!r} names no family. Fix: name families (print-flat,replay-lcd) "
                         f"or pass all; the dev and test splits of {source} hold {', '.join(known) or 'no attacks'}.")
    check_families(known, families, f"--leave-out {args.leave_out} (dev and test splits of {source})")
    if len(families) > 1 and "{family}" not in args.model:
        raise ValueError(f"--leave-out {args.leave_out} evaluates {len(families)} families, each with its own "
                         f"checkpoint, but --model {args.model} has no {{family}} placeholder. "
                         "Fix: e.g. --model 'runs/lofo/{family}/best.pt'.")
    plans = []
    for family in families:
        try:
            fold_dev, fold_test = lofo_fold(dev, family, "dev"), lofo_fold(test, family, "test")
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
        path = args.model.replace("{family}", family)
        if not Path(path).is_file():
            raise FileNotFoundError(f"fold {family}: checkpoint {path} does not exist. Fix: train it without the "
                                    f"family (pipelines/lofo.py, or fasstream train RECIPE --set "
                                    f"'data.exclude_families=[{family}]'), or leave {family} out of --leave-out.")
        model, meta = load_checkpoint(path, args.device)
        _trained_without(meta, family, path)
        species = next(r.species for r in fold_test if r.family == family)
        plans.append((family, species, path, model, meta, fold_dev, fold_test))
    results = []
    for i, (family, species, path, model, meta, fold_dev, fold_test) in enumerate(plans, start=1):
        print(f"fold {i}/{len(plans)}: family {family} ({species}) held out, checkpoint {path}")
        try:
            evaluation = _evaluate(args, model, meta, path, fold_dev, fold_test, "family")
        except ValueError as err:  # e.g. every test attack of the family unreadable
            raise ValueError(f"fold {family}: {err}") from err
        results.append(HeldOutFold(family, species, path, evaluation))
    return results


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the report; returns 2 for unusable arguments, data or checkpoint."""
    from fasstream.eval.report import results_markdown, write_report

    if args.oulu and args.protocol is None:
        raise SystemExit("fasstream eval: --oulu needs --protocol 1-4.")
    try:
        if args.leave_out:
            if args.fold == "all":
                raise SystemExit("fasstream eval: --leave-out and --fold all do not combine; evaluate "
                                 "leave-one-family-out within one fold (--fold k).")
            results = _held_out_folds(args)
        elif args.fold == "all":
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
