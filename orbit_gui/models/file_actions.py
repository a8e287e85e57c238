"""What the browser's file commands do to a backend, for the views to call.

Views never touch a backend: they call these with the pane's model, and show
the OrbitError they may raise as a sentence.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from ..engine import AlreadyExists, Backend, Entry, InvalidPath
from ..engine.paths import check_name
from .listing_model import ListingModel

__all__ = ["delete_entries", "entry_properties", "file_link", "new_folder", "rename_entry"]


def _backend(model: ListingModel) -> Backend:
    backend = model.backend
    if backend is None:
        raise InvalidPath("not connected")
    return backend


async def new_folder(model: ListingModel, name: str) -> str:
    """Create ``name`` in the folder shown; returns its path."""
    folder = model.path
    if folder is None:
        raise InvalidPath("no folder is open")
    backend = _backend(model)
    path = posixpath.join(folder, check_name(name.strip()))
    if await backend.exists(path):
        raise AlreadyExists(f"{path} already exists", path=path)
    await backend.mkdir(path, parents=False)
    return path


async def rename_entry(model: ListingModel, entry: Entry, name: str) -> str:
    """Give ``entry`` the new ``name`` in the same folder; returns the new path."""
    target = posixpath.join(posixpath.dirname(entry.path.rstrip("/")), check_name(name.strip()))
    if target == entry.path:
        return target
    await _backend(model).rename(entry.path, target)
    return target


async def delete_entries(model: ListingModel, entries: Sequence[Entry]) -> None:
    """Delete ``entries``; folders with everything in them."""
    backend = _backend(model)
    for entry in entries:
        await backend.delete(entry.path, recursive=entry.is_dir)


async def entry_properties(model: ListingModel, entry: Entry) -> Entry:
    """``entry`` as the store describes it now (content type, storage class, metadata)."""
    return await _backend(model).stat(entry.path)


async def file_link(model: ListingModel, entry: Entry, expires_in: int) -> str:
    """A link anyone can download ``entry`` with for ``expires_in`` seconds."""
    return await _backend(model).presign(entry.path, expires_in)
