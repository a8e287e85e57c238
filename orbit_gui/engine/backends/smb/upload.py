"""Uploads into a hidden temporary file: positional part writes, then publish by rename.

:class:`SmbPartUpload` is the part API a transfer engine uses to send a large
file as independent parts (out of order, retried, resumed in a later session):
``write_part(offset, data)`` writes at an offset of the temporary file
``<folder>/.orbit-partial-<session id>``; ``commit()`` renames it into place
with SMB2 SET_INFO FileRenameInformation (ReplaceIfExists only when
overwriting, so a name taken meanwhile fails atomically); ``abort()`` removes
it, or keeps it for a resume. The temporary name depends only on the session
id, which the caller keeps to reopen it. ``Backend.write()`` is this same
machinery fed from a reader.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from smbprotocol.file_info import FileInformationClass, FileStandardInformation
from smbprotocol.open import SMB2QueryInfoRequest, SMB2QueryInfoResponse

from ...backend import AsyncReader, read_into
from ...errors import IntegrityError, OrbitError
from ..local import TEMP_PREFIX
from .names import SmbPath
from .ops import (
    basic_info_buffer,
    close_quietly,
    close_step,
    rename_buffer,
    run_steps,
    set_info_step,
)
from .pipeline import WritePipeline
from .session import SmbClient

if TYPE_CHECKING:
    from .backend import SmbBackend

__all__ = ["ProgressCallback", "SmbPartUpload", "dispose", "publish", "temp_name"]

ProgressCallback = Callable[[int], None]
"""Called with the byte count of each write the server confirmed."""


def temp_name(session_id: str) -> str:
    """The hidden name, in the destination's folder, of an upload with ``session_id``."""
    return f"{TEMP_PREFIX}{session_id}"


def _report(progress_cb: ProgressCallback | None, confirmed: Iterable[int]) -> None:
    if progress_cb is not None:
        for count in confirmed:
            progress_cb(count)


