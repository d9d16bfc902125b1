"""Training recipe: a YAML file (``pipelines/train/*.yaml``) read into checked dataclasses.

A recipe may name a ``base`` recipe (path relative to itself) whose keys it overrides; nested
sections merge key by key. ``overrides`` (``--set section.key=value``) apply last, values parsed
as YAML. Every error names the file, the key and the fix.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from fasstream.faces.geometry import RESAMPLING
from fasstream.model.aggregate import AGGREGATES
from fasstream.model.eulernet import WIDTHS

__all__ = ["ConfigError", "DataConfig", "ModelConfig", "TrainConfig", "load_config"]

SOURCES = ("csv", "oulu")
LR_SCHEDULES = ("constant", "cosine")
BF16 = ("cuda", "always", "never")


class ConfigError(ValueError):
    """A recipe that cannot be used; the message names the key and the fix."""


@dataclass
class ModelConfig:
    """EulerNet's architecture (its constructor arguments)."""

    width: str = "tiny"          # a preset of model.eulernet.WIDTHS (tiny, base)
    fcam: bool = True            # FCAM attention (DIIRF gate) after each stage
    pyramid: bool = True         # residual pyramid; False = plain channel concatenation
    size: int = 256              # face crop side in pixels; label maps are size/8
    skip_first: bool = False     # no map (loss, score) for a clip's first frame, whose causal DIIRF has no past


@dataclass
class DataConfig:
    """Where the videos are, and how clips are cut and augmented."""

    source: str = "csv"          # csv: dataset.csv in the generic layout; oulu: OULU-NPU root + protocol
    path: str = ""               # the CSV file, or the OULU-NPU root folder
    protocol: int = 1            # OULU-NPU protocol 1-4
    fold: int = 0                # OULU-NPU fold 1-6 for protocols 3 and 4 (leave one phone out); 0 for 1 and 2
    cache: str = ""              # `fasstream label` cache folder to take landmarks from; empty: the CSV's .npy files
    crop_scale: float = 1.3      # face box side relative to the landmarks' extent
    stabilise: bool = False      # warp each clip's frames onto its first (faces/stabilise.py); kept in the checkpoint
    resample: str = "linear"     # crop interpolation, faces/geometry.py RESAMPLING (linear, lanczos); in the checkpoint
    clips_per_video: int = 0     # training clips kept per video, evenly spaced; 0 keeps all
    flip: bool = True            # random horizontal flip of clip and maps
    jitter: float = 0.1          # colour jitter strength (brightness, contrast, saturation); 0 turns it off
    balance: bool = False        # draw live and attack train clips equally often (with replacement)
    still: float = 0.0           # share of live train clips turned into held-frame hard negatives
    rigid: float = 0.0           # share of live train clips turned into planar-motion hard negatives
    capture: float = 0.0         # share of train clips (every class) given a random capture (train/capture.py)
    detail: float = 0.0          # share of train clips (every class) sharpened or softened (capture.detail_clip)
    box_shift: float = 0.0       # random face box: centre moved by up to this share of its side (train/framing.py)
    box_zoom: float = 0.0        # random face box: side scaled by up to 1 +- this
    box_draws: int = 1           # crops stored per train clip: the landmark box and boxes moved <= 1/2 crop pixel
    intervals: list[int] = field(default_factory=lambda: [3])  # frame intervals train clips are stored at, one
                                 # drawn per item (motion per clip as at other speeds); evaluation uses 3
    live_bag: int = 1            # > 1: a live clip is trained as the most live of it and live_bag - 1 other clips
                                 # of its video (train/instances.py); pair with aggregate: max
    workers: int = 0             # DataLoader worker processes
    exclude_families: list[str] = field(default_factory=list)  # attack families dropped from train and dev (LOFO)


