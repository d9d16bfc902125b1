"""Pool the test splits of several generic-layout datasets under the dev split of the first, in one CSV.

156 test videos (12 identities) cannot rank two recipes: one video moves a family's APCER by 8.3 points.
Rendering more test identities with another seed (``fasstream synth --out data/synth-s7 --identities 60
--seed 7 --splits test``) and pooling them keeps the protocol (threshold at the dev EER of the training's own
dev split, applied unchanged) and doubles the test set:

    python benchmarks/pool_tests.py data/synthetic/dataset.csv data/synth-s7/dataset.csv --out data/pooled.csv
    fasstream eval --model CKPT --data data/pooled.csv --apcer-by family

The first dataset gives dev and test rows, every other one its test rows; paths are rewritten relative to
``--out``. Identities must not repeat across the inputs (different ``fasstream synth`` seeds never do).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path


def pooled_rows(datasets: list[Path], out: Path) -> tuple[list[str], list[dict]]:
    """(header, rows): dev and test rows of ``datasets[0]``, test rows of the rest, paths relative to ``out``'s
    folder. Raises ValueError for a missing column or a subject found in two inputs."""
    header, rows, owner = None, [], {}
    for n, dataset in enumerate(datasets):
        with open(dataset, newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if "split" not in fields or "path" not in fields:
                raise ValueError(f"{dataset} has no path or split column: give dataset.csv files of `fasstream synth`")
            header = header or fields
            for row in reader:
                if row["split"] not in (("dev", "test") if n == 0 else ("test",)):
                    continue
                subject = row.get("subject") or row["path"]
                if owner.setdefault(subject, n) != n:
                    raise ValueError(f"subject {subject} is in {datasets[owner[subject]]} and {dataset}: pool "
                                     "datasets made with different seeds")
                for key in ("path", "landmarks"):
                    if row.get(key):
                        row[key] = os.path.relpath(dataset.parent / row[key], out.parent)
                rows.append(row)
    return header, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", type=Path, nargs="+", help="dataset.csv files; the first gives the dev split")
    parser.add_argument("--out", type=Path, required=True, help="pooled CSV to write")
    args = parser.parse_args()
    try:
        header, rows = pooled_rows(args.datasets, args.out)
    except (OSError, ValueError) as err:
        sys.exit(f"pool_tests: {err}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    splits = {s: sum(r["split"] == s for r in rows) for s in ("dev", "test")}
    print(f"wrote {args.out}: {splits['dev']} dev and {splits['test']} test videos from {len(args.datasets)} datasets")


if __name__ == "__main__":
    main()
