"""Leave-one-family-out on a dataset: for each attack family F, train a recipe without F
(``data.exclude_families=[F]``: train and dev lose F's attacks), then evaluate every fold with
``fasstream eval --leave-out`` (threshold at the EER of dev without F, test = test live videos +
F's test attacks) and write per-family APCER and mean ± std.

    python pipelines/lofo.py pipelines/train/baseline.yaml                        # every attack family
    python pipelines/lofo.py pipelines/train/c4.yaml --set model.size=64 --out runs/lofo-c4
    python pipelines/lofo.py pipelines/train/baseline.yaml --families print-flat replay-lcd
    python pipelines/lofo.py pipelines/train/baseline.yaml --jobs 2   # two folds at a time, a core each

Every --set is passed to each `fasstream train`. Fold F trains into OUT/F; a fold whose last.pt
already reached the recipe's epochs is not retrained, a shorter one is resumed. With --jobs N > 1 the
folds train in N processes side by side, each on cores/N torch threads, each writing its output to
OUT/F.log. The report (results.md, results.json, figures) goes to OUT/eval.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from fasstream import cores
from fasstream.cli import main as fasstream
from fasstream.data.lofo import attack_families
from fasstream.train.config import TrainConfig, load_config
from fasstream.train.dataset import split_records


def run(*args: str) -> None:
    """``fasstream ARGS`` in this process; stops the pipeline if it fails."""
    print("+ fasstream " + " ".join(args), flush=True)
    code = fasstream(list(args))
    if code:
        raise SystemExit(f"lofo: `fasstream {args[0]}` failed (exit {code}); see its message above.")


def families_of(cfg: TrainConfig) -> list[str]:
    """The attack families of the recipe's dataset (all splits)."""
    return attack_families(r for split in ("train", "dev", "test") for r in split_records(cfg, split))


def fold_command(recipe: Path, overrides: list[str], family: str, out: Path) -> list[str] | None:
    """The ``fasstream`` arguments that train ``recipe`` without ``family`` into out/family; None if done."""
    sets = [*overrides, f"out={out}", f"name={family}", f"data.exclude_families=[{family}]"]
    cfg = load_config(recipe, sets)
    last = cfg.out_dir / "last.pt"
    if last.is_file() and torch.load(last, map_location="cpu", weights_only=True)["epoch"] >= cfg.epochs:
        return None
    return ["train", str(recipe), *[x for s in sets for x in ("--set", s)], *(["--resume"] if last.is_file() else [])]


def run_apart(args: list[str], log: Path, threads: int) -> int:
    """``fasstream ARGS`` in a process of its own on ``threads`` torch threads, its output in ``log``; exit code."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    print(f"+ fasstream {' '.join(args)}  (output: {log})", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        code = subprocess.run([sys.executable, "-m", "fasstream.cli", *args], stdout=sink, stderr=subprocess.STDOUT,
                              env=env, check=False).returncode
    print(f"  {'done' if code == 0 else f'failed (exit {code})'}: {log}", flush=True)
    return code


def train_folds(recipe: Path, overrides: list[str], families: list[str], out: Path, jobs: int) -> None:
    """Train every fold not yet done: in this process (jobs 1), or ``jobs`` processes at a time; a fold that
    fails stops the run once the folds beside it are done."""
    commands = {f: fold_command(recipe, overrides, f, out) for f in families}
    todo = [f for f in families if commands[f] is not None]
    print(f"[lofo] {len(families) - len(todo)} of {len(families)} folds already trained", flush=True)
    if jobs == 1:
        for i, family in enumerate(todo, start=1):
            print(f"[lofo {i}/{len(todo)}] training without family {family}", flush=True)
            run(*commands[family])
        return
    threads = cores.threads_each(jobs)
    with ThreadPoolExecutor(jobs) as pool:
        codes = dict(zip(todo, pool.map(lambda f: run_apart(commands[f], out / f"{f}.log", threads), todo)))
    failed = [f for f, code in codes.items() if code]
    if failed:
        raise SystemExit(f"lofo: training failed for {', '.join(failed)}; the output of each is in "
                         + ", ".join(str(out / f"{f}.log") for f in failed))


def eval_args(cfg: TrainConfig) -> list[str]:
    """The data arguments of ``fasstream eval`` for the recipe's dataset."""
    if cfg.data.source == "csv":
        return ["--data", cfg.data.path]
    return ["--oulu", cfg.data.path, "--protocol", str(cfg.data.protocol),
            *(["--fold", str(cfg.data.fold)] if cfg.data.fold else [])]


def main(argv: list[str] | None = None) -> dict:
    """Train and evaluate every fold; returns the summary of OUT/eval/results.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", type=Path, help="training recipe, e.g. pipelines/train/baseline.yaml")
    ap.add_argument("--out", type=Path, default=Path("runs/lofo"), help="folds and report (default: %(default)s)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every training")
    ap.add_argument("--families", nargs="+", help="families to hold out (default: every attack family of the data)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="folds trained at a time, each in its own process on cores/JOBS threads (default: 1)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    cfg = load_config(args.recipe, args.set)
    families = args.families or families_of(cfg)
    train_folds(args.recipe, args.set, families, args.out, args.jobs)
    print(f"[lofo] evaluating {len(families)} folds", flush=True)
    report = args.out / "eval"
    run("eval", "--model", str(args.out / "{family}" / "best.pt"), *eval_args(cfg),
        "--leave-out", ",".join(families), "--out", str(report))
    return json.loads((report / "results.json").read_text())["summary"]


if __name__ == "__main__":
    main()
