"""Video records and the generic CSV layout of docs/CONTRACTS.md.

The layout is a CSV with columns ``path,label,species,split`` and optionally ``subject``,
``landmarks`` and ``family``; ``label`` is ``live`` or ``attack``, ``split`` is ``train``, ``dev``
or ``test``, and paths are relative to the CSV's folder. ``family`` names the physical model of a
video within its species (``print-flat``, ``replay-phone``: the unit left out by the
leave-one-family-out protocol; ``live-mesh``: a second bona fide renderer); blank or absent, it is
the species.
"""
from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LABELS = ("live", "attack")
SPLITS = ("train", "dev", "test")
REQUIRED_COLUMNS = ("path", "label", "species", "split")
OPTIONAL_COLUMNS = ("subject", "landmarks", "family")
FAMILY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a family names a run folder (runs/lofo/{family})


@dataclass(frozen=True)
class VideoRecord:
    """One video: where it is, bona fide or attack, its species, split, id, subject, landmark file, family.

    ``family`` (the physical model, e.g. ``print-curved`` or ``live-mesh``) defaults to the species.
    """

    path: Path
    live: bool
    species: str
    split: str
    video_id: str
    subject: str
    landmarks: Path | None = None
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.species)


def _check_family(where: str, species: str, family: str, seen: dict[str, tuple[str, str]], here: str) -> None:
    """Check one row's family; ``seen`` maps each family met so far to (its species, where it was first)."""
    if not FAMILY_NAME.match(family):
        raise ValueError(f"{where}: family {family!r} is not a plain name; use letters, digits, '.', '_' and '-' "
                         "(it names a run folder), e.g. 'print-flat', or leave the cell blank for the species")
    if species != "live" and family == "live":
        raise ValueError(f"{where}: family 'live' does not fit species {species!r}; 'live' is bona fide. Fix: name "
                         "the attack's physical model (e.g. 'print-flat') or leave the cell blank for the species")
    first_species, first = seen.setdefault(family, (species, here))
    if first_species != species:
        raise ValueError(f"{where}: family {family!r} has species {species!r} here but {first_species!r} in {first}; "
                         "a family belongs to one species. Fix: rename one of the two families")


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
    ``family`` is the species where the column is absent or the cell is blank.
    Raises ``ValueError`` naming the file and row for a missing column, an unknown label or split,
    a label that contradicts the species, a family that is not a plain name, is 'live' for an attack
    (or not 'live' for bona fide) or belongs to two species, an empty path or a repeated path.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"layout CSV {csv_path} does not exist")
    folder = csv_path.parent.resolve()
    records: list[VideoRecord] = []
    seen: dict[str, int] = {}
    families: dict[str, tuple[str, str]] = {}
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {missing}; the header must hold "
                             f"{','.join(REQUIRED_COLUMNS)}[,subject][,landmarks][,family], found {columns}")
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
            family = cells.get("family", "") or cells["species"]
            _check_family(where, cells["species"], family, families, f"row {row_number}")
            landmarks = cells.get("landmarks", "")
            records.append(VideoRecord(
                path=folder / rel,
                live=cells["label"] == "live",
                species=cells["species"],
                split=cells["split"],
                video_id=Path(rel).with_suffix("").as_posix(),
                subject=cells.get("subject", ""),
                landmarks=folder / landmarks if landmarks else None,
                family=family,
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

    rows, families = [], {}
    for index, rec in enumerate(records):
        label = "live" if rec.live else "attack"
        where = f"record {index} ({rec.video_id})"
        _check_row(where, label, rec.species, rec.split)
        _check_family(where, rec.species, rec.family, families, f"record {index}")
        rows.append({"path": rel(rec.path), "label": label, "species": rec.species, "split": rec.split,
                     "subject": rec.subject, "landmarks": rel(rec.landmarks) if rec.landmarks else "",
                     "family": rec.family})
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return csv_path
