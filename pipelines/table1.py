"""Table I of the paper on a dataset: train every recipe of pipelines/train/ (baseline, c1-c5), evaluate
each best checkpoint (threshold at the dev EER, applied to test) and write the table as markdown.

    python pipelines/table1.py                                   # the recipes as they are (96x96 crops)
    python pipelines/table1.py --set model.size=64 --out runs/table1-64   # about 2x cheaper
    python pipelines/table1.py --seeds 0 1 2 ...                 # each row 3 times: mean +- std
    python pipelines/table1.py --rows baseline c4 c3 --lofo      # + leave-one-family-out ACER (pipelines/lofo.py)
    python pipelines/table1.py --rows c4 c3 --lofo --jobs 2      # the folds two at a time, a core each

Every --set is passed to each `fasstream train`. Needs the recipes' dataset (`fasstream synth --out
data/synthetic` for the synthetic one). Runs already trained in --out are evaluated, not retrained;
with --seeds, seed N's runs live in OUT/seedN. Each row also gets the still-probe APCER (test live
videos with every clip frozen, accepted at the dev threshold) and the test APCER of the species
named by --species (default still, rigid; "–" where the data has none). --lofo adds the mean ACER
over leave-one-family-out folds (one training per attack family and row, in OUT/lofo/ROW; with
--seeds, mean ± std of that over the seeds). Writes OUT/table1.md and OUT/table1.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import lofo  # pipelines/lofo.py, beside this script

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


def cell(values: list[float | None]) -> str:
    """A percentage, or mean +- std (population) over seeds; "–" where a run lacks the number."""
    if not values or any(v is None for v in values):
        return "–"
    pct = [100 * v for v in values]
    if len(pct) == 1:
        return f"{pct[0]:.2f}"
    return f"{statistics.fmean(pct):.2f} ± {statistics.pstdev(pct):.2f}"


def extras(res: dict, species: list[str]) -> dict:
    """A run's still-probe APCER and the test APCER of each of ``species`` (None where absent)."""
    test = res["test"]
    return {"test_still_probe_apcer": test.get("still_probe", {}).get("apcer"),
            **{f"test_apcer_{name}": test["apcer"].get(name) for name in species}}


def lofo_acer(name: str, out: Path, overrides: list[str], families: list[str] | None, jobs: int = 1) -> float:
    """Mean test ACER over the leave-one-family-out folds of ``name``'s recipe (trained into out/lofo/name)."""
    argv = [str(HERE / "train" / f"{name}.yaml"), "--out", str(out / "lofo" / name), "--jobs", str(jobs),
            *[x for s in overrides for x in ("--set", s)],
            *(["--families", *families] if families else [])]
    return lofo.main(argv)["acer"]["mean"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/table1"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every recipe")
    ap.add_argument("--seeds", type=int, nargs="+", help="train every row once per seed (in OUT/seedN); mean ± std")
    ap.add_argument("--rows", nargs="+", choices=ROWS, default=ROWS, help="rows to run (default: all)")
    ap.add_argument("--species", nargs="*", default=["still", "rigid"],
                    help="attack species with their own test APCER column (default: %(default)s)")
    ap.add_argument("--lofo", action="store_true",
                    help="add the leave-one-family-out mean ACER (one training per attack family and row)")
    ap.add_argument("--families", nargs="+", help="with --lofo: the families to hold out (default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="with --lofo: folds trained at a time (pipelines/lofo.py)")
    args = ap.parse_args()
    columns = [*(f"{split}_{key}" for split, key in METRICS), "test_still_probe_apcer",
               *(f"test_apcer_{name}" for name in args.species), *(["lofo_acer"] if args.lofo else [])]
    heads = ["ACER dev (%)", "ACER test (%)", "APCER test (%)", "BPCER test (%)", "still-probe APCER test (%)",
             *(f"APCER {name} test (%)" for name in args.species), *(["LOFO ACER (%)"] if args.lofo else [])]
    lines = ["| tag | label | FCAM | Residual Pyramid | " + " | ".join(heads) + " |", "|---" * (4 + len(heads)) + "|"]
    table = {}
    for name in args.rows:
        runs = [(args.out, args.set)] if not args.seeds else \
            [(args.out / f"seed{seed}", [*args.set, f"seed={seed}"]) for seed in args.seeds]
        evaluated = [evaluate(name, out, overrides) for out, overrides in runs]
        cfg = evaluated[0][0]
        table[name] = {f"{split}_{key}": [res[split][key] for _, res in evaluated] for split, key in METRICS}
        for key in columns[len(METRICS):]:
            table[name][key] = [extras(res, args.species).get(key) for _, res in evaluated]
        if args.lofo:
            table[name]["lofo_acer"] = [lofo_acer(name, out, overrides, args.families, args.jobs)
                                      for out, overrides in runs]
        tick = lambda on: "yes" if on else "no"
        lines.append(f"| {name} | {cfg.label} | {tick(cfg.model.fcam)} | {tick(cfg.model.pyramid)} | "
                     + " | ".join(cell(table[name][key]) for key in columns) + " |")
    text = "\n".join(lines) + "\n"
    (args.out / "table1.md").write_text(text)
    (args.out / "table1.json").write_text(json.dumps({"seeds": args.seeds, "set": args.set, "rows": table}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
