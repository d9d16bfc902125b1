"""Claim checks: a chunk may carry a URL instead of bytes; only URLs under an allow-listed prefix are read.

file:// paths are compared after resolving ``..`` and links. http(s) URLs must have the prefix's
scheme and host, a path under the prefix's path, and no ``.`` or ``..`` segment (percent-encoded
or not), which a server would resolve to a path outside the prefix; redirects are followed only
to allowed URLs.
"""
from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fasstream.stream.decode import InputError


def _file_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path)).resolve()


def _under_http(ref: str, prefix: str) -> bool:
    r, p = urlsplit(ref), urlsplit(prefix)
    path, root = unquote(r.path), unquote(p.path)
    if r.netloc.lower() != p.netloc.lower() or "\\" in path or {".", ".."} & set(path.split("/")):
        return False
    return path == root or path.startswith(root if root.endswith("/") else root + "/")


def allowed(ref: str, allow: list[str]) -> bool:
    """Whether ``ref`` lies under one of the ``allow`` prefixes."""
    scheme = urlsplit(ref).scheme
    for prefix in allow:
        if scheme != urlsplit(prefix).scheme:
            continue
        if scheme == "file":
            root, path = _file_path(prefix), _file_path(ref)
            if path == root or root in path.parents:
                return True
        elif scheme in ("http", "https") and _under_http(ref, prefix):
            return True
    return False


class _AllowedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow: list[str]):
        self.allow = allow

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not allowed(newurl, self.allow):
            raise InputError("ref_not_allowed", f"claim check {req.full_url!r} redirects to {newurl!r}, outside "
                                                f"claim_check.allow {self.allow}; serve the object under an allowed "
                                                "prefix without redirecting")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


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
            with urllib.request.build_opener(_AllowedRedirects(allow)).open(ref, timeout=timeout) as response:
                data = response.read(max_bytes + 1)
    except OSError as err:
        raise InputError("ref_unreadable", f"claim check {ref!r} cannot be read ({err}); check that the object "
                                           "exists and outlives the session") from err
    if len(data) > max_bytes:
        raise InputError("chunk_too_large", f"claim check {ref!r} holds more than limits.ref_bytes={max_bytes} "
                                            "bytes; split it into several chunks")
    return data
