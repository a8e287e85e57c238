"""POSIX-style path helpers, and the guard that keeps hostile names in place.

Remote servers choose the names we receive. A name such as ``..``, ``a/b``,
``a\\b`` or one holding a NUL byte must never make a download land outside
the folder the user chose.
"""

from __future__ import annotations

import posixpath
import unicodedata

from .errors import InvalidPath

__all__ = ["MAX_NAME_BYTES", "basename", "check_name", "join", "normalize", "parent"]

MAX_NAME_BYTES = 255


def normalize(path: str) -> str:
    """Return ``path`` as an absolute, normalised POSIX path ("/" for empty)."""
    if "\x00" in path:
        raise InvalidPath(f"the path {path!r} contains a NUL byte", path=path)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidPath(f"the path {path!r} contains '..'", path=path)
    return "/" + "/".join(parts)


def join(folder: str, name: str) -> str:
    """Join a checked single ``name`` under ``folder``."""
    check_name(name)
    return posixpath.join(normalize(folder), name)


def parent(path: str) -> str:
    return posixpath.dirname(normalize(path))


def basename(path: str) -> str:
    return posixpath.basename(normalize(path))


def check_name(name: str) -> str:
    """Refuse a single path component that could escape or corrupt a folder."""
    if name in ("", ".", ".."):
        raise InvalidPath(f"{name!r} is not a usable file name", path=name)
    for bad, what in (("\x00", "a NUL byte"), ("/", "'/'"), ("\\", "'\\'")):
        if bad in name:
            raise InvalidPath(f"the name {name!r} contains {what}", path=name)
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidPath(f"the name {name!r} contains control characters", path=name)
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise InvalidPath(
            f"the name {name[:40]!r}... is longer than {MAX_NAME_BYTES} bytes", path=name
        )
    return name
