"""Table I of the paper on a dataset: train every recipe of pipelines/train/ (baseline, c1-c5), evaluate
each best checkpoint (threshold at the dev EER, applied to test) and write the table as markdown.

    python pipelines/table1.py                                   # the recipes as they are (256x256 crops)
    python pipelines/table1.py --set model.size=64 --out runs/table1-64   # 16x cheaper, for CPUs

Every --set is passed to each `fasstream train`. Needs the recipes' dataset (`fasstream synth --out
data/synthetic` for the synthetic one). Runs already trained in --out are evaluated, not retrained.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from fasstream.train.config import load_config

ROWS = ["c1", "c2", "c3", "c4", "c5", "baseline"]
HERE = Path(__file__).resolve().parent


def fasstream(*args: str) -> None:
    print("+ fasstream " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "fasstream.cli", *args], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/table1"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every recipe")
    args = ap.parse_args()
    lines = ["| tag | label | FCAM | Residual Pyramid | ACER dev (%) | ACER test (%) | APCER test (%) | BPCER test (%) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in ROWS:
        overrides = [f"out={args.out}", *args.set]
        cfg = load_config(HERE / "train" / f"{name}.yaml", overrides)
        run = cfg.out_dir
        if not (run / "best.pt").is_file():
            fasstream("train", str(HERE / "train" / f"{name}.yaml"), *[x for s in overrides for x in ("--set", s)])
        fasstream("eval", "--model", str(run / "best.pt"), "--data", str(cfg.data.path), "--out", str(run / "eval"))
        res = json.loads((run / "eval" / "results.json").read_text())
        tick = lambda on: "yes" if on else "no"  # noqa: E731
        lines.append(f"| {name} | {cfg.label} | {tick(cfg.model.fcam)} | {tick(cfg.model.pyramid)} | "
                     f"{100 * res['dev']['acer']:.2f} | {100 * res['test']['acer']:.2f} | "
                     f"{100 * res['test']['apcer_worst']:.2f} | {100 * res['test']['bpcer']:.2f} |")
    table = "\n".join(lines) + "\n"
    (args.out / "table1.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
