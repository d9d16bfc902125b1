"""Worker configuration: a YAML file (pipelines/serve/worker.yaml), then environment, then flags.

Environment overrides are ``FASSTREAM_SERVE__SECTION__KEY=value`` (values parsed as YAML), e.g.
``FASSTREAM_SERVE__KAFKA__BOOTSTRAP_SERVERS=broker:9092``; ``--set section.key=value`` comes
last. ``kafka.client`` is passed to kafka-python as it is, for SASL/TLS settings such as
``security_protocol``, ``sasl_mechanism``, ``sasl_plain_username``, ``ssl_cafile``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from fasstream.stream import protocol

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "pipelines" / "serve" / "worker.yaml"
ENV_PREFIX = "FASSTREAM_SERVE__"
FACE_DETECTORS = ("mtcnn", "lbp-cascade", "dlib", "client")


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key and the fix."""


@dataclass
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "fasstream-serve"
    input_topic: str = protocol.INPUT_TOPIC
    output_topic: str = protocol.OUTPUT_TOPIC
    dead_letter_topic: str = protocol.DEAD_LETTER_TOPIC
    partitions: int = 4               # used when the worker has to create the topics
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    max_poll_interval_ms: int = 10000
    poll_ms: int = 50
    fetch_max_wait_ms: int = 20       # how long the broker may hold a fetch for new chunks (latency)
    commit_interval_ms: int = 200
    client: dict = field(default_factory=dict)


@dataclass
class BatchConfig:
    max_batch: int = 0                # 0: 16 on CUDA, 1 on a CPU; every model call has this many clips (padded)
    max_delay_ms: float = 20.0
    device: str = "auto"
    precision: str = "auto"           # auto (bf16 on CUDA, fp32 on a CPU) | fp32 | bf16
    threads: int = 0                  # torch threads on a CPU; 0: torch's default


@dataclass
class LimitsConfig:
    chunk_bytes: int = 1_000_000
    ref_bytes: int = 64_000_000
    frame_pixels: int = 1920 * 1080
    session_frames: int = 1800
    session_seconds: float = 60.0
    open_sessions: int = 64           # decoding at once; more are deferred and read again later, never refused
    buffered_bytes: int = 512_000_000  # chunk bytes not yet demuxed + frames not yet scored: over it, pause
    session_timeout_s: float = 30.0


@dataclass
class ClaimCheckConfig:
    allow: list = field(default_factory=list)  # URL prefixes, e.g. file:///srv/sessions/


@dataclass
class MetricsConfig:
    host: str = "127.0.0.1"
    port: int = 9400                  # 0 picks a free port; -1 turns the endpoint off


@dataclass
class ServeConfig:
    model: str = ""
    worker_id: str = ""
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    claim_check: ClaimCheckConfig = field(default_factory=ClaimCheckConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    crop_threads: int = 1             # face stage threads; a session's clips stay on one thread
    face_batch: int = 8               # clips of different sessions per batched face-detector call
    face_detector: str = "mtcnn"      # mtcnn | lbp-cascade | dlib (non-commercial) | client (face-box headers only)

    def validate(self) -> ServeConfig:
        checks = [
            (self.batch.max_batch >= 0, "batch.max_batch", "use 1 or more, or 0 for the device's default"),
            (self.batch.precision in ("auto", "fp32", "bf16"), "batch.precision", "use auto, fp32 or bf16"),
            (self.batch.threads >= 0, "batch.threads", "use 1 or more, or 0 for torch's default"),
            (self.batch.max_delay_ms >= 0, "batch.max_delay_ms", "use 0 or more"),
            (self.crop_threads >= 1, "crop_threads", "use 1 or more"),
            (self.face_batch >= 1, "face_batch", "use 1 or more"),
            (self.face_detector in FACE_DETECTORS, "face_detector",
             "use mtcnn (the licence-clean default), lbp-cascade, dlib, or client (face boxes sent by clients)"),
            (self.limits.open_sessions >= 1, "limits.open_sessions", "use 1 or more"),
            (self.limits.buffered_bytes >= 1, "limits.buffered_bytes", "use 1 or more"),
            (self.limits.chunk_bytes >= 1, "limits.chunk_bytes", "use 1 or more"),
            (self.limits.session_timeout_s > 0, "limits.session_timeout_s", "use a positive number of seconds"),
        ]
        for ok, key, fix in checks:
            if not ok:
                raise ConfigError(f"serve config: {key}={_get(self, key)!r} is invalid. Fix: {fix}.")
        return self


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _set(cfg: ServeConfig, dotted: str, value: Any, where: str) -> None:
    *parents, leaf = dotted.split(".")
    obj = cfg
    for part in parents:
        if not dataclasses.is_dataclass(getattr(obj, part, None)):
            raise ConfigError(f"{where}: unknown section {dotted!r}. Fix: use one of {_keys(cfg)}.")
        obj = getattr(obj, part)
    hints = get_type_hints(type(obj))
    if leaf not in hints or dataclasses.is_dataclass(getattr(obj, leaf)):
        raise ConfigError(f"{where}: unknown key {dotted!r}. Fix: use one of {_keys(cfg)}.")
    kind = hints[leaf]
    try:
        value = kind(value) if kind in (int, float, str) and not isinstance(value, bool) else value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {dotted}={value!r} is not {kind.__name__}. Fix: give a {kind.__name__}.") from None
    if kind in (bool, list, dict) and not isinstance(value, kind):
        raise ConfigError(f"{where}: {dotted}={value!r} is not {kind.__name__}. Fix: give a {kind.__name__}.")
    setattr(obj, leaf, value)


def _keys(obj, prefix: str = "") -> str:
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out.append(_keys(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else prefix + f.name)
    return ", ".join(out)


def _flatten(raw: dict, prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in raw.items():
        if isinstance(value, dict) and key not in ("client",):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((prefix + key, value))
    return items


def load_config(path=None, overrides: list[str] = (), flags: dict | None = None, environ=None) -> ServeConfig:
    """Defaults <- YAML ``path`` (default pipelines/serve/worker.yaml) <- env <- ``--set`` <- non-None ``flags``."""
    cfg = ServeConfig()
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"serve config {path} not found. Fix: pass --config pipelines/serve/worker.yaml.")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections. Fix: see pipelines/serve/worker.yaml.")
    for key, value in _flatten(raw):
        _set(cfg, key, value, str(path))
    environ = os.environ if environ is None else environ
    for name, text in sorted(environ.items()):
        if name.startswith(ENV_PREFIX):
            _set(cfg, name[len(ENV_PREFIX):].lower().replace("__", "."), yaml.safe_load(text), f"env {name}")
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} is not key=value. Fix: e.g. --set batch.max_batch=8.")
        _set(cfg, key.strip(), yaml.safe_load(text), f"--set {item}")
    for key, value in (flags or {}).items():
        if value is not None:
            _set(cfg, key, value, f"flag {key}")
    if not cfg.model:
        from fasstream.model.checkpoint import DEFAULT_MODEL

        cfg.model = str(DEFAULT_MODEL)
    return cfg.validate()
