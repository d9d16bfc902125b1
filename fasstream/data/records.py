"""Video records and the generic CSV layout of docs/CONTRACTS.md.

The layout is a CSV with columns ``path,label,species,split`` and optionally ``subject`` and
``landmarks``; ``label`` is ``live`` or ``attack``, ``split`` is ``train``, ``dev`` or ``test``,
and paths are relative to the CSV's folder.
"""
from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LABELS = ("live", "attack")
SPLITS = ("train", "dev", "test")
REQUIRED_COLUMNS = ("path", "label", "species", "split")
OPTIONAL_COLUMNS = ("subject", "landmarks")


@dataclass(frozen=True)
class VideoRecord:
    """One video: where it is, bona fide or attack, its species, split, id, subject, landmark file."""

    path: Path
    live: bool
    species: str
    split: str
    video_id: str
    subject: str
    landmarks: Path | None = None


def _check_row(where: str, label: str, species: str, split: str) -> None:
    if label not in LABELS:
        raise ValueError(f"{where}: label {label!r} must be one of {LABELS}")
    if split not in SPLITS:
        raise ValueError(f"{where}: split {split!r} must be one of {SPLITS}")
    if not species:
        raise ValueError(f"{where}: species is empty; use 'live' for bona fide or the attack type")
    if (label == "live") != (species == "live"):
        raise ValueError(f"{where}: label {label!r} does not match species {species!r}; "
                         "bona fide rows have species 'live' and attack rows any other species")


def read_layout_csv(csv_path) -> list[VideoRecord]:
    """Read a generic-layout CSV into records with absolute paths.

    ``video_id`` is the video's path relative to the CSV folder without its suffix; ``subject``
    is empty where the column is absent or the cell is blank; ``landmarks`` is None likewise.
    Raises ``ValueError`` naming the file and row for a missing column, an unknown label or split,
    a label that contradicts the species, an empty path or a repeated path.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"layout CSV {csv_path} does not exist")
    folder = csv_path.parent.resolve()
    records: list[VideoRecord] = []
    seen: dict[str, int] = {}
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {missing}; the header must hold "
                             f"{','.join(REQUIRED_COLUMNS)}[,subject][,landmarks], found {columns}")
        unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if unknown:
            log.warning("%s: ignoring unknown column(s) %s", csv_path, unknown)
        reader.fieldnames = columns
        for row_number, row in enumerate(reader, start=2):  # row 1 is the header
            where = f"{csv_path} row {row_number}"
            cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
            rel = cells["path"]
            if not rel:
                raise ValueError(f"{where}: the path cell is empty")
            _check_row(where, cells["label"], cells["species"], cells["split"])
            if rel in seen:
                raise ValueError(f"{where}: path {rel!r} already appears in row {seen[rel]}")
            seen[rel] = row_number
            landmarks = cells.get("landmarks", "")
            records.append(VideoRecord(
                path=folder / rel,
                live=cells["label"] == "live",
                species=cells["species"],
                split=cells["split"],
                video_id=Path(rel).with_suffix("").as_posix(),
                subject=cells.get("subject", ""),
                landmarks=folder / landmarks if landmarks else None,
            ))
    if not records:
        raise ValueError(f"{csv_path}: no rows below the header")
    return records


def write_layout_csv(records, csv_path) -> Path:
    """Write records as a generic-layout CSV, paths relative to the CSV's folder. Returns the path."""
    csv_path = Path(csv_path)
    folder = csv_path.parent.resolve()

    def rel(path: Path) -> str:
        return Path(os.path.relpath(Path(path).resolve(), folder)).as_posix()

    rows = []
    for index, rec in enumerate(records):
        label = "live" if rec.live else "attack"
        _check_row(f"record {index} ({rec.video_id})", label, rec.species, rec.split)
        rows.append({"path": rel(rec.path), "label": label, "species": rec.species, "split": rec.split,
                     "subject": rec.subject, "landmarks": rel(rec.landmarks) if rec.landmarks else ""})
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return csv_path
