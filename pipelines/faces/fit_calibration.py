"""Fit a face detector's crop calibration on a dataset with exact landmarks and write its stage file.

    python pipelines/faces/fit_calibration.py --data data/synth/dataset.csv [more.csv ...]   # mtcnn
    python pipelines/faces/fit_calibration.py --data data/synth/dataset.csv --detector lbp-cascade

Every clip of the chosen splits' videos (train and dev by default: keep the test split for
``benchmarks/face_parity.py``) goes through the detector's tracker as in serving; each frame's
detection is paired with the frame's exact 68 landmarks (the ``.npy`` beside the video, as the
synthetic generator writes) and ``CropCalibration.fit`` maps one to the other. The settings and
``redetect_every`` already in the stage file are kept; the calibration and its fit record replace
the old ones.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fasstream.data.records import read_layout_csv
from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, clip_starts, read_video
from fasstream.faces.calibration import CropCalibration
from fasstream.faces.detectors import make_detector
from fasstream.faces.stage import resolve_device, stage_file
from fasstream.faces.tracking import REDETECT_EVERY, FaceTracker

DEFAULTS = {"mtcnn": {"settings": {"min_face": 0.2, "thresholds": [0.6, 0.7, 0.7], "factor": 0.709,
                                   "track_score": 0.9}, "redetect_every": REDETECT_EVERY},
            "lbp-cascade": {"settings": {"min_face": 0.2, "scale_factor": 1.2, "step_ratio": 1.0,
                                         "min_neighbours": 4}, "redetect_every": 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="dataset.csv files whose videos have landmark .npy files")
    parser.add_argument("--detector", default="mtcnn", choices=sorted(DEFAULTS))
    parser.add_argument("--splits", nargs="+", default=["train", "dev"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="stage file (default pipelines/faces/<detector>.json)")
    args = parser.parse_args()

    out = args.out or stage_file(args.detector)
    stage = json.loads(out.read_text()) if out.is_file() else {"detector": args.detector, **DEFAULTS[args.detector]}
    device = resolve_device(args.device)
    kwargs = {**stage["settings"], **({"device": device} if args.detector == "mtcnn" else {})}
    tracker = FaceTracker(make_detector(args.detector, **kwargs), redetect_every=stage["redetect_every"])
    records = [r for csv in args.data for r in read_layout_csv(csv)
               if r.split in args.splits and r.landmarks is not None]
    if not records:
        raise SystemExit(f"fit_calibration: no videos with landmarks in splits {args.splits} of {args.data}")
    dets, marks, missed = [], [], 0
    for rec in tqdm(records, desc=f"fit {args.detector}", unit="video"):
        frames, _ = read_video(rec.path)
        points = np.load(rec.landmarks)
        track = tracker.track(rec.video_id)
        for start in clip_starts(len(frames)):
            idx = start + CLIP_INTERVAL * np.arange(CLIP_LENGTH)
            for i, det in zip(idx, tracker.faces([(track, frames[idx], idx)])[0]):
                if det is not None and np.isfinite(points[i]).all():
                    dets.append(det)
                    marks.append(points[i])
                elif det is None:
                    missed += 1
    calibration = CropCalibration.fit(
        dets, marks, "box+points" if tracker.detector.points == 5 else "box", data=[str(d) for d in args.data],
        splits=args.splits, videos=len(records), frames_without_face=missed,
        when=datetime.date.today().isoformat())
    stage["calibration"] = calibration.to_dict()
    text = json.dumps(stage, indent=1)  # then one line per list of numbers
    out.write_text(re.sub(r"\[\s+([-+\d.eE,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
                   + "\n")
    info = calibration.fit_info
    print(f"{args.detector}: {info['frames']} frames of {len(records)} videos ({missed} frames without a face); "
          f"centre error p50 {100 * info['centre_error_p50']:.1f}% / p95 {100 * info['centre_error_p95']:.1f}%, "
          f"extent error p50 {100 * info['extent_error_p50']:.1f}% / p95 {100 * info['extent_error_p95']:.1f}% "
          f"of the landmark extent; wrote {out}")


if __name__ == "__main__":
    main()
