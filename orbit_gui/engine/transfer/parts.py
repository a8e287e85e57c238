"""Large uploads as independent parts: the session protocol and the part driver.

Backends offer one of two part APIs, found through ``features.part_write`` and
structural protocols (never the backend's class):

- positional (SFTP, SMB): ``open_part_upload(path, size, session_id=, resume=,
  options=)`` returns an upload with ``write_part(offset, data, progress_cb)``,
  ``commit()`` and ``abort(discard=)``; the parts done are what the journal
  recorded;
- numbered multipart (S3): see :mod:`.multipart`, which adapts it; the parts
  done come from the store (ListParts).

:func:`open_session` hides the difference behind :class:`PartSession`;
:class:`PartUploader` sends the missing parts of a file, ``window`` at a time,
each from its own reused buffer, each retried on its own under the engine's
RetryPolicy, reporting every part's progress and recording every confirmed
part before it counts as done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..backend import Backend, LocalFileReader, read_into
from ..errors import IntegrityError
from ..retry import RetryPolicy
from ..types import WriteOptions
from .bandwidth import BandwidthLimiter
from .progress import PartProgress, PartState
from .request import is_local

__all__ = [
    "ConfirmedPart",
    "PartSession",
    "PartUploader",
    "PositionalPartWriter",
    "PositionalUpload",
    "ProgressCallback",
    "open_session",
    "part_ranges",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the byte count of each block the server confirmed (increments)."""

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConfirmedPart:
    index: int
    """0-based part number (S3 part number - 1)."""
    offset: int
    length: int
    etag: str | None = None


class PositionalUpload(Protocol):
    session_id: str
    temp_path: str

    async def write_part(self, offset: int, data: bytes | bytearray | memoryview,
                         progress_cb: ProgressCallback | None = None) -> None: ...

    async def commit(self) -> None: ...

    async def abort(self, *, discard: bool = True) -> None: ...


@runtime_checkable
class PositionalPartWriter(Protocol):
    async def open_part_upload(self, path: str, size: int | None = None, *,
                               session_id: str | None = None, resume: bool = False,
                               options: WriteOptions = WriteOptions()) -> PositionalUpload: ...


class PartSession(Protocol):
    """One file being uploaded in parts, whatever the backend's flavour."""

    @property
    def token(self) -> str:
        """Journal this to resume: the S3 upload id or the positional session id."""
        ...

    @property
    def min_part_size(self) -> int: ...

    @property
    def part_size(self) -> int | None:
        """The part size the store settled on (None: the caller's)."""
        ...

    def confirmed(self) -> Mapping[int, ConfirmedPart]:
        """Parts the store already holds (after a resume); empty for a new session."""
        ...

    async def send(self, part: ConfirmedPart, data: memoryview,
                   progress: ProgressCallback) -> str | None:
        """Store one part; return its ETag where the store gives one."""
        ...

    async def complete(self, parts: Mapping[int, ConfirmedPart]) -> None:
        """Assemble the parts into the final file (all of them, in order)."""
        ...

    async def abort(self, *, keep: bool = False) -> None:
        """Give up; ``keep=True`` leaves the upload resumable, else nothing remains."""
        ...


class _PositionalSession:
    def __init__(self, upload: PositionalUpload,
                 recorded: Mapping[int, ConfirmedPart]) -> None:
        self.upload = upload
        self._recorded = dict(recorded)

    @property
    def token(self) -> str:
        return self.upload.session_id

    @property
    def min_part_size(self) -> int:
        return 1

    @property
    def part_size(self) -> int | None:
        return None

    def confirmed(self) -> Mapping[int, ConfirmedPart]:
        return self._recorded

    async def send(self, part: ConfirmedPart, data: memoryview,
                   progress: ProgressCallback) -> str | None:
        await self.upload.write_part(part.offset, data, progress)
        return None

    async def complete(self, parts: Mapping[int, ConfirmedPart]) -> None:
        await self.upload.commit()

    async def abort(self, *, keep: bool = False) -> None:
        await self.upload.abort(discard=not keep)


