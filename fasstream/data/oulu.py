"""OULU-NPU: the official protocol lists and where the videos lie.

Expected tree under ``root``::

    Protocols/Protocol_1/{Train,Dev,Test}.txt        (Protocol_2 likewise)
    Protocols/Protocol_3/{Train,Dev,Test}_{1..6}.txt (Protocol_4 likewise; one file per fold)
    {Train,Dev,Test}_files/<video_id>.avi            (or .mp4)

Each list line is ``label,video_id`` (``+1,1_1_01_1``). The video id is
``Phone_Session_Subject_Access``; the species comes from the access digit (1 live, 2/3 print,
4/5 display), not from the label, whose negative values are not used consistently across lists.
The family is the attack instrument of that digit (``print-1``, ``print-2``, ``display-1``,
``display-2``: OULU-NPU's two printers and two displays, the units protocol 2 holds out).
Videos named in a list but absent on disk are logged (list file and line) and skipped.

A record's ``video_id`` is the video's path under ``root`` without its suffix
(``Train_files/1_1_01_1``), as in the generic layout with its CSV at ``root``: the key of the
label cache and of a precomputed landmark folder, unique even where two folders hold the same
name. A ``<video_id>.npy`` landmark file beside a video becomes the record's ``landmarks``.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import NamedTuple

from .records import VideoRecord

log = logging.getLogger(__name__)

ACCESS_SPECIES = {1: "live", 2: "print", 3: "print", 4: "display", 5: "display"}
ACCESS_FAMILY = {1: "live", 2: "print-1", 3: "print-2", 4: "display-1", 5: "display-2"}
FOLD_PROTOCOLS = (3, 4)
N_FOLDS = 6
VIDEO_SUFFIXES = (".avi", ".mp4")
_SPLIT_NAMES = {"train": "Train", "dev": "Dev", "test": "Test"}
_VIDEO_ID = re.compile(r"^([1-6])_([1-3])_(\d{2})_([1-5])$")


class ProtocolError(ValueError):
    """A protocol list is missing or malformed; the message names the file and line."""


class ListEntry(NamedTuple):
    """One line of a protocol list."""

    line: int
    label: int
    video_id: str


def parse_video_id(video_id: str) -> dict[str, int]:
    """Split ``Phone_Session_Subject_Access`` into its four numbers; ``ValueError`` if it is not one."""
    match = _VIDEO_ID.match(video_id)
    if not match or not 1 <= int(match.group(3)) <= 55:
        raise ValueError(f"{video_id!r} is not an OULU-NPU video id Phone_Session_Subject_Access "
                         "(phone 1-6, session 1-3, subject 01-55, access 1-5), e.g. '1_1_01_1'")
    phone, session, subject, access = (int(g) for g in match.groups())
    return {"phone": phone, "session": session, "subject": subject, "access": access}


def protocol_file(root, protocol: int, split: str, fold: int | None = None) -> Path:
    """Path of the list for ``protocol`` (1-4), ``split`` (train/dev/test) and ``fold`` (1-6, P3/P4 only)."""
    if protocol not in (1, 2, 3, 4):
        raise ValueError(f"OULU-NPU protocol must be 1, 2, 3 or 4, got {protocol!r}")
    if split not in _SPLIT_NAMES:
        raise ValueError(f"split must be one of {tuple(_SPLIT_NAMES)}, got {split!r}")
    name = _SPLIT_NAMES[split]
    if protocol in FOLD_PROTOCOLS:
        if fold is None or not 1 <= fold <= N_FOLDS:
            raise ValueError(f"OULU-NPU protocol {protocol} needs fold 1..{N_FOLDS} "
                             f"(leave-one-phone-out), got {fold!r}")
        name = f"{name}_{fold}"
    elif fold is not None:
        raise ValueError(f"OULU-NPU protocol {protocol} has no folds; pass fold=None, got {fold!r}")
    return Path(root) / "Protocols" / f"Protocol_{protocol}" / f"{name}.txt"


def read_protocol_list(path) -> list[ListEntry]:
    """Read ``label,video_id`` lines into entries, skipping blank lines.

    Raises ``ProtocolError`` naming the file and line for a malformed line, a bad video id, a
    label whose sign contradicts the access digit (+1 must be access 1) or a repeated video.
    """
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(f"OULU-NPU protocol list {path} does not exist; check the dataset root "
                            "and that the Protocols folder is unpacked")
    entries: list[ListEntry] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{path}:{lineno}"
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2:
            raise ProtocolError(f"{where}: expected 'label,video_id' like '+1,1_1_01_1', got {line!r}; "
                                "fix or delete the line")
        try:
            label = int(parts[0])
            access = parse_video_id(parts[1])["access"]
        except ValueError as exc:
            raise ProtocolError(f"{where}: expected 'label,video_id' like '+1,1_1_01_1', got {line!r} "
                                f"({exc}); fix or delete the line") from exc
        if label == 0 or (label > 0) != (access == 1):
            raise ProtocolError(f"{where}: label {parts[0]} contradicts access digit {access} of "
                                f"{parts[1]} (+1 is bona fide, access 1); fix the sign")
        if parts[1] in seen:
            raise ProtocolError(f"{where}: {parts[1]} is already listed at line {seen[parts[1]]}; "
                                "delete one of the two lines")
        seen[parts[1]] = lineno
        entries.append(ListEntry(lineno, label, parts[1]))
    if not entries:
        raise ProtocolError(f"OULU-NPU protocol list {path} holds no entries")
    return entries


def find_video(root, split: str, video_id: str) -> Path | None:
    """The file of ``video_id`` in ``<root>/<Split>_files`` (.avi, else .mp4), or None."""
    folder = Path(root) / f"{_SPLIT_NAMES[split]}_files"
    for suffix in VIDEO_SUFFIXES:
        candidate = folder / f"{video_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _record(root: Path, path: Path, split: str, video_id: str) -> VideoRecord:
    parts = parse_video_id(video_id)
    sidecar = path.with_suffix(".npy")
    return VideoRecord(path=path, live=parts["access"] == 1, species=ACCESS_SPECIES[parts["access"]], split=split,
                       video_id=path.relative_to(root).with_suffix("").as_posix(),
                       subject=f"{parts['subject']:02d}", landmarks=sidecar if sidecar.is_file() else None,
                       family=ACCESS_FAMILY[parts["access"]])


def oulu_records(root, protocol: int, fold: int | None = None, *, split: str) -> list[VideoRecord]:
    """Records of one OULU-NPU protocol list, in list order.

    ``split`` is train, dev or test; ``fold`` (1-6) is required for protocols 3 and 4 and refused
    for 1 and 2. Videos named in the list but missing on disk are logged as a warning naming the
    list's lines and left out; if none is found, ``FileNotFoundError`` names the folder searched.
    Subjects are the two-digit subject number.
    """
    root = Path(root)
    listing = protocol_file(root, protocol, split, fold)
    folder = root / f"{_SPLIT_NAMES[split]}_files"
    records: list[VideoRecord] = []
    missing: list[ListEntry] = []
    for entry in read_protocol_list(listing):
        path = find_video(root, split, entry.video_id)
        if path is None:
            missing.append(entry)
        else:
            records.append(_record(root, path, split, entry.video_id))
    if not records:
        raise FileNotFoundError(f"none of the {len(missing)} videos listed in {listing} is in {folder} "
                                f"as {' or '.join(VIDEO_SUFFIXES)}; check the dataset root")
    if missing:
        lines = ", ".join(f"line {e.line} {e.video_id}" for e in missing[:5])
        log.warning("%d of %d videos listed in %s are not in %s and are skipped (%s%s); put <video_id>.avi "
                    "or .mp4 there, or delete those lines", len(missing), len(missing) + len(records), listing,
                    folder, lines, ", ..." if len(missing) > 5 else "")
    return records


def oulu_videos(root) -> list[VideoRecord]:
    """Every video in ``root``'s ``{Train,Dev,Test}_files`` named as an OULU-NPU id (.avi before .mp4).

    For labelling a whole dataset once, whatever the protocol. Other files are ignored; a video
    whose name is not an OULU-NPU id is logged. Raises ``FileNotFoundError`` when there is none.
    """
    root = Path(root)
    records: list[VideoRecord] = []
    for split, name in _SPLIT_NAMES.items():
        stems = sorted({p.stem for p in (root / f"{name}_files").glob("*") if p.suffix in VIDEO_SUFFIXES})
        for stem in stems:
            try:
                parse_video_id(stem)
            except ValueError as err:
                log.warning("ignoring %s/%s_files/%s: %s", root, name, stem, err)
                continue
            records.append(_record(root, find_video(root, split, stem), split, stem))
    if not records:
        raise FileNotFoundError(f"no OULU-NPU video (<Phone_Session_Subject_Access>.avi or .mp4) in "
                                f"{root}/{{Train,Dev,Test}}_files; pass the dataset root that holds those folders")
    return records
