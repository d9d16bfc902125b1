"""Claim checks: a chunk may carry a URL instead of bytes; only URLs under an allow-listed prefix are read."""
from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fasstream.stream.decode import InputError


def _file_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path)).resolve()


def allowed(ref: str, allow: list[str]) -> bool:
    """Whether ``ref`` lies under one of the ``allow`` prefixes (file:// paths compared after resolving ``..``)."""
    scheme = urlsplit(ref).scheme
    for prefix in allow:
        if scheme != urlsplit(prefix).scheme:
            continue
        if scheme == "file":
            root, path = _file_path(prefix), _file_path(ref)
            if path == root or root in path.parents:
                return True
        elif scheme in ("http", "https") and ref.startswith(prefix) and "/../" not in ref:
            return True
    return False


def fetch(ref: str, allow: list[str], max_bytes: int, timeout: float = 10.0) -> bytes:
    """The bytes behind ``ref``; raises :class:`InputError` when it is not allowed, unreadable or too large."""
    if not allowed(ref, allow):
        raise InputError("ref_not_allowed", f"claim check {ref!r} is outside claim_check.allow {allow}; put the "
                                            "object under an allowed prefix or add its prefix to the allow-list")
    try:
        if urlsplit(ref).scheme == "file":
            with open(_file_path(ref), "rb") as handle:
                data = handle.read(max_bytes + 1)
        else:
            with urllib.request.urlopen(ref, timeout=timeout) as response:
                data = response.read(max_bytes + 1)
    except OSError as err:
        raise InputError("ref_unreadable", f"claim check {ref!r} cannot be read ({err}); check that the object "
                                           "exists and outlives the session") from err
    if len(data) > max_bytes:
        raise InputError("chunk_too_large", f"claim check {ref!r} holds more than limits.ref_bytes={max_bytes} "
                                            "bytes; split it into several chunks")
    return data