async def open_session(backend: Backend, path: str, size: int, *, part_size: int,
                       options: WriteOptions, resume_token: str | None = None,
                       recorded: Mapping[int, ConfirmedPart] | None = None) -> PartSession | None:
    """A part session for ``path`` on ``backend``, or None if it has no part API.

    With ``resume_token`` the earlier session is reopened (NotFound if it is gone:
    the caller then starts a new one); ``recorded`` are the parts the journal saw
    confirmed (positional uploads trust them; multipart asks the store).
    """
    if not backend.features.part_write:
        return None
    from .multipart import MultipartWriter, open_multipart

    if isinstance(backend, MultipartWriter):
        return await open_multipart(backend, path, size, part_size=part_size, options=options,
                                    upload_id=resume_token)
    if isinstance(backend, PositionalPartWriter):
        if resume_token is not None:
            upload = await backend.open_part_upload(path, size, session_id=resume_token,
                                                    resume=True, options=options)
            return _PositionalSession(upload, recorded or {})
        upload = await backend.open_part_upload(path, size, options=options)
        return _PositionalSession(upload, {})
    return None


def part_ranges(size: int, part_size: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of each part; one empty part for an empty file."""
    if size == 0:
        return [(0, 0)]
    return [(offset, min(part_size, size - offset)) for offset in range(0, size, part_size)]


class PartUploader:
    """Send the missing parts of one file through ``session``; call :meth:`run` once.

    ``on_progress(part)`` gets a fresh :class:`PartProgress` whenever a part moves;
    ``on_confirmed(part)`` is awaited for each part the store confirmed, before the
    part counts as done (the journal records it there).
    """

    def __init__(self, session: PartSession, source: Backend, source_path: str, size: int, *,
                 part_size: int, window: int, retry: RetryPolicy,
                 limiter: BandwidthLimiter | None = None, if_match: str | None = None,
                 file: str = "",
                 on_progress: Callable[[PartProgress], None] | None = None,
                 on_confirmed: Callable[[ConfirmedPart], Awaitable[None]] | None = None,
                 on_retry: Callable[[int, BaseException], None] | None = None) -> None:
        self.session = session
        self.source = source
        self.source_path = source_path
        self.size = size
        self.part_size = part_size
        self.window = window
        self.retry = retry
        self.limiter = limiter
        self.if_match = if_match
        self.file = file
        self._on_progress = on_progress
        self._on_confirmed = on_confirmed
        self._on_retry = on_retry
        ranges = part_ranges(size, part_size)
        self.done: dict[int, ConfirmedPart] = {}
        for index, part in session.confirmed().items():
            if index < len(ranges) and ranges[index] == (part.offset, part.length):
                self.done[index] = part
        self.parts: list[PartProgress] = [
            PartProgress(index, offset, length, length if index in self.done else 0,
                         PartState.DONE if index in self.done else PartState.PENDING, file=file)
            for index, (offset, length) in enumerate(ranges)]
        self.sent = 0
        """Bytes sent in this session (retries included)."""

    @property
    def bytes_done(self) -> int:
        return sum(part.bytes_done for part in self.parts)

    @property
    def resumed_bytes(self) -> int:
        return sum(part.length for part in self.done.values())

    def _set(self, part: PartProgress) -> None:
        self.parts[part.index] = part
        if self._on_progress is not None:
            self._on_progress(part)

    async def run(self) -> None:
        pending = iter([p.index for p in self.parts if p.index not in self.done])
        workers = [asyncio.create_task(self._worker(pending))
                   for _ in range(min(self.window, len(self.parts) - len(self.done)))]
        try:
            if workers:
                await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in workers:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def complete(self) -> None:
        if len(self.done) != len(self.parts):
            raise IntegrityError(f"{self.source_path}: {len(self.parts) - len(self.done)} parts "
                                 "are missing; the upload cannot be completed")
        await self.session.complete(self.done)

    async def _worker(self, pending: Iterator[int]) -> None:
        buffer: memoryview | None = None
        while (index := next(pending, None)) is not None:
            part = self.parts[index]
            if buffer is None:
                buffer = memoryview(bytearray(min(self.part_size, max(self.size, 1))))
            await self._upload(part, buffer)

    async def _read(self, part: PartProgress, buffer: memoryview,
                    on_read: Callable[[int], None]) -> memoryview:
        """Fill ``buffer`` with the part; under a bandwidth limit ``on_read`` hears the
        bytes read so far (the limit paces the reading, so that is where they move)."""
        view = buffer[: part.length]
        filled = 0
        if is_local(self.source):
            reader = LocalFileReader(self.source_path, offset=part.offset)
            try:
                while filled < part.length:
                    step = min(READ_CHUNK, part.length - filled)
                    if self.limiter is not None:
                        await self.limiter.consume(step)
                    got = await read_into(reader, view[filled : filled + step])
                    if not got:
                        break
                    filled += got
                    if self.limiter is not None:
                        on_read(filled)
            finally:
                await reader.aclose()
        else:
            chunks = self.source.read(self.source_path, part.offset, part.length,
                                      if_match=self.if_match)
            try:
                async for chunk in chunks:
                    if self.limiter is not None:
                        await self.limiter.consume(len(chunk))
                    end = filled + len(chunk)
                    if end > part.length:
                        raise IntegrityError(f"{self.source_path}: the source sent more than "
                                             "asked for", path=self.source_path)
                    view[filled:end] = chunk
                    filled = end
                    if self.limiter is not None:
                        on_read(filled)
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
        if filled != part.length:
            raise IntegrityError(
                f"{self.source_path}: the source ended after {part.offset + filled} bytes "
                f"where {self.size} were expected (did it change?)", path=self.source_path)
        return view

    async def _upload(self, part: PartProgress, buffer: memoryview) -> None:
        attempt = 1
        data: memoryview | None = None
        while True:
            sent = 0
            # What the part's row shows: bytes sent, or read while a limit paces the
            # reading (else a limited part sits at 0 B, then is sent all at once).
            shown = 0
            self._set(PartProgress(part.index, part.offset, part.length, 0,
                                   PartState.IN_FLIGHT, attempt, file=self.file))

            def show(done: int, attempt: int = attempt) -> None:
                nonlocal shown
                if done > shown:
                    shown = done
                    self._set(PartProgress(part.index, part.offset, part.length, shown,
                                           PartState.IN_FLIGHT, attempt, file=self.file))

            def progress(count: int) -> None:
                nonlocal sent
                sent = min(part.length, sent + count)
                self.sent += count
                show(sent)

            try:
                if data is None:
                    data = await self._read(part, buffer, show)
                confirmed = ConfirmedPart(part.index, part.offset, part.length)
                etag = await self.session.send(confirmed, data, progress)
            except Exception as exc:
                if not self.retry.should_retry(exc, attempt):
                    self._set(PartProgress(part.index, part.offset, part.length, sent,
                                           PartState.FAILED, attempt, file=self.file))
                    raise
                log.info("%s: part %d failed on attempt %d, retrying: %s",
                         self.source_path, part.index + 1, attempt, exc)
                self._set(PartProgress(part.index, part.offset, part.length, 0,
                                       PartState.RETRYING, attempt + 1, file=self.file))
                if self._on_retry is not None:
                    self._on_retry(attempt + 1, exc)
                await self.retry.wait(attempt)
                attempt += 1
                continue
            break
        done = ConfirmedPart(part.index, part.offset, part.length, etag)
        if self._on_confirmed is not None:
            await self._on_confirmed(done)
        self.done[part.index] = done
        self._set(PartProgress(part.index, part.offset, part.length, part.length,
                               PartState.DONE, attempt, file=self.file))