@dataclass
class TrainConfig:
    """One training run; ``fasstream train`` reads it from a recipe."""

    name: str = "run"
    out: str = "runs"            # checkpoints, logs and curves go to out/name
    label: str = "position"      # label map: a key of fasstream.labels.maps.LABELS
    aggregate: str = "mean"      # a video's score from its clips': mean | max (model/aggregate.py); in the checkpoint
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 50
    batch_size: int = 16         # clips per step, over all processes
    lr: float = 1e-4
    lr_schedule: str = "constant"  # constant | cosine (from lr down to lr * lr_floor over all steps)
    lr_floor: float = 0.01       # cosine: the last step's lr as a share of lr
    swa_from: int = 0            # > 0: average the weights of every epoch from this one on (SWA) into swa.pt
    weight_decay: float = 0.0
    grad_clip: float = 0.0       # max gradient norm; 0 turns clipping off
    seed: int = 0
    bf16: str = "cuda"           # autocast to bfloat16: cuda (on CUDA only) | always | never
    device: str = "auto"         # auto | cpu | cuda
    log_every: int = 10          # steps between step log lines

    @property
    def out_dir(self) -> Path:
        return Path(self.out) / self.name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self, where: str = "config") -> TrainConfig:
        """Check values (types are checked on load); return self."""
        from fasstream.data.records import FAMILY_NAME
        from fasstream.labels.maps import LABELS

        def need(ok: bool, key: str, value: Any, fix: str) -> None:
            if not ok:
                raise ConfigError(f"{where}: {key}={value!r} is invalid. Fix: {fix}.")

        need(self.model.width in WIDTHS, "model.width", self.model.width, f"use one of {', '.join(WIDTHS)}")
        need(self.aggregate in AGGREGATES, "aggregate", self.aggregate, f"use one of {', '.join(AGGREGATES)}")
        need(self.label in LABELS, "label", self.label, f"use one of {', '.join(sorted(LABELS))}")
        need(self.data.source in SOURCES, "data.source", self.data.source, f"use one of {', '.join(SOURCES)}")
        need(bool(self.data.path), "data.path", self.data.path,
             "set data.path to the dataset CSV (source csv) or the OULU-NPU root (source oulu)")
        need(self.data.protocol in (1, 2, 3, 4), "data.protocol", self.data.protocol, "use 1, 2, 3 or 4")
        folds = range(1, 7) if self.data.protocol in (3, 4) else (0,)
        need(self.data.fold in folds, "data.fold", self.data.fold,
             "use 1..6 with protocols 3 and 4, and 0 with protocols 1 and 2")
        need(self.model.size >= 8 and self.model.size % 8 == 0, "model.size", self.model.size,
             "use a multiple of 8 (256 in the paper)")
        need(self.data.crop_scale > 0, "data.crop_scale", self.data.crop_scale, "use a positive number")
        need(self.data.resample in RESAMPLING, "data.resample", self.data.resample,
             f"use one of {', '.join(RESAMPLING)}")
        need(self.data.clips_per_video >= 0, "data.clips_per_video", self.data.clips_per_video, "use 0 or more")
        need(0 <= self.data.jitter < 1, "data.jitter", self.data.jitter, "use a number in [0, 1)")
        for key in ("box_shift", "box_zoom"):
            value = getattr(self.data, key)
            need(0 <= value <= 0.1, f"data.{key}", value, "use a number in [0, 0.1] (the stored margin holds 1.25x)")
        need(self.data.box_zoom + 2 * self.data.box_shift <= 0.25, "data.box_shift + data.box_zoom",
             (self.data.box_shift, self.data.box_zoom), "keep box_zoom + 2 * box_shift <= 0.25 (the stored margin)")
        need(self.data.box_draws >= 1, "data.box_draws", self.data.box_draws, "give 1 (the landmark box only) or more")
        need(self.data.box_draws == 1 or not (self.data.box_shift or self.data.box_zoom), "data.box_draws",
             self.data.box_draws, "give 1 with data.box_shift or data.box_zoom (a reframed crop has its own offset)")
        need(not (self.data.stabilise and (self.data.box_shift or self.data.box_zoom)), "data.stabilise",
             self.data.stabilise, "turn data.box_shift and data.box_zoom off: stabilised clips are not reframed")
        need(bool(self.data.intervals) and all(1 <= d <= 10 for d in self.data.intervals),
             "data.intervals", self.data.intervals, "list frame intervals from 1 to 10, e.g. [2, 3, 4] (3: the paper's)")
        need(self.data.intervals == [3] or not (self.data.box_shift or self.data.box_zoom), "data.intervals",
             self.data.intervals, "give [3] with data.box_shift or data.box_zoom (a reframed clip is drawn as cut)")
        need(self.data.live_bag >= 1, "data.live_bag", self.data.live_bag,
             "give 1 (every live clip trained on as drawn) or more (the most live of that many clips of its video)")
        need(0 <= self.data.capture <= 1, "data.capture", self.data.capture, "use a probability in [0, 1]")
        need(0 <= self.data.detail <= 1, "data.detail", self.data.detail, "use a probability in [0, 1]")
        need(0 <= self.data.still and 0 <= self.data.rigid and self.data.still + self.data.rigid <= 1,
             "data.still + data.rigid", (self.data.still, self.data.rigid),
             "use shares of the live clips in [0, 1] that add up to at most 1")
        need(self.data.workers >= 0, "data.workers", self.data.workers, "use 0 or more")
        for family in self.data.exclude_families:
            need(bool(FAMILY_NAME.match(family)) and family != "live", "data.exclude_families", family,
                 "name attack families of the data, e.g. [print-flat] (letters, digits, '.', '_', '-'; not live)")
        need(self.epochs >= 1, "epochs", self.epochs, "use 1 or more")
        need(self.batch_size >= 1, "batch_size", self.batch_size, "use 1 or more")
        need(self.lr > 0 and math.isfinite(self.lr), "lr", self.lr, "use a positive learning rate such as 1e-4")
        need(self.lr_schedule in LR_SCHEDULES, "lr_schedule", self.lr_schedule,
             f"use one of {', '.join(LR_SCHEDULES)}")
        need(0 <= self.lr_floor <= 1, "lr_floor", self.lr_floor, "use a share of lr in [0, 1]")
        need(0 <= self.swa_from <= self.epochs, "swa_from", self.swa_from,
             f"use 0 (off) or an epoch in 1..{self.epochs} to start averaging from")
        need(self.weight_decay >= 0, "weight_decay", self.weight_decay, "use 0 or more")
        need(self.grad_clip >= 0, "grad_clip", self.grad_clip, "use 0 (off) or a positive max norm")
        need(self.bf16 in BF16, "bf16", self.bf16, f"use one of {', '.join(BF16)}")
        need(self.device in ("auto", "cpu", "cuda"), "device", self.device, "use auto, cpu or cuda")
        need(self.log_every >= 1, "log_every", self.log_every, "use 1 or more")
        need(bool(self.name) and "/" not in self.name, "name", self.name, "use a plain folder name")
        return self

    @classmethod
    def from_dict(cls, raw: dict, where: str = "config") -> TrainConfig:
        """Build from nested dicts, rejecting unknown keys and wrong types; then validate."""
        return _build(cls, raw, where, "").validate(where)


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _coerce(value: Any, kind: type, key: str, where: str) -> Any:
    if get_origin(kind) is list:  # a list of strings or integers; one item is a list of one
        item_kind = get_args(kind)[0]
        if isinstance(value, (dict, tuple, set)):
            noun = "strings" if item_kind is str else "integers"
            raise ConfigError(f"{where}: {key} must be a list of {noun}, got {value!r} ({type(value).__name__}). "
                              f"Fix: write {key} as [a, b] (or one item).")
        items = value if isinstance(value, list) else [value]
        return [_coerce(item, item_kind, f"{key}[{i}]", where) for i, item in enumerate(items)]
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and not isinstance(value, bool):
        try:  # YAML reads 1e-4 (no dot) as a string
            return float(value)
        except (TypeError, ValueError):
            pass
    if kind is str and isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    want = _KINDS[kind]
    raise ConfigError(f"{where}: {key} must be {want}, got {value!r} ({type(value).__name__}). "
                      f"Fix: write {key} as {want}.")


