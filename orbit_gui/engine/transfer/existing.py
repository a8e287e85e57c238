"""What a folder transfer finds already in its destination: one listing per folder.

Before a file is copied the engine must know whether the destination already
holds one of that name (the conflict policy decides what then). Asked file by
file, that is a request or two per file (S3: a HEAD, then a LIST to tell a
folder from nothing), which dominates a tree of small files. Copying a tree,
one listing of each destination folder answers for every file in it, as rclone
does. A folder with more than ``limit`` entries is not held in memory: its
files are looked up one by one again, and so are those of a folder whose
listing failed (the lookup then reports the failure itself).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections import OrderedDict

from ..backend import Backend
from ..errors import NotFound, OrbitError
from ..paths import basename, parent
from ..types import Entry

__all__ = ["FOLDER_LIMIT", "DestinationIndex", "stat_or_none"]

FOLDER_LIMIT = 10_000
"""Entries of one destination folder held in memory at most."""
_FOLDERS_KEPT = 8
"""Folder listings kept at once (a tree is walked folder after folder)."""

_Listing = dict[str, Entry] | None
"""A folder's entries by key, or None: look its files up one by one."""


async def stat_or_none(backend: Backend, path: str) -> Entry | None:
    """What ``path`` is on ``backend``, or None when nothing is there."""
    try:
        return await backend.stat(path)
    except NotFound:
        return None


class DestinationIndex:
    """Answers "what is at this destination path?" from folder listings."""

    def __init__(self, backend: Backend, *, limit: int = FOLDER_LIMIT) -> None:
        self.backend = backend
        self.limit = limit
        self.listings = 0
        """Folder listings started (for tests and statistics)."""
        self._folders: OrderedDict[str, asyncio.Task[_Listing]] = OrderedDict()
        self._evicted: set[asyncio.Task[_Listing]] = set()
        """Listings dropped from the cache while still running: they finish for the
        files awaiting them (cancelling an S3 request midway gains nothing and
        sends those files to a HEAD and a LIST each)."""

    def _key(self, name: str) -> str:
        features = self.backend.features
        if features.unicode_normalizing:
            name = unicodedata.normalize("NFC", name)
        return name if features.case_sensitive else name.casefold()

    async def existing(self, path: str) -> Entry | None:
        """The entry at ``path`` (file or folder), or None when nothing is there."""
        folder = parent(path)
        task = self._folders.get(folder)
        if task is None:
            task = asyncio.ensure_future(self._list(folder))
            self.listings += 1
            self._folders[folder] = task
            while len(self._folders) > _FOLDERS_KEPT:
                _, oldest = self._folders.popitem(last=False)
                if not oldest.done():
                    self._evicted.add(oldest)
                    oldest.add_done_callback(self._evicted.discard)
        else:
            self._folders.move_to_end(folder)
        try:
            listing = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # our caller was cancelled
            listing = None  # the index closed while we waited
        if listing is None:
            return await stat_or_none(self.backend, path)
        return listing.get(self._key(basename(path)))

    async def _list(self, folder: str) -> _Listing:
        entries: dict[str, Entry] = {}
        listing = self.backend.list(folder)
        try:
            async for entry in listing:
                if len(entries) >= self.limit:
                    return None
                key = self._key(entry.name)
                if key in entries and not entries[key].is_dir:
                    continue  # S3: an object and a prefix of one name; stat() sees the object
                entries[key] = entry
        except NotFound:
            return {}  # the folder does not exist yet: nothing is in the way
        except OrbitError:
            return None
        finally:
            aclose = getattr(listing, "aclose", None)
            if aclose is not None:
                await aclose()
        return entries

    async def aclose(self) -> None:
        """Stop listings still running."""
        tasks = [*self._folders.values(), *self._evicted]
        self._folders.clear()
        self._evicted.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
