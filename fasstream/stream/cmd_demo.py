"""``fasstream demo``: broker, workers, synthetic sessions, results and their ACER, in one command.

Without ``--bootstrap-servers`` it starts tansu on loopback. Without ``--data`` it writes a small
synthetic set (fasstream.data.synthetic). Workers are ``fasstream serve`` processes in one group;
sessions are sent once every worker's /healthz says it is ready (joined, partitions restored), so
the ``e2e ms`` column is the service's latency, not the workers' start-up.
"""
from __future__ import annotations

import argparse
import logging
import signal
import tempfile
import time
import uuid
from pathlib import Path

from fasstream import cores
from fasstream.model.checkpoint import DEFAULT_MODEL

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", help="a running Kafka; default: start tansu on loopback")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="checkpoint (default %(default)s)")
    parser.add_argument("--data", type=Path, help="dataset.csv (generic layout); default: generate a synthetic set")
    parser.add_argument("--split", default="", help="only this split of --data (train, dev, test)")
    parser.add_argument("--identities", type=int, default=2, help="synthetic identities (one video of each species each)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--container", default="mpegts", choices=("mpegts", "mp4", "h264"))
    parser.add_argument("--chunk-bytes", type=int, default=16 * 1024)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all results")


def _records(args, workdir: Path):
    from fasstream.data.records import read_layout_csv
    from fasstream.data.synthetic import FAMILIES, generate_dataset
    from fasstream.data.synth.families import resolve

    if args.data:
        records = read_layout_csv(args.data)
        return [r for r in records if not args.split or r.split == args.split]
    families = [family for family in FAMILIES if family == resolve(FAMILIES[family].species)]  # one per species
    print(f"generating {len(families) * args.identities} synthetic videos in {workdir}", flush=True)
    # seed 1000: identities the committed model never saw (its recipe trains on seed 0)
    return generate_dataset(workdir / "synthetic", n_identities=args.identities, seed=1000, workers=2,
                            families=families, live_videos=1)


def _model(path: Path, workdir: Path) -> Path:
    if path.is_file():
        return path
    import torch

    from fasstream.model import EulerNet

    print(f"WARNING: no checkpoint at {path}; using an UNTRAINED tiny model, so decisions are meaningless. "
          "Train one with `fasstream train pipelines/train/baseline.yaml` and pass --model.", flush=True)
    model = EulerNet(width="tiny")
    out = workdir / "untrained-tiny.pt"
    torch.save({"model": model.state_dict(), "config": {**model.config, "crop_scale": 1.3}, "threshold": 0.5,
                "metrics": {}, "version": "untrained"}, out)
    return out


def _print_summary(records, results: dict) -> None:
    from fasstream.eval.metrics import apcer_bpcer

    width = max([len("session"), *map(len, records)])
    print(f"\n{'session':<{width}} {'truth':<9} {'status':<8} {'decision':<9} {'score':>8} {'e2e ms':>8}")
    scored = []
    for sid, rec in records.items():
        r = results.get(sid, {})
        print(f"{sid:<{width}} {rec.species:<9} {r.get('status', 'missing'):<8} {str(r.get('decision')):<9} "
              f"{r.get('score') if r.get('score') is not None else '-':>8} "
              f"{r.get('timings_ms', {}).get('end_to_end', '-'):>8}")
        if r.get("score") is not None:
            scored.append((r["score"], rec.live, rec.species, r["threshold"]))
    if not scored or all(live for _, live, _, _ in scored) or not any(live for _, live, _, _ in scored):
        print("\nACER needs scored live and attack sessions; not enough to compute it.")
        return
    scores, live, species, thresholds = zip(*scored)
    rates = apcer_bpcer(list(scores), list(live), list(species), thresholds[0])
    print(f"\n{len(scored)}/{len(records)} sessions scored at threshold {thresholds[0]:.4f}: "
          f"APCER {100 * rates.apcer_worst:.1f}% ({rates.worst_species}), BPCER {100 * rates.bpcer:.1f}%, "
          f"ACER {100 * rates.acer:.1f}%")


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer

    from fasstream.stream import logs, protocol
    from fasstream.stream.broker import LocalBroker
    from fasstream.stream.client import results, results_consumer, send_videos
    from fasstream.stream.topics import ensure_topics
    from fasstream.stream.workers import WorkerProcess, wait_ready

    logs.setup("WARNING")
    workdir = Path(tempfile.mkdtemp(prefix="fasstream-demo-"))
    broker = None if args.bootstrap_servers else LocalBroker(log_path=workdir / "tansu.log")
    workers: list[WorkerProcess] = []
    try:
        bootstrap = args.bootstrap_servers or broker.start()
        print(f"broker: {bootstrap}{' (tansu, memory storage)' if broker else ''}", flush=True)
        records = _records(args, workdir)
        model = _model(args.model, workdir)
        ensure_topics(bootstrap, [protocol.INPUT_TOPIC, protocol.OUTPUT_TOPIC, protocol.DEAD_LETTER_TOPIC])
        run_id = uuid.uuid4().hex[:8]
        threads = cores.threads_each(args.workers)
        flags = {"kafka.group_id": f"demo-{run_id}", "batch.threads": threads}
        workers += [WorkerProcess(bootstrap, model, flags, f"demo-worker-{i}", workdir, "WARNING")
                    for i in range(args.workers)]
        tic = time.monotonic()
        wait_ready(workers, args.timeout)
        print(f"{args.workers} workers ready in {time.monotonic() - tic:.1f} s (logs in {workdir})", flush=True)
        sessions = {f"{run_id}-{Path(r.path).stem}": r for r in records}
        consumer = results_consumer(bootstrap)  # from the beginning: session ids carry this run's id
        tic = time.monotonic()
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        send_videos(producer, protocol.INPUT_TOPIC, {sid: r.path for sid, r in sessions.items()}, args.container,
                    args.chunk_bytes)
        producer.close()
        print(f"sent {len(sessions)} sessions; waiting for results", flush=True)
        got: dict = {}
        deadline = time.monotonic() + args.timeout
        for result in results(consumer, args.timeout):
            if result["session_id"] in sessions and result["session_id"] not in got:
                got[result["session_id"]] = result
                why = "" if result["status"] == "ok" else f" ({result.get('reason')}: {result.get('message')})"
                print(f"  {result['session_id']}: {result['status']} {result['decision']} {result['score']}{why}",
                      flush=True)
            if len(got) == len(sessions) or time.monotonic() > deadline:
                break
        consumer.close()
        print(f"{len(got)}/{len(sessions)} results in {time.monotonic() - tic:.1f} s", flush=True)
        _print_summary(sessions, got)
        return 0 if len(got) == len(sessions) else 1
    finally:
        for worker in workers:
            worker.signal(signal.SIGTERM)
        for worker in workers:
            worker.stop()
        if broker:
            broker.stop()
