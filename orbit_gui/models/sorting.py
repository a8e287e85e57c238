"""Sort order of folder entries: folders first, names in natural order."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..engine import Entry

__all__ = ["natural_key", "sort_entries"]

_DIGITS = re.compile(r"\d+")


def _number(match: re.Match[str]) -> str:
    digits = match.group().lstrip("0") or "0"
    return f"{len(digits):02d}{digits}"


def natural_key(name: str) -> str:
    """Case-insensitive key where digit runs compare as numbers ("img2" < "img10").

    Each digit run becomes its length (two digits) followed by the digits, so
    plain string comparison, much faster than comparing tuples, orders the
    runs as numbers.
    """
    return _DIGITS.sub(_number, name.casefold())


def sort_entries(entries: list[Entry], key: Callable[[Entry], Any] | None = None, *,
                 descending: bool = False,
                 name_key: Callable[[str], str] = natural_key) -> list[Entry]:
    """Return ``entries`` ordered by ``key`` (None: by name), ties by natural name.

    Folders stay above files in both directions, as in every file manager.
    ``name_key`` may be a memo of :func:`natural_key`. Two stable sorts on
    simple keys beat one sort on tuples by a wide margin.
    """
    ordered = sorted(entries, key=lambda e: name_key(e.name), reverse=descending)
    if key is not None:
        ordered.sort(key=key, reverse=descending)
    return [e for e in ordered if e.is_dir] + [e for e in ordered if not e.is_dir]
