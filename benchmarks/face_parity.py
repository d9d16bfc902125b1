"""Face-stage parity and recall: a model's decisions with detector crops against landmark (training) crops.

    python benchmarks/face_parity.py --model pipelines/models/tiny.pt --data data/synth/dataset.csv
    python benchmarks/face_parity.py --data data/synthetic/dataset.csv data/synth-s7/dataset.csv  # pooled
    python benchmarks/face_parity.py ... --detectors mtcnn lbp-cascade dlib --serve --out face_parity.json

On one split (``--split``, default test) of datasets whose videos have exact landmarks (the
synthetic set; fit the calibration on its other splits; several ``--data`` are pooled), every video is scored
- with landmark crops: ``face_crop_box`` of each clip's mean exact landmarks, as in training;
- with each detector's face stage, as ``fasstream verify`` does (per-video track, calibrated box);
- with ``--serve``: as sessions through a real worker (tansu on loopback, default face stage).
It prints, per way of cropping, ACER at the checkpoint's threshold (and its difference to landmark
crops), decision agreement, Pearson and Spearman correlation of the video scores and the largest
score difference; and per detector and species, detection recall over frames (a full detection on
every frame of every clip), clips with a face (tracked, as served) and videos with no face at all
(the service answers those ``no_face``: an error, never a live decision), with ms per frame.
It also prints the resolution of those ACERs: what one live video and one attack of a species move
ACER by (pool more identities to resolve a smaller difference). Writes everything to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from landmarked import add_arguments, read_records
from tqdm import tqdm

from fasstream.data.faceclips import tracked_windows
from fasstream.data.video import CLIP_INTERVAL, CLIP_LENGTH, clip_starts, read_video
from fasstream.eval.metrics import apcer_bpcer
from fasstream.eval.scoring import VideoScorer
from fasstream.faces.stage import load_tracker
from fasstream.model.checkpoint import load_checkpoint


def _rank(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(np.float64)


def compare(ref: dict, got: dict, records, threshold: float) -> dict:
    """ACER of both, decision agreement and score correlation over the videos both scored."""
    ids = [r.video_id for r in records if r.video_id in ref and r.video_id in got]
    a, b = np.array([ref[i] for i in ids]), np.array([got[i] for i in ids])
    live = [r.live for r in records if r.video_id in ids]
    species = [r.species for r in records if r.video_id in ids]
    acer_ref = apcer_bpcer(a, live, species, threshold).acer
    acer_got = apcer_bpcer(b, live, species, threshold).acer
    return {"videos": len(ids), "missing": len(records) - len(ids), "acer": 100 * acer_got,
            "acer_landmarks": 100 * acer_ref, "acer_diff_points": 100 * (acer_got - acer_ref),
            "agreement": float(np.mean((a >= threshold) == (b >= threshold))),
            "pearson": float(np.corrcoef(a, b)[0, 1]), "spearman": float(np.corrcoef(_rank(a), _rank(b))[0, 1]),
            "max_abs_diff": float(np.abs(a - b).max())}


def recall(tracker, records, frames_of) -> dict:
    """Per species: frames with a face (full detection), clips with a face (tracked), videos with none."""
    out: dict = {}
    seconds = frames_done = 0
    for rec in records:
        frames = frames_of(rec)
        row = out.setdefault(rec.species, {"frames": 0, "frames_found": 0, "clips": 0, "clips_found": 0,
                                           "videos": 0, "videos_without_face": 0})
        idx = np.concatenate([s + CLIP_INTERVAL * np.arange(CLIP_LENGTH) for s in clip_starts(len(frames))])
        keys = [(rec.path, int(i)) for i in idx] if tracker.detector.name == "precomputed" else None
        tic = time.perf_counter()
        found = [d is not None for d in tracker.detector.detect(list(frames[idx]), keys)]
        seconds += time.perf_counter() - tic
        frames_done += len(idx)
        windows = tracked_windows(frames, tracker, key=rec.path)
        row["frames"] += len(idx)
        row["frames_found"] += int(sum(found))
        row["clips"] += len(clip_starts(len(frames)))
        row["clips_found"] += len(windows)
        row["videos"] += 1
        row["videos_without_face"] += int(not windows)
    for row in out.values():
        row["frame_recall"] = row["frames_found"] / row["frames"]
        row["clip_recall"] = row["clips_found"] / row["clips"]
    return {"species": out, "ms_per_frame_full_detection": 1000 * seconds / max(1, frames_done)}


def serve_scores(model: Path, records, detector: str, timeout: float) -> dict:
    """Video scores from one real worker (tansu on loopback) with ``face_detector: detector``."""
    import threading
    import uuid

    from kafka import KafkaProducer

    from fasstream.stream.broker import LocalBroker
    from fasstream.stream.client import results, results_consumer, send_videos
    from fasstream.stream.config import load_config
    from fasstream.stream.worker import Worker

    broker = LocalBroker()
    bootstrap = broker.start()
    run = uuid.uuid4().hex[:6]
    topics = {"kafka.input_topic": f"parity-{run}-in", "kafka.output_topic": f"parity-{run}-out",
              "kafka.dead_letter_topic": f"parity-{run}-dlq", "kafka.group_id": f"parity-{run}"}
    cfg = load_config(None, flags={"model": str(model), "kafka.bootstrap_servers": bootstrap, "metrics.port": -1,
                                   "face_detector": detector, **topics})
    worker = Worker(cfg)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        if not worker.wait_ready(60):
            raise RuntimeError("the worker did not join its group within 60 s")
        sessions = {f"{run}-{i}": rec for i, rec in enumerate(records)}
        consumer = results_consumer(bootstrap, topics["kafka.output_topic"])
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        send_videos(producer, topics["kafka.input_topic"], {sid: rec.path for sid, rec in sessions.items()})
        producer.close()
        got: dict = {}
        for result in results(consumer, timeout):
            rec = sessions.get(result["session_id"])
            if rec is not None:
                got[rec.video_id] = result
            if len(got) == len(sessions):
                break
        consumer.close()
    finally:
        worker.stop()
        thread.join(30)
        broker.stop()
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--detectors", nargs="+", default=["mtcnn"], help="face stages to compare (first: served)")
    parser.add_argument("--serve", action="store_true", help="also score the videos through a real worker")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=Path("out/face_parity.json"),
                        help="JSON results file (default: %(default)s)")
    args = parser.parse_args()

    records, where = read_records(args.data, args.split, "face_parity")
    model, meta = load_checkpoint(args.model, args.device)
    scorer = VideoScorer.from_checkpoint(model, meta, device=args.device)
    threshold = scorer.threshold
    cache: dict = {}

    def frames_of(rec):
        if rec.video_id not in cache:
            cache.clear()
            cache[rec.video_id] = read_video(rec.path)[0]
        return cache[rec.video_id]

    scores = {"landmarks": {}}
    for rec in tqdm(records, desc="landmark crops", unit="video"):
        scores["landmarks"][rec.video_id] = scorer.score_file(rec.path, rec.landmarks).score
    report = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": platform.platform(), "model": str(args.model), "model_version": meta.get("version"),
              "data": [str(d) for d in args.data], "split": args.split, "threshold": threshold, "videos": len(records),
              "parity": {}, "recall": {}}
    for name in args.detectors:
        tracker = load_tracker(name, args.device, scorer.crop_scale)
        scorer.faces = tracker
        got = scores[name] = {}
        for rec in tqdm(records, desc=f"{name} crops", unit="video"):
            try:
                got[rec.video_id] = scorer.score_file(rec.path).score
            except ValueError as err:  # no face in any clip
                print(f"  {name}: {rec.video_id}: {err}", file=sys.stderr)
        report["parity"][f"verify/{name}"] = compare(scores["landmarks"], got, records, threshold)
        report["recall"][name] = recall(tracker, tqdm(records, desc=f"{name} recall", unit="video"), frames_of)
    if args.serve:
        served = serve_scores(args.model, records, args.detectors[0], args.timeout)
        ok = {vid: r["score"] for vid, r in served.items() if r["status"] == "ok"}
        report["serve_status"] = {vid: r["status"] if r["status"] == "ok" else f"{r['status']}: {r['reason']}"
                                  for vid, r in served.items()}
        report["parity"][f"serve/{args.detectors[0]}"] = compare(scores["landmarks"], ok, records, threshold)
        report["parity"][f"serve-vs-verify/{args.detectors[0]}"] = compare(scores[args.detectors[0]], ok, records,
                                                                            threshold)
    report["scores"] = scores
    n_live = sum(r.live for r in records)
    n_species = min(sum(r.species == s for r in records) for s in {r.species for r in records if not r.live})
    report["acer_step_points"] = {"live_video": 50 / n_live, "attack_video": 50 / n_species}
    print(f"\n{args.model} ({meta.get('version')}), {len(records)} {args.split} videos of "
          f"{where}, threshold {threshold:.4f}; one live video moves ACER by "
          f"{50 / n_live:.2f} points, one attack of the worst species by up to {50 / n_species:.2f}")
    print(f"  {'crops':<26} {'ACER %':>7} {'vs landmarks':>12} {'agree':>6} {'pearson':>8} {'spearman':>8} "
          f"{'max |d|':>8} {'missing':>7}")
    first = next(iter(report["parity"].values()))
    print(f"  {'landmarks (training crop)':<26} {first['acer_landmarks']:7.2f}")
    for name, p in report["parity"].items():
        print(f"  {name:<26} {p['acer']:7.2f} {p['acer_diff_points']:+12.2f} {p['agreement']:6.3f} "
              f"{p['pearson']:8.4f} {p['spearman']:8.4f} {p['max_abs_diff']:8.4f} {p['missing']:7d}")
    print(f"\n  {'detector':<12} {'species':<9} {'frame recall':>12} {'clip recall':>11} {'videos w/o face':>15}")
    for name, r in report["recall"].items():
        for species, row in sorted(r["species"].items()):
            print(f"  {name:<12} {species:<9} {row['frame_recall']:12.3f} {row['clip_recall']:11.3f} "
                  f"{row['videos_without_face']:>9d} of {row['videos']}")
        print(f"  {name:<12} {r['ms_per_frame_full_detection']:.1f} ms per frame (full detection, "
              f"torch threads {torch.get_num_threads()})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
