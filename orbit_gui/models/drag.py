"""What a drag carries: entries of one of our panes, or files of the desktop.

Entries dragged from a pane travel as our own MIME type naming the pane's
model (a token, valid in this process only) and the paths. Local entries
also travel as ``text/uri-list`` file URLs, so the desktop file manager and
other apps understand them; a drop of file URLs from outside is a drop of
local files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QMimeData, QUrl

__all__ = ["ENTRIES_MIME", "DraggedItems", "decode_drag", "encode_drag"]

ENTRIES_MIME = "application/x-orbit-entries"


@dataclass(frozen=True, slots=True)
class DraggedItems:
    """Paths being dragged, and where they come from."""

    paths: tuple[str, ...]
    source: str | None
    """The token of the listing model they were dragged from; None for files of the
    desktop (local paths from file URLs)."""


def encode_drag(source: str, paths: Sequence[str], *, local: bool) -> QMimeData:
    mime = QMimeData()
    mime.setData(ENTRIES_MIME, json.dumps({"source": source, "paths": list(paths)}).encode())
    if local:
        mime.setUrls([QUrl.fromLocalFile(path) for path in paths])
    return mime


def decode_drag(mime: QMimeData) -> DraggedItems | None:
    """The items in ``mime``, or None when it carries nothing we can transfer."""
    if mime.hasFormat(ENTRIES_MIME):
        try:
            data = json.loads(bytes(mime.data(ENTRIES_MIME).data()).decode())
            paths = tuple(str(path) for path in data["paths"])
            return DraggedItems(paths, str(data["source"])) if paths else None
        except (ValueError, KeyError, TypeError):
            return None
    if mime.hasUrls():
        files = tuple(url.toLocalFile() for url in mime.urls() if url.isLocalFile())
        return DraggedItems(files, None) if files else None
    return None
