"""Leave-one-family-out on a dataset: for each attack family F, train a recipe without F
(``data.exclude_families=[F]``: train and dev lose F's attacks), then evaluate every fold with
``fasstream eval --leave-out`` (threshold at the EER of dev without F, test = test live videos +
F's test attacks) and write per-family APCER and mean ± std.

    python pipelines/lofo.py pipelines/train/baseline.yaml                        # every attack family
    python pipelines/lofo.py pipelines/train/c4.yaml --set model.size=64 --out runs/lofo-c4
    python pipelines/lofo.py pipelines/train/baseline.yaml --families print-flat replay-lcd

Every --set is passed to each `fasstream train`. Fold F trains into OUT/F; a fold whose last.pt
already reached the recipe's epochs is not retrained, a shorter one is resumed. The report
(results.md, results.json, figures) goes to OUT/eval.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

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


def train_fold(recipe: Path, overrides: list[str], family: str, out: Path) -> Path:
    """Train ``recipe`` without ``family`` into out/family unless done; returns its best.pt."""
    sets = [*overrides, f"out={out}", f"name={family}", f"data.exclude_families=[{family}]"]
    cfg = load_config(recipe, sets)
    last = cfg.out_dir / "last.pt"
    done = last.is_file() and torch.load(last, map_location="cpu", weights_only=True)["epoch"] >= cfg.epochs
    if not done:
        run("train", str(recipe), *[x for s in sets for x in ("--set", s)], *(["--resume"] if last.is_file() else []))
    return cfg.out_dir / "best.pt"


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
    args = ap.parse_args(argv)
    cfg = load_config(args.recipe, args.set)
    families = args.families or families_of(cfg)
    for i, family in enumerate(families, start=1):
        print(f"[lofo {i}/{len(families)}] training without family {family}", flush=True)
        train_fold(args.recipe, args.set, family, args.out)
    print(f"[lofo] evaluating {len(families)} folds", flush=True)
    report = args.out / "eval"
    run("eval", "--model", str(args.out / "{family}" / "best.pt"), *eval_args(cfg),
        "--leave-out", ",".join(families), "--out", str(report))
    return json.loads((report / "results.json").read_text())["summary"]


if __name__ == "__main__":
    main()
