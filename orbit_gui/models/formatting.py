"""Human-readable numbers, sizes and times: pure functions, no Qt."""

from __future__ import annotations

from datetime import datetime

__all__ = ["exact_bytes", "human_count", "human_size", "iso_time", "listing_status"]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def human_size(size: int) -> str:
    """Decimal units as file managers show them: "999 B", "4.1 MB", "120 GB"."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS[1:]:
        value /= 1000
        # Round first so that 999,960 bytes reads "1.0 MB" rather than "1000 kB".
        shown = round(value, 1) if value < 99.95 else round(value)
        if shown < 1000 or unit == _UNITS[-1]:
            return f"{shown:.1f} {unit}" if shown < 100 else f"{shown:.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def human_count(count: int) -> str:
    """A count with thousands separators: "12,345"."""
    return f"{count:,}"


def exact_bytes(size: int) -> str:
    """The exact size for tooltips: "4,123,456 bytes"."""
    return "1 byte" if size == 1 else f"{human_count(size)} bytes"


def iso_time(mtime: float) -> str:
    """Seconds since the epoch as local ISO 8601 with its UTC offset."""
    return datetime.fromtimestamp(mtime).astimezone().isoformat(timespec="seconds")


def listing_status(shown: int, loaded: int, *, listing: bool, more: bool) -> str:
    """The status line under a folder listing.

    ``shown`` rows pass the filter out of ``loaded`` entries received so far;
    ``listing`` means entries are still arriving, ``more`` that the rest of the
    folder will be fetched as the user scrolls.
    """
    noun = "entry" if loaded == 1 else "entries"
    text = f"{human_count(loaded)} {noun}"
    if shown != loaded:
        text = f"{human_count(shown)} of {text} match the filter"
    if listing:
        return f"{text}, still listing…"
    if more:
        return f"{text} so far, more as you scroll"
    return text