class SmbPartUpload:
    """One file being uploaded; create with :meth:`SmbBackend.open_part_upload`."""

    def __init__(self, backend: SmbBackend, target: SmbPath, session_id: str,
                 client: SmbClient, handle: Any, *, size: int | None, overwrite: bool,
                 mtime: float | None) -> None:
        self.backend = backend
        self.target = target
        self.path = target.path
        self.session_id = session_id
        self.temp = target.sibling(temp_name(session_id))
        self.temp_path = self.temp.path
        self.size = size
        """The expected final size when known; commit() checks it."""
        self.overwrite = overwrite
        self.mtime = mtime
        self._client = client
        self._handle: Any = handle
        self._finished = False

    @property
    def closed(self) -> bool:
        return self._finished

    @property
    def handle(self) -> Any:
        """The open smbprotocol handle of the temporary file (server-side copies)."""
        if self._handle is None or self._finished:
            raise OrbitError(f"the upload of {self.path} is already finished", path=self.path)
        return self._handle

    async def write_part(self, offset: int, data: bytes | bytearray | memoryview,
                         progress_cb: ProgressCallback | None = None) -> None:
        """Write ``data`` at ``offset`` of the temporary file, several writes in flight.

        Returns once the server confirmed every byte; ``data`` may be reused then.
        """
        handle = self.handle
        view = memoryview(data).cast("B")
        chunk = self.backend.write_chunk
        pipe = WritePipeline(self._client, handle, depth=self.backend.settings.requests)
        run = self.backend._run
        try:
            with self.backend._mapped(self.path):
                for start in range(0, len(view), chunk):
                    _report(progress_cb, await run(pipe.push, offset + start,
                                                   view[start : start + chunk]))
                _report(progress_cb, await run(pipe.flush))
        except BaseException:
            await asyncio.shield(run(pipe.abandon))
            raise

    async def write_stream(self, reader: AsyncReader, *, offset: int = 0,
                           size_hint: int | None = None,
                           progress_cb: ProgressCallback | None = None) -> int:
        """Write everything ``reader`` yields from ``offset`` on; return the byte count.

        Two buffers take turns: one is filled from the reader while the other is
        being sent (the send returns once its bytes are on the socket), and up to
        ``requests`` writes await the server's confirmation meanwhile.
        """
        handle = self.handle
        # Its own two buffers: the READ chunk bounds them (write_part sends the
        # caller's buffer in writes of up to write_chunk).
        size = min(self.backend.write_chunk, self.backend.settings.chunk_size)
        if size_hint is not None and size_hint < size:
            size = size_hint + 1  # a small file needs no full chunk; +1 sees its end
        buffers = [memoryview(bytearray(size)) for _ in range(2 if size > 1 else 1)]
        pipe = WritePipeline(self._client, handle, depth=self.backend.settings.requests)
        run = self.backend._run
        sending: asyncio.Future[list[int]] | None = None
        written = turn = 0
        mapped = self.backend._mapped
        try:
            while True:
                buffer = buffers[turn % len(buffers)]
                turn += 1
                got = await read_into(reader, buffer)  # the reader's errors stay its own
                if sending is not None:
                    with mapped(self.path):
                        _report(progress_cb, await sending)
                    sending = None
                if got:
                    sending = run(pipe.push, offset + written, buffer[:got])
                    written += got
                if got < len(buffer):
                    break
            with mapped(self.path):
                if sending is not None:
                    _report(progress_cb, await sending)
                    sending = None
                _report(progress_cb, await run(pipe.flush))
        except BaseException:
            if sending is not None:
                sending.add_done_callback(_retrieve)
            await asyncio.shield(run(pipe.abandon))
            raise
        return written

    async def set_size(self, size: int) -> None:
        """Set the end of the temporary file: reserves the space of a large upload up
        front (Samba then writes into it markedly faster than when every write
        extends the file), or cuts it back to what was really written."""
        step = set_info_step(self.handle, FileInformationClass.FILE_END_OF_FILE_INFORMATION,
                             struct.pack("<q", size))
        await self.backend._call(self.temp_path, run_steps, self._client,
                                 self.handle.tree_connect, [step])

    async def current_size(self) -> int:
        """How far the temporary file reaches now (for a resume: what is there)."""
        info = await self.backend._call(self.temp_path, _temp_info, self._client,
                                            self.handle)
        return int(info)

    async def commit(self) -> None:
        """Publish the temporary file under its final name (and close it)."""
        handle = self.handle
        if self.size is not None:
            size = await self.current_size()
            if size != self.size:
                raise IntegrityError(
                    f"{self.path}: {size} bytes arrived where {self.size} were expected",
                    path=self.path,
                )
        self._handle = None  # publishing closes it, whatever happens
        await self.backend._publish(self._client, handle, self.target,
                                    overwrite=self.overwrite, mtime=self.mtime)
        self._finished = True

    async def abort(self, *, discard: bool = True) -> None:
        """Stop: close the temporary file and remove it, or keep it to resume later.

        Never raises for a lost connection (the file then stays on the server
        until a resume or a later cleanup).
        """
        if self._finished:
            return
        self._finished = True
        handle, self._handle = self._handle, None
        await asyncio.shield(self.backend._discard_upload(self._client, handle, self.temp,
                                                          discard=discard))


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark the outcome of a future nobody awaits any more as seen."""
    if not future.cancelled():
        future.exception()


def _temp_info(client: SmbClient, handle: Any) -> int:
    """The end of file of an open handle (FileStandardInformation)."""
    info = FileStandardInformation()
    message = SMB2QueryInfoRequest()
    message["info_type"] = info.INFO_TYPE
    message["file_info_class"] = info.INFO_CLASS
    message["file_id"] = handle.file_id
    message["output_buffer_length"] = len(info)

    def receive(request: Any) -> int:
        response = SMB2QueryInfoResponse()
        response.unpack(client.receive(request)["data"].get_value())
        parsed = response.parse_buffer(FileStandardInformation)
        return int(parsed["end_of_file"].get_value())

    (size,) = run_steps(client, handle.tree_connect, [(message, receive)])
    return int(size)


def publish(client: SmbClient, handle: Any, target_wire: str, *, overwrite: bool,
            mtime: float | None) -> None:
    """Set the time, rename the open temporary file to ``target_wire`` and close it,
    in one compound of independent steps (the close happens even when the rename
    fails)."""
    steps = []
    if mtime is not None:
        steps.append(set_info_step(handle, FileInformationClass.FILE_BASIC_INFORMATION,
                                   basic_info_buffer(mtime)))
    steps.append(set_info_step(handle, FileInformationClass.FILE_RENAME_INFORMATION,
                               rename_buffer(target_wire, overwrite)))
    steps.append(close_step(handle))
    try:
        run_steps(client, handle.tree_connect, steps, related=False)
    finally:
        if handle.connected:
            close_quietly(handle)


def dispose(client: SmbClient, handle: Any) -> None:
    """Delete an open temporary file and close it."""
    steps = [
        set_info_step(handle, FileInformationClass.FILE_DISPOSITION_INFORMATION, b"\x01"),
        close_step(handle),
    ]
    try:
        run_steps(client, handle.tree_connect, steps, related=False)
    finally:
        if handle.connected:
            close_quietly(handle)
