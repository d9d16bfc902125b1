"""``fasstream verify VIDEO... --model CKPT [--probe-still]``: the live score and decision of local videos.

``--probe-still`` also scores each video frozen (every clip's frames replaced by its first frame, the
same crop box): a model that reads time rejects the still of a live face.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from fasstream.data.video import VideoError
from fasstream.faces.detectors import DETECTORS
from fasstream.faces.stage import DEFAULT_DETECTOR
from fasstream.model.checkpoint import DEFAULT_MODEL

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", type=Path, help="video files (any format PyAV reads)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="checkpoint (default: %(default)s)")
    parser.add_argument("--threshold", type=float, help="override the checkpoint's dev-EER threshold")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--face-detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                        help="face stage (default %(default)s, licence-clean; precomputed: VIDEO.npy landmarks; "
                             "dlib: opt-in, non-commercial model)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--probe-still", action="store_true",
                        help="also score each video with every clip frozen to its first frame (a perfect still)")


def run(args: argparse.Namespace) -> int:
    from fasstream.eval.scoring import VideoScorer
    from fasstream.model.checkpoint import load_checkpoint

    try:
        model, meta = load_checkpoint(args.model, args.device)
        scorer = VideoScorer.from_checkpoint(model, meta, device=args.device, faces=args.face_detector)
    except (OSError, ValueError, ImportError) as err:  # unusable checkpoint or face stage: the message names the fix
        print(f"fasstream verify: {err}", file=sys.stderr)
        return 2
    if args.threshold is not None:
        scorer.threshold = args.threshold
    print(f"model {args.model} ({meta['config'].get('width')}, label {meta['config'].get('label')}), "
          f"threshold {scorer.threshold:.4f}, faces {args.face_detector}")
    still_header = f" {'still':>7s} {'still decision':>14s}" if args.probe_still else ""
    print(f"{'video':48s} {'score':>7s} {'decision':>9s} {'clips':>6s}" + still_header)
    results, failed, stills_accepted = [], 0, 0
    for path in args.videos:
        try:
            res, still = scorer.score_file_and_still(path) if args.probe_still else (scorer.score_file(path), None)
        except (VideoError, ValueError, OSError, ImportError) as err:
            failed += 1
            log.warning("skipped %s: %s", path, err)
            print(f"{str(path):48s} {'-':>7s} {'error':>9s} {'-':>6s}  {err}")
            results.append({"video": str(path), "error": str(err)})
            continue
        decision = "live" if res.live else "spoof"
        line = f"{str(path):48s} {res.score:7.4f} {decision:>9s} {res.clips:6d}"
        result = {"video": str(path), "score": res.score, "decision": decision, "clips": res.clips,
                  "clip_scores": list(res.clip_scores)}
        if still is not None:
            still_decision = "live" if still.live else "spoof"
            stills_accepted += still.live
            line += f" {still.score:7.4f} {still_decision:>14s}"
            result.update(still_score=still.score, still_decision=still_decision,
                          still_clip_scores=list(still.clip_scores))
        print(line)
        results.append(result)
    print(f"{len(args.videos) - failed} scored, {failed} skipped")
    if args.probe_still and failed < len(args.videos):
        print(f"still probe: {stills_accepted} of {len(args.videos) - failed} frozen videos accepted as live "
              "(each clip frozen to its first frame; a model that reads time rejects the still of a live face)")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "threshold": scorer.threshold,
                                         "results": results}, indent=1))
    return 1 if failed == len(args.videos) else 0
