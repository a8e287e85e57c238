"""Helpers for the transfer engine tests: a steerable pass-through backend and file trees.

:class:`Steered` wraps a real backend and passes every call through; a test can
hold a read or a listing page at a gate (an asyncio.Event it controls), make
chosen reads fail, inject extra (hostile) listing entries, and count what was
read. Nothing here sleeps or measures time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from orbit_gui.engine import (
    AsyncReader,
    Backend,
    Entry,
    IntegrityError,
    ListOptions,
    NotFound,
    WriteOptions,
)
from orbit_gui.engine.backends.local import TEMP_PREFIX
from tests.contract.streams import pattern_bytes

__all__ = ["LocalPartUpload", "PartStore", "Steered", "make_tree", "sha256_file", "tree_digest",
           "write_pattern"]


class Steered(Backend):
    def __init__(self, inner: Backend) -> None:
        super().__init__()
        self.inner = inner
        self.scheme = inner.scheme  # type: ignore[misc]
        self.features = inner.features
        self.reads: list[tuple[str, int, int | None]] = []
        self.writes: list[str] = []
        self.before_read: Callable[[str, int, int | None], Awaitable[None]] | None = None
        self.fail_read: Callable[[str, int, int], Exception | None] | None = None
        """Called after each chunk with (path, offset, bytes so far); an error to raise."""
        self.extra_entries: list[Entry] = []
        self.after_first_entry: asyncio.Event | None = None
        """If set, the listing waits for it after yielding its first file entry."""

    @property
    def display_name(self) -> str:
        return self.inner.display_name

    async def stat(self, path: str) -> Entry:
        return await self.inner.stat(path)

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        first = True
        for entry in self.extra_entries:
            yield entry
        async for entry in self.inner.list(path, options):
            yield entry
            if first and not entry.is_dir and self.after_first_entry is not None:
                first = False
                await self.after_first_entry.wait()

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        self.reads.append((path, offset, length))
        if self.before_read is not None:
            await self.before_read(path, offset, length)
        sent = 0
        async for chunk in self.inner.read(path, offset, length, if_match=if_match):
            yield chunk
            sent += len(chunk)
            if self.fail_read is not None:
                error = self.fail_read(path, offset, sent)
                if error is not None:
                    raise error

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        self.writes.append(path)
        return await self.inner.write(path, reader, size_hint, options)

    async def mkdir(self, path: str, parents: bool = True) -> None:
        await self.inner.mkdir(path, parents)

    async def delete(self, path: str, recursive: bool = False) -> None:
        await self.inner.delete(path, recursive)

    async def rename(self, src: str, dst: str) -> None:
        await self.inner.rename(src, dst)


def make_tree(root: Path, *, small: int, large: tuple[int, ...] = (), fanout: int = 10) -> None:
    """``small`` files of a few hundred bytes in ``fanout`` folders, plus large ones."""
    for index in range(small):
        folder = root / f"d{index % fanout:02}" / f"s{(index // fanout) % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        data = hashlib.sha256(str(index).encode()).digest() * (1 + index % 13)
        (folder / f"f{index:05}.bin").write_bytes(data)
    for index, size in enumerate(large):
        folder = root / "large"
        folder.mkdir(parents=True, exist_ok=True)
        write_pattern(folder / f"big{index}.bin", size, seed=index)


def write_pattern(path: Path, size: int, *, seed: int = 0) -> None:
    block = pattern_bytes(1024 * 1024)
    salt = seed.to_bytes(4, "big")
    with open(path, "wb") as out:
        left = size
        while left:
            piece = (salt + block)[: min(left, len(block))]
            out.write(piece)
            left -= len(piece)


def sha256_file(path: Path | str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``root`` (hidden partials included)."""
    result: dict[str, str] = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            result[str(path.relative_to(root))] = sha256_file(path)
    return result


class PartStore(Steered):
    """A real local folder presented as a remote store with a positional part API
    (like SFTP and SMB): parts are written at offsets into a hidden partial file,
    committed by rename. ``fail_part(offset, attempt)`` may return an error to raise."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.scheme = "partstore"  # type: ignore[misc]
        self.features = dataclasses.replace(inner.features, part_write=True)
        self.part_writes: list[int] = []
        self.fail_part: Callable[[int], Exception | None] | None = None
        self.before_part: Callable[[int], Awaitable[None]] | None = None
        self.opened: list[str] = []

    async def open_part_upload(self, path: str, size: int | None = None, *,
                               session_id: str | None = None, resume: bool = False,
                               options: WriteOptions = WriteOptions()) -> LocalPartUpload:
        if resume and not session_id:
            raise ValueError("resume needs a session id")
        session_id = session_id or secrets.token_hex(8)
        temp = os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}{session_id}")
        fd = _open_partial(path, temp, resume)
        self.opened.append(session_id)
        return LocalPartUpload(self, path, session_id, temp, fd, size)


def _open_partial(path: str, temp: str, resume: bool) -> int:
    if resume and not os.path.exists(temp):
        raise NotFound(f"the partial upload of {path} is gone", path=path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return os.open(temp, os.O_RDWR | os.O_CREAT | (0 if resume else os.O_TRUNC), 0o644)


class LocalPartUpload:
    def __init__(self, store: PartStore, path: str, session_id: str, temp: str, fd: int,
                 size: int | None) -> None:
        self.store = store
        self.path = path
        self.session_id = session_id
        self.temp_path = temp
        self._fd: int | None = fd
        self.size = size

    async def write_part(self, offset: int, data: bytes | bytearray | memoryview,
                         progress_cb: Callable[[int], None] | None = None) -> None:
        self.store.part_writes.append(offset)
        if self.store.before_part is not None:
            await self.store.before_part(offset)
        if self.store.fail_part is not None:
            error = self.store.fail_part(offset)
            if error is not None:
                raise error
        assert self._fd is not None
        view = memoryview(data)
        step = 256 * 1024
        for start in range(0, len(view), step):
            piece = view[start : start + step]
            await asyncio.to_thread(os.pwrite, self._fd, piece, offset + start)
            if progress_cb is not None:
                progress_cb(len(piece))

    async def commit(self) -> None:
        assert self._fd is not None
        actual = os.fstat(self._fd).st_size
        os.close(self._fd)
        self._fd = None
        if self.size is not None and actual != self.size:
            raise IntegrityError(f"{self.path}: {actual} bytes, expected {self.size}")
        os.replace(self.temp_path, self.path)

    async def abort(self, *, discard: bool = True) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if discard:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp_path)
