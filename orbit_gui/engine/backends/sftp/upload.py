"""Uploads into a hidden temporary file: positional part writes, then publish by rename.

:class:`SftpPartUpload` is the part API a transfer engine uses to send a large
file as independent parts (out of order, retried, resumed in a later session):
``write_part(offset, data)`` writes at an offset of the temporary file
``<folder>/.orbit-partial-<session id>``; ``commit()`` renames it into place;
``abort()`` closes it and removes it, or keeps it for a resume. The temporary
name depends only on the session id, which the caller keeps to reopen it.
``Backend.write()`` is this same machinery fed from a reader.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast

import asyncssh

from ...backend import AsyncReader, read_into
from ...errors import IntegrityError, OrbitError
from ..local import TEMP_PREFIX
from .flushing import EarlyFlush
from .mapping import is_connection_error, mapped

if TYPE_CHECKING:
    from .backend import SftpBackend

__all__ = ["ProgressCallback", "SftpPartUpload", "temp_name"]

READ_CHUNK = 1024 * 1024
"""write() reads its source in chunks of about this size."""

ProgressCallback = Callable[[int], None]
"""Called with the byte count of each block the server confirmed."""


def temp_name(path: str, session_id: str) -> str:
    """The hidden temporary file an upload of ``path`` with ``session_id`` writes to."""
    return posixpath.join(posixpath.dirname(path), f"{TEMP_PREFIX}{session_id}")


class SftpPartUpload:
    """One file being uploaded; create with :meth:`SftpBackend.open_part_upload`."""

    def __init__(self, backend: SftpBackend, path: str, session_id: str,
                 file: asyncssh.SFTPClientFile, *, size: int | None, overwrite: bool,
                 mtime: float | None) -> None:
        self.backend = backend
        self.path = path
        self.session_id = session_id
        self.temp_path = temp_name(path, session_id)
        self.size = size
        """The expected final size when known; commit() checks it."""
        self.overwrite = overwrite
        self.mtime = mtime
        self._file: asyncssh.SFTPClientFile | None = file
        self._finished = False
        self._early_flush = (EarlyFlush(backend.flush_client, self.temp_path)
                             if backend.settings.fsync else None)

    @property
    def closed(self) -> bool:
        return self._finished

    def _open_file(self) -> asyncssh.SFTPClientFile:
        if self._file is None or self._finished:
            raise OrbitError(f"the upload of {self.path} is already finished", path=self.path)
        return self._file

    async def write_part(self, offset: int, data: bytes | bytearray | memoryview,
                         progress_cb: ProgressCallback | None = None) -> None:
        """Write ``data`` at ``offset`` of the temporary file, several blocks in flight.

        Returns once the server confirmed every block; ``data`` may be reused then.
        """
        file = self._open_file()
        view = memoryview(data)
        block = self.backend.write_block
        where = self.backend.where
        slots = self.backend.write_slots
        early_flush = self._early_flush

        async def one(at: int, chunk: memoryview) -> int:
            async with slots:
                await file.write(cast(bytes, chunk), at)  # any bytes-like object will do
            if early_flush is not None:
                early_flush.wrote(len(chunk))
            return len(chunk)

        if len(view) <= block:
            with mapped(where, self.path):
                await one(offset, view)
            if progress_cb is not None:
                progress_cb(len(view))
            return
        pending: set[asyncio.Task[int]] = set()

        position = 0
        try:
            with mapped(where, self.path):
                while position < len(view) or pending:
                    while position < len(view) and len(pending) < self.backend.requests:
                        chunk = view[position : position + block]
                        pending.add(asyncio.ensure_future(one(offset + position, chunk)))
                        position += len(chunk)
                    done, pending = await asyncio.wait(
                        pending, return_when=asyncio.FIRST_COMPLETED
                    )
                    for count in _results(done):
                        if progress_cb is not None:
                            progress_cb(count)
        finally:
            await _cancel(pending)

    async def write_stream(self, reader: AsyncReader, *, offset: int = 0,
                           size_hint: int | None = None,
                           progress_cb: ProgressCallback | None = None) -> int:
        """Write everything ``reader`` yields from ``offset`` on; return the byte count.

        Reads into a small pool of reused buffers while up to ``requests``
        blocks are being written.
        """
        # Read in chunks of several blocks (about 1 MiB): each reader call may cost a
        # thread hop (local files); write_part() splits a chunk into request blocks.
        per_chunk = max(1, READ_CHUNK // self.backend.write_block)
        block = self.backend.write_block * per_chunk
        depth = max(2, self.backend.requests // per_chunk)
        free: list[memoryview] = []
        running: dict[asyncio.Task[None], memoryview] = {}
        allocated = 0
        written = 0

        async def reap(wait_all: bool) -> None:
            done, _ = await asyncio.wait(
                running, return_when=asyncio.ALL_COMPLETED if wait_all else asyncio.FIRST_COMPLETED
            )
            for task in done:
                free.append(running.pop(task))
            _results(done)

        try:
            while True:
                if free:
                    buffer = free.pop()
                elif allocated < depth:
                    size = block
                    if allocated == 0 and size_hint is not None and size_hint < block:
                        size = size_hint + 1  # a small file needs no full block; +1 sees its end
                    buffer = memoryview(bytearray(size))
                    allocated += 1
                else:
                    await reap(wait_all=False)
                    continue
                got = await read_into(reader, buffer)
                if got:
                    task = asyncio.ensure_future(
                        self.write_part(offset + written, buffer[:got], progress_cb)
                    )
                    running[task] = buffer
                    written += got
                if got < len(buffer):
                    break
            if running:
                await reap(wait_all=True)
        finally:
            await _cancel(set(running))
        return written

    async def copy_from(self, source: asyncssh.SFTPClientFile, offset: int, length: int,
                        dst_offset: int | None = None) -> None:
        """Have the server copy ``length`` bytes of ``source`` from ``offset`` into this file
        (at ``dst_offset``, default the same offset): the copy-data extension."""
        file = self._open_file()
        with mapped(self.backend.where, self.path):
            await self.backend.sftp.remote_copy(
                source, file, src_offset=offset, src_length=length,
                dst_offset=offset if dst_offset is None else dst_offset,
            )

    async def current_size(self) -> int:
        """How far the temporary file reaches now (for a resume: what is there)."""
        file = self._open_file()
        with mapped(self.backend.where, self.path):
            attrs = await file.stat()
        return attrs.size or 0

    async def commit(self) -> None:
        """Close the temporary file and publish it under its final name."""
        file = self._open_file()
        backend = self.backend
        where = backend.where
        with mapped(where, self.path):
            if self._early_flush is not None:
                await self._early_flush.close()
            if backend.settings.fsync:
                with suppress(asyncssh.SFTPOpUnsupported):
                    await file.fsync()
            attrs = await file.stat()
            if self.size is not None and (attrs.size or 0) != self.size:
                raise IntegrityError(
                    f"{self.path}: {attrs.size} bytes arrived where {self.size} were expected",
                    path=self.path,
                )
            if self.mtime is not None:
                await file.utime((self.mtime, self.mtime))
            await file.close()
        self._file = None
        await backend._publish(self.temp_path, self.path, overwrite=self.overwrite)
        self._finished = True

    async def abort(self, *, discard: bool = True) -> None:
        """Stop: close the temporary file and remove it, or keep it to resume later.

        Never raises for a lost connection (the file then stays on the server
        until a resume or a later cleanup).
        """
        if self._finished:
            return
        self._finished = True
        file, self._file = self._file, None
        try:
            if self._early_flush is not None:
                await self._early_flush.close(wait=False)
            if file is not None:
                with suppress(asyncssh.SFTPError):
                    await file.close()
            if discard:
                with suppress(asyncssh.SFTPNoSuchFile):
                    await self.backend.sftp.remove(self.temp_path)
        except Exception as exc:
            if not is_connection_error(exc):
                raise


def _results(done: set[asyncio.Task[Any]]) -> list[Any]:
    """The results of finished tasks; raises the first failure once all were collected."""
    failures = [task.exception() for task in done if task.exception() is not None]
    if failures:
        raise failures[0]  # type: ignore[misc]
    return [task.result() for task in done]


async def _cancel(tasks: set[asyncio.Task[None]] | set[asyncio.Task[int]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)

