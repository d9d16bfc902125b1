"""Chaos soak: N interleaved sessions while workers are killed, paused or added; one result each?

    python benchmarks/chaos.py --sessions 120 --run kill@0.3                   # SIGKILL + replacement
    python benchmarks/chaos.py --sessions 120 --run pause@0.3:45               # SIGSTOP 45 s, SIGCONT
    python benchmarks/chaos.py --sessions 120 --run kill@0.3 --run pause@0.3:45 --run kill@0.3,kill@0.6

Starts tansu on loopback and ``--workers`` ``fasstream serve`` processes on fresh topics per run,
sends ``--sessions`` valid sessions (synthetic videos cycled, each under its own id, staggered so
that some are always open) plus ``--malformed`` bad ones (seq 0 never sent; undecodable bytes).
Each ``--run`` is one run with its comma-separated faults. A fault ``kind@F[:SECONDS]`` fires once a fraction F of the sessions has a result: ``kill``
SIGKILLs the worker with the most open sessions and starts a replacement, ``pause`` SIGSTOPs it
for SECONDS (past the group session timeout) then SIGCONTs it, ``add`` starts one more worker.
An independent consumer then reads the result topic from the start. Printed per run: lost (no
result), duplicated (copies, one verdict), conflicting (more than one verdict), refused (a
capacity error), wrong (valid not ok, malformed not its own error), and sessions/s beside the same
sessions served without faults in the same invocation (the floor: ``--no-baseline`` skips it).
Workers use client face boxes (from the synthetic landmarks) unless ``--face-detector`` names a face
stage (e.g. mtcnn: sessions then carry no box, and a session computed twice must still get one score,
bit for bit). Worker logs: ``--logs``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fasstream import cores
from fasstream.stream.broker import LocalBroker  # noqa: E402
from fasstream.stream.chaos import Fault, make_sessions, make_videos, run_chaos  # noqa: E402


def _faults(text: str) -> list[Fault]:
    try:
        return [Fault.parse(f) for f in text.split(",")]
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=120)
    ap.add_argument("--malformed", type=int, default=10)
    ap.add_argument("--run", action="append", default=[], metavar="FAULT[,FAULT...]",
                    type=_faults,
                    help="one run with these faults: kill@F, pause@F:SECONDS or add@F (repeatable)")
    ap.add_argument("--repeat", type=int, default=1, help="do every --run this many times")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", type=Path, default=ROOT / "pipelines" / "models" / "tiny.pt")
    ap.add_argument("--identities", type=int, default=2, help="synthetic identities (4 videos each)")
    ap.add_argument("--frames", type=int, default=30, help="frames per video (10 per clip)")
    ap.add_argument("--size", type=int, default=320, help="video frame side in pixels")
    ap.add_argument("--chunk-bytes", type=int, default=4000)
    ap.add_argument("--interval", type=float, default=0.35, help="seconds between rounds of chunks")
    ap.add_argument("--stagger", type=int, default=4, help="sessions that start per round")
    ap.add_argument("--open-sessions", type=int, default=16, help="limits.open_sessions of each worker")
    ap.add_argument("--session-timeout", type=float, default=10.0, help="limits.session_timeout_s")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every session's result")
    ap.add_argument("--face-detector", default="client",
                    help="the workers' face stage (default client: sessions carry their face box)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--logs", type=Path, help="keep worker logs here")
    ap.add_argument("--out", type=Path, help="write the reports as JSON")
    args = ap.parse_args()
    if args.sessions < 1 or args.repeat < 1 or args.workers < 1:
        ap.error("--sessions, --repeat and --workers must be 1 or more")
    if not args.run and args.no_baseline:
        ap.error("nothing to do: give --run FAULTS or leave out --no-baseline")
    if not args.model.is_file():
        ap.error(f"--model {args.model} not found; train one or pass a checkpoint")

    work = Path(tempfile.mkdtemp(prefix="fasstream-chaos-"))
    videos = make_videos(work / "videos", args.identities, args.size, args.frames)
    threads = cores.threads_each(args.workers)
    flags = {"face_detector": args.face_detector, "batch.threads": threads, "crop_threads": 1,
             "limits.open_sessions": args.open_sessions, "limits.session_timeout_s": args.session_timeout}
    plan = ([("baseline", [])] if not args.no_baseline else []) + [
        (f"{','.join(f'{f.kind}@{f.at:g}' + (f':{f.seconds:g}' if f.seconds else '') for f in faults)} #{i + 1}",
         faults) for i in range(args.repeat) for faults in args.run]
    print(f"{platform.node()} {cores.available()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; model {args.model.name}, faces "
          f"{args.face_detector}, "
          f"{len(videos)} videos of {args.frames} frames at {args.size} px, {args.workers} workers", flush=True)
    reports = []
    with LocalBroker(log_path=work / "tansu.log") as bootstrap:
        for name, faults in tqdm(plan, desc="runs", unit="run"):
            chunks, expected = make_sessions(videos, args.sessions, args.chunk_bytes, args.malformed,
                                             face_boxes=args.face_detector == "client")
            log_dir = None
            if args.logs:
                log_dir = args.logs / f"{len(reports):02d}-{name.replace(':', '-').replace(',', '+').replace(' #', '-')}"
                log_dir.mkdir(parents=True, exist_ok=True)
            report = run_chaos(bootstrap, args.model, chunks, expected, faults, args.workers, flags, args.stagger,
                               args.interval, args.timeout, log_dir=log_dir)
            reports.append((name, report))
            tqdm.write("\n".join([f"{name}"] + report.events + [report.summary()]
                                 + [f"  crashed: {report.crashed}"] * bool(report.crashed)))
    floor = reports[0][1].sessions_per_s if not args.no_baseline else None
    print(f"\n{'run':<28} {'lost':>5} {'dup':>5} {'confl':>6} {'refused':>8} {'wrong':>6} {'sessions/s':>11}"
          f" {'x baseline':>11}")
    for name, r in reports:
        ratio = f"{r.sessions_per_s / floor:.2f}" if floor else "-"
        print(f"{name[:28]:<28} {len(r.lost):>5} {r.duplicated:>5} {len(r.conflicting):>6} {len(r.refused):>8} "
              f"{len(r.wrong):>6} {r.sessions_per_s:>11.2f} {ratio:>11}")
    if args.out:
        args.out.write_text(json.dumps([{"run": name, "lost": r.lost, "duplicated": r.duplicated,
                                         "conflicting": {k: [list(v) for v in vs] for k, vs in r.conflicting.items()},
                                         "refused": r.refused, "wrong": {k: list(v) for k, v in r.wrong.items()},
                                         "sessions_per_s": r.sessions_per_s, "events": r.events,
                                         "markers": r.markers, "crashed": r.crashed} for name, r in reports], indent=1))
    bad = any(r.lost or r.conflicting or r.refused or r.wrong or r.crashed for _, r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