def _build(cls: type, raw: Any, where: str, prefix: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'the recipe'} must be a mapping of keys to values, "
                          f"got {type(raw).__name__}. Fix: write it as `key: value` lines.")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key {prefix}{unknown[0]}. Fix: remove it or use one of "
                          f"{', '.join(prefix + n for n in names)}.")
    kwargs = {}
    for name, value in raw.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            kwargs[name] = _build(kind, value, where, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, kind, prefix + name, where)
    return cls(**kwargs)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist. Fix: pass a YAML file such as pipelines/train/baseline.yaml.")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: base recipes form a cycle. Fix: remove the `base` key from one of them.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}). Fix the syntax at the position shown.") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of keys to values. Fix: write `key: value` lines.")
    base = raw.pop("base", None)
    if base is None:
        return raw
    return _merge(_read(path.parent / str(base), seen + (path.resolve(),)), raw)


def _set(raw: dict, item: str) -> dict:
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r} is not key=value. Fix: write e.g. --set lr=3e-4 or --set model.fcam=false.")
    *parents, leaf = key.split(".")
    over: dict = {leaf: yaml.safe_load(text)}
    for parent in reversed(parents):
        over = {parent: over}
    return _merge(raw, over)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a recipe (following ``base``), apply ``key=value`` overrides, check and return it."""
    raw = _read(Path(path))
    for item in overrides:
        raw = _set(raw, item)
    where = str(path) + (f" (with --set {' '.join(overrides)})" if overrides else "")
    return TrainConfig.from_dict(raw, where)
