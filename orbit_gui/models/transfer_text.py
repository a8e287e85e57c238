"""Words and numbers for the transfer queue: speeds, durations, names. Pure, no Qt."""

from __future__ import annotations

import posixpath

from ..engine.transfer import Direction, TransferSnapshot
from .formatting import human_count, human_size

__all__ = ["bytes_text", "human_duration", "human_speed", "transfer_name"]

_ARROWS = {Direction.UPLOAD: "↑", Direction.DOWNLOAD: "↓", Direction.COPY: "⇄"}


def human_speed(rate: float) -> str:
    """"120 MB/s"; a rate below one byte a second reads "0 B/s"."""
    return f"{human_size(max(0, round(rate)))}/s"


def human_duration(seconds: float) -> str:
    """"< 1 s", "12 s", "3 min 05 s", "2 h 04 min", "3 d 2 h": two units at most."""
    if seconds < 0.5:
        return "< 1 s"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def bytes_text(done: int, total: int | None, *, counting: bool = False) -> str:
    """"3.4 MB of 4.8 GB", or "3.4 MB of 12 MB so far, still counting"."""
    if total is None:
        return human_size(done) + (", still counting" if counting else "")
    text = f"{human_size(done)} of {human_size(total)}"
    return text + " so far, still counting" if counting else text


def _folder(label: str) -> str:
    head = posixpath.dirname(label.rstrip("/"))
    return head if head.endswith("/") else head + "/"


def transfer_name(snapshot: TransferSnapshot) -> str:
    """The line a user recognises: "↑ video.mov → prod-s3:/media-bucket/2026/".

    The moving thing is named by its source's last component; the arrow points
    at the folder it goes into (or comes from, for a download).
    """
    arrow = _ARROWS[snapshot.direction]
    name = posixpath.basename(snapshot.source.rstrip("/")) or snapshot.source
    folder = snapshot.counting or snapshot.files_total > 1
    if folder:
        name += "/"
    if snapshot.direction is Direction.DOWNLOAD:
        text = f"{arrow} {name} ← {_folder(snapshot.source)}"
    else:
        text = f"{arrow} {name} → {_folder(snapshot.destination)}"
    if folder:
        files = f"{human_count(snapshot.files_total)} files"
        text += f" ({files}, counting…)" if snapshot.counting else f" ({files})"
    return text
