"""Folder entries as the listing model keeps them: plain tuples.

A million :class:`~orbit_gui.engine.Entry` objects are a million containers
Python's cycle collector walks at every full collection (about 0.3 s per
million on these machines, all of it a frozen window). A tuple of strings,
numbers and None is untracked by the collector after its first young
collection, so the model's rows cost full collections nothing; an ``Entry`` is
made again only when a caller asks for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from operator import itemgetter
from typing import Final

from ..engine import Entry

__all__ = ["CONTENT_TYPE", "ETAG", "IS_DIR", "MTIME", "NAME", "PATH", "SIZE", "Row",
           "entry_of", "is_dir_of", "name_of", "row_of"]

Row = tuple[str, str, bool, int | None, float | None, str | None, str | None,
            str]
"""name, path, is_dir, size, mtime, etag, content_type, extra (keys and values in turn,
NUL-separated)."""

NAME: Final = 0
PATH: Final = 1
IS_DIR: Final = 2
SIZE: Final = 3
MTIME: Final = 4
ETAG: Final = 5
CONTENT_TYPE: Final = 6

name_of = itemgetter(NAME)
is_dir_of = itemgetter(IS_DIR)


def row_of(entry: Entry) -> Row:
    # Exactly a tuple (not a subclass), holding only plain values: what the
    # collector untracks. A dict of extras would keep every row tracked.
    return (entry.name, entry.path, entry.is_dir, entry.size, entry.mtime, entry.etag,
            entry.content_type, _flat(entry.extra) if entry.extra else "")


def entry_of(row: Row) -> Entry:
    name, path, is_dir, size, mtime, etag, content_type, extra = row
    items = extra.split(_SEPARATOR) if extra else []
    return Entry(name=name, path=path, is_dir=is_dir, size=size, mtime=mtime, etag=etag,
                 content_type=content_type, extra=dict(zip(items[::2], items[1::2], strict=True)))


_SEPARATOR = "\0"
"""No extra holds a NUL: they are file modes, owners, storage classes, link targets."""


def _flat(extra: Mapping[str, str]) -> str:
    # One string, not a nested tuple: the collector untracks a tuple only once
    # what it holds is untracked, and a nested tuple it reaches after its holder
    # in the same pass kept most rows tracked until a later collection.
    return _SEPARATOR.join(chain.from_iterable(extra.items()))
