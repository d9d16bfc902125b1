"""Table I of the paper on a dataset: train every recipe of pipelines/train/ (baseline, c1-c5), evaluate
each best checkpoint (threshold at the dev EER, applied to test) and write the table as markdown.

    python pipelines/table1.py                                   # the recipes as they are (256x256 crops)
    python pipelines/table1.py --set model.size=64 --out runs/table1-64   # 16x cheaper, for CPUs
    python pipelines/table1.py --seeds 0 1 2 ...                 # each row 3 times: mean +- std

Every --set is passed to each `fasstream train`. Needs the recipes' dataset (`fasstream synth --out
data/synthetic` for the synthetic one). Runs already trained in --out are evaluated, not retrained;
with --seeds, seed N's runs live in OUT/seedN. Writes OUT/table1.md and OUT/table1.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from fasstream.train.config import load_config

ROWS = ["c1", "c2", "c3", "c4", "c5", "baseline"]
HERE = Path(__file__).resolve().parent


def fasstream(*args: str) -> None:
    print("+ fasstream " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "fasstream.cli", *args], check=True)


def evaluate(name: str, out: Path, overrides: list[str]):
    """Train ``name``'s recipe into ``out`` unless done, evaluate its best checkpoint; (config, results)."""
    overrides = [f"out={out}", *overrides]
    cfg = load_config(HERE / "train" / f"{name}.yaml", overrides)
    run = cfg.out_dir
    if not (run / "best.pt").is_file():
        fasstream("train", str(HERE / "train" / f"{name}.yaml"), *[x for s in overrides for x in ("--set", s)])
    fasstream("eval", "--model", str(run / "best.pt"), "--data", str(cfg.data.path), "--out", str(run / "eval"))
    return cfg, json.loads((run / "eval" / "results.json").read_text())


METRICS = [("dev", "acer"), ("test", "acer"), ("test", "apcer_worst"), ("test", "bpcer")]


def cell(values: list[float]) -> str:
    """A percentage, or mean +- std (population) over seeds."""
    pct = [100 * v for v in values]
    if len(pct) == 1:
        return f"{pct[0]:.2f}"
    return f"{statistics.fmean(pct):.2f} ± {statistics.pstdev(pct):.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/table1"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every recipe")
    ap.add_argument("--seeds", type=int, nargs="+", help="train every row once per seed (in OUT/seedN); mean ± std")
    args = ap.parse_args()
    lines = ["| tag | label | FCAM | Residual Pyramid | ACER dev (%) | ACER test (%) | APCER test (%) | BPCER test (%) |",
             "|---|---|---|---|---|---|---|---|"]
    table = {}
    for name in ROWS:
        runs = [(args.out, args.set)] if not args.seeds else \
            [(args.out / f"seed{seed}", [*args.set, f"seed={seed}"]) for seed in args.seeds]
        evaluated = [evaluate(name, out, overrides) for out, overrides in runs]
        cfg = evaluated[0][0]
        table[name] = {f"{split}_{key}": [res[split][key] for _, res in evaluated] for split, key in METRICS}
        tick = lambda on: "yes" if on else "no"  # noqa: E731
        lines.append(f"| {name} | {cfg.label} | {tick(cfg.model.fcam)} | {tick(cfg.model.pyramid)} | "
                     + " | ".join(cell(table[name][f"{split}_{key}"]) for split, key in METRICS) + " |")
    text = "\n".join(lines) + "\n"
    (args.out / "table1.md").write_text(text)
    (args.out / "table1.json").write_text(json.dumps({"seeds": args.seeds, "set": args.set, "rows": table}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
