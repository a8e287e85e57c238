"""Sliding-window download: many ranges of one file in flight, refilled as each ends.

The file is cut into ranges of ``slot_size`` bytes. ``window`` slots each take
the next missing range, stream it from the backend (``read(..., if_match=etag)``
so a file that changes meanwhile is never spliced) and write it at its offset
into a :class:`~.sink.RangeSink`, chunk by chunk. The moment a slot finishes a
range it takes the next one, so one slow range never stalls the others
(``batched=True`` instead waits for a whole batch of ``window`` ranges before
starting the next: the stop-and-wait strategy, kept for comparison).

Memory stays bounded whatever the file size: per slot, the pieces the backend
handed over are kept (by reference, never copied) until about ``write_buffer``
bytes are gathered, then written with one positional ``pwritev`` in a worker
thread while the next batch gathers: at most two batches per slot. A range that
fails with a retriable error is retried under the :class:`~..retry.RetryPolicy`,
from the byte where it stopped; any other error cancels the other slots and fails
the download, the partial file kept for a resume (see
:class:`~.window_state.WindowState`).
Works for any backend with ``features.ranged_read``; others get one range.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from ..backend import Backend
from ..errors import IntegrityError, IsADirectory, OrbitError, SourceChanged, Unsupported
from ..retry import RetryPolicy
from ..types import Entry
from .sink import DigestSink, Hasher, LocalFileSink, RangeSink
from .window_state import WindowState

__all__ = [
    "DEFAULT_SLOT_SIZE",
    "DEFAULT_WINDOW",
    "DEFAULT_WRITE_BUFFER",
    "CheckpointCallback",
    "EventCallback",
    "RangeState",
    "SlotEvent",
    "WindowDownload",
    "WindowOptions",
    "WindowResult",
    "check_source",
    "download_to_file",
    "plain_md5",
    "slot_size_for",
]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_SLOT_SIZE = 8 * MiB
"""The smallest range :func:`slot_size_for` picks (and S3's usual part size)."""
MAX_AUTO_SLOT_SIZE = 64 * MiB
DEFAULT_WINDOW = 4
DEFAULT_WRITE_BUFFER = 1 * MiB
"""Pieces are gathered up to this before one positional write. Measured on 256 MiB
from ``rclone serve s3``: 1 MiB beat 512 KiB (more thread hand-offs) and 2-4 MiB
(the pieces are no longer in the CPU cache when they are written)."""
DEFAULT_RETRY = RetryPolicy()


class RangeState(enum.StrEnum):
    PENDING = "pending"
    """Waiting out a backoff before its next attempt (``SlotEvent.error`` says why)."""
    IN_FLIGHT = "in-flight"
    DONE = "done"
    FAILED = "failed"
    """Given up: the download fails with ``SlotEvent.error``."""


@dataclass(frozen=True, slots=True)
class SlotEvent:
    """What one slot is doing; sent when it starts a range, after each write, at the end."""

    slot: int
    """Which of the ``window`` slots (0-based)."""
    index: int
    """The range number; its bytes are ``[offset, offset + length)``."""
    offset: int
    length: int
    done: int
    """Bytes of this range written so far."""
    state: RangeState
    attempt: int
    """1 for the first try of this range in this session."""
    total_done: int
    """Bytes of the whole file in place, resumed ones included."""
    total_size: int
    error: BaseException | None = None


EventCallback = Callable[[SlotEvent], None]
CheckpointCallback = Callable[[WindowState], None]


@dataclass(frozen=True, slots=True)
class WindowOptions:
    window: int = DEFAULT_WINDOW
    """Ranges in flight at once."""
    slot_size: int | None = None
    """Bytes per range (a resumed download keeps its checkpoint's); None picks
    :func:`slot_size_for` the file's size."""
    batched: bool = False
    """Stop-and-wait: start the next ``window`` ranges only once all of a batch are done."""
    retry: RetryPolicy = DEFAULT_RETRY
    verify_md5: bool = True
    """Hash the finished file and compare when the source ETag is a plain MD5."""
    write_buffer: int = DEFAULT_WRITE_BUFFER
    """Small chunks are gathered up to this size before a write (one per slot)."""

    def __post_init__(self) -> None:
        if self.window < 1 or (self.slot_size is not None and self.slot_size < 1) \
                or self.write_buffer < 1:
            raise ValueError("window, slot_size and write_buffer must be positive")


@dataclass(frozen=True, slots=True)
class WindowResult:
    entry: Entry
    """The source as it was stat'ed at the start."""
    fetched: int
    """Bytes read from the backend in this session (retries included)."""
    ranges: int
    """Ranges completed in this session."""
    verified_md5: bool


def slot_size_for(size: int, window: int = DEFAULT_WINDOW) -> int:
    """The range size for a file of ``size`` bytes when none is asked for: about two
    ranges per slot, in whole MiB, between DEFAULT_SLOT_SIZE and MAX_AUTO_SLOT_SIZE.

    Every range is one request, and a ranged GET through botocore costs the client
    a few milliseconds of CPU; on 256 MiB from ``rclone serve s3`` 32 MiB ranges
    took 20% less client CPU than 8 MiB ones and were faster. Two ranges per slot
    (not one) keep the window full when one range is slower than the others.
    """
    want = -(-max(0, size) // (2 * max(1, window)))
    want = -(-want // MiB) * MiB
    return max(DEFAULT_SLOT_SIZE, min(MAX_AUTO_SLOT_SIZE, want))


_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_NOT_CONTENT_MD5 = {"aws:kms", "aws:kms:dsse"}


def plain_md5(entry: Entry) -> str | None:
    """The MD5 of the content when the entry's ETag is one, else None.

    An S3 ETag is the content MD5 only for single-part uploads stored without
    SSE-KMS or SSE-C; multipart ETags end in ``-N``.
    """
    etag = (entry.etag or "").strip('"')
    if not _MD5.fullmatch(etag):
        return None
    extra = {key.lower().replace("-", "_"): value.lower() for key, value in entry.extra.items()}
    if extra.get("sse") in _NOT_CONTENT_MD5 or extra.get("server_side_encryption") in (
            _NOT_CONTENT_MD5) or "sse_customer_algorithm" in extra:
        return None
    return etag.lower()


class _Digest(Hasher, Protocol):
    def hexdigest(self) -> str: ...


@asynccontextmanager
async def _closing(chunks: AsyncIterator[bytes]) -> AsyncIterator[None]:
    """Close a backend's read stream however the block ends (frees its connection)."""
    try:
        yield
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class _Scheduler:
    """Hands out range numbers to slots: as soon as asked, or batch by batch."""

    def __init__(self, pending: Iterator[int], window: int, batched: bool) -> None:
        self._pending = pending
        self._window = window
        self._batched = batched
        self._batch_left = 0
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def take(self) -> int | None:
        while self._batched and self._batch_left == 0:
            if self._in_flight:
                await self._idle.wait()
                continue
            self._batch_left = self._window
        index = next(self._pending, None)
        if index is None:
            return None
        if self._batched:
            self._batch_left -= 1
        self._in_flight += 1
        self._idle.clear()
        return index

    def release(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._idle.set()


def _bare(etag: str | None) -> str | None:
    """An ETag without the quotes some layers keep and others strip."""
    return None if etag is None else etag.strip('"')


def check_source(entry: Entry) -> int:
    """The size of a file that can be downloaded in ranges; raise if it cannot."""
    if entry.is_dir:
        raise IsADirectory(f"{entry.path} is a folder, not a file", path=entry.path)
    if entry.size is None:
        raise Unsupported(f"{entry.path}: the size is unknown, it cannot be fetched in ranges",
                          path=entry.path)
    return entry.size


class WindowDownload:
    """One download of ``path`` from ``backend`` into ``sink``; call :meth:`run` once.

    ``state``: a checkpoint of an earlier session to continue (its ETag must still
    match). ``entry``: the source's stat if the caller already has it (saves a
    request). ``on_event``: per-slot progress. ``on_checkpoint``: called with a
    fresh checkpoint after each range completes and once when the download fails.
    ``keep_partial``: False removes the partial data on failure.
    """

    def __init__(self, backend: Backend, path: str, sink: RangeSink, *,
                 options: WindowOptions = WindowOptions(), state: WindowState | None = None,
                 entry: Entry | None = None, on_event: EventCallback | None = None,
                 on_checkpoint: CheckpointCallback | None = None, keep_partial: bool = True,
                 partial_path: str | None = None) -> None:
        self.backend = backend
        self.path = path
        self.sink = sink
        self.options = options
        self._resume = state
        self._entry = entry
        self._on_event = on_event
        self._on_checkpoint = on_checkpoint
        self._keep_partial = keep_partial
        self._partial_path = partial_path if partial_path is not None else (
            state.partial_path if state is not None else None)
        self._state: WindowState | None = None
        self._total_done = 0
        self._fetched = 0
        self._ranges = 0
        self._advanced = asyncio.Event()
        self._advanced.set()  # the digest follower looks at what is already there first
        self._worthless = False
        self._started = False
        self._write_chunks = getattr(sink, "write_chunks_at", None)
        self._digest: _Digest | None = None
        self._hashed = 0
        """Bytes from the start fed into ``_digest`` so far."""
        self._hashing = asyncio.Lock()
        """Held while ``_digest`` is fed, from memory or from the file: one feeder at a time."""

    def checkpoint(self) -> WindowState | None:
        """A copy of the progress so far (None before the source was stat'ed)."""
        return None if self._state is None else self._state.copy()

    async def run(self) -> WindowResult:
        if self._started:
            raise RuntimeError("a WindowDownload runs only once")
        self._started = True
        verified = False
        try:
            entry = self._entry if self._entry is not None else await self.backend.stat(self.path)
            try:
                state = self._state = self._initial_state(entry)
            except OrbitError:
                self._worthless = True  # not this file any more, or not a file at all
                raise
            self._total_done = state.bytes_done()
            expected_md5 = plain_md5(entry) if self.options.verify_md5 else None
            hashing = expected_md5 is not None and isinstance(self.sink, DigestSink)
            digest = self._digest = hashlib.md5(usedforsecurity=False) if hashing else None
            await self._transfer(state, entry, digest)
            if digest is not None:
                if digest.hexdigest() != expected_md5:
                    self._worthless = True
                    raise IntegrityError(
                        f"{self.path}: the downloaded file's MD5 {digest.hexdigest()} differs "
                        f"from the source's {expected_md5}; it was not saved", path=self.path)
                verified = True
            await self.sink.finish()
        except BaseException as exc:
            # A changed source or a corrupt whole makes the partial data worthless.
            discard = (not self._keep_partial or isinstance(exc, SourceChanged)
                       or self._worthless)
            await self.sink.abort(discard=discard)
            if self._state is not None and self._on_checkpoint is not None and not discard:
                self._on_checkpoint(self._state.copy())
            raise
        return WindowResult(entry, self._fetched, self._ranges, verified)

    def _initial_state(self, entry: Entry) -> WindowState:
        size = check_source(entry)
        etag = entry.etag
        resume = self._resume
        if resume is None:
            slot = self.options.slot_size or slot_size_for(size, self.options.window)
            if not self.backend.features.ranged_read:
                slot = max(1, size)  # one range: nothing to gain from more
            return WindowState(self.path, size, slot, etag=etag, mtime=entry.mtime,
                               partial_path=self._partial_path)
        if resume.path != self.path:
            raise ValueError(f"the checkpoint is for {resume.path}, not {self.path}")
        same = resume.size == size and (
            _bare(resume.etag) == _bare(etag) if etag is not None or resume.etag is not None
            else resume.mtime == entry.mtime)
        if not same:
            raise SourceChanged(
                f"{self.path} changed since the download began; it must start over",
                path=self.path)
        state = resume.copy()
        state.partial_path = self._partial_path
        return state

    async def _transfer(self, state: WindowState, entry: Entry,
                        digest: _Digest | None) -> None:
        scheduler = _Scheduler(state.missing(), self.options.window, self.options.batched)
        slots = min(self.options.window, state.range_count - sum(b - a for a, b in state.done))
        tasks = [asyncio.create_task(self._slot(slot, scheduler, state, entry.etag))
                 for slot in range(slots)]
        if digest is not None:
            tasks.append(asyncio.create_task(self._follow_digest(state, digest)))
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks:
                error = task.exception() if task.done() and not task.cancelled() else None
                if error is not None:
                    raise error
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _slot(self, slot: int, scheduler: _Scheduler, state: WindowState,
                    etag: str | None) -> None:
        while (index := await scheduler.take()) is not None:
            try:
                await self._fetch_range(slot, index, state, etag)
            finally:
                scheduler.release()

    async def _store(self, at: int, batch: list[bytes]) -> None:
        """Write the pieces of ``batch`` back to back from ``at``, in one call if the sink
        takes a list (no copy into a bigger buffer), else joined.

        A batch that starts where the digest has got to is hashed from memory as it is
        written (a file of one range is never read back); the digest follower hashes
        from the file whatever arrived out of order.
        """
        write_chunks = self._write_chunks
        if write_chunks is None:
            await self.sink.write_at(at, batch[0] if len(batch) == 1 else b"".join(batch))
            return
        if self._digest is not None and at == self._hashed:
            async with self._hashing:
                if at == self._hashed:
                    await write_chunks(at, batch, self._digest)
                    self._hashed = at + sum(len(chunk) for chunk in batch)
                    return
        await write_chunks(at, batch)

    async def _fetch_range(self, slot: int, index: int, state: WindowState,
                           etag: str | None) -> None:
        offset, length = state.range_at(index)
        written = state.partial.get(index, 0)
        attempt = 1
        capacity = self.options.write_buffer
        while True:
            self._emit(slot, index, offset, length, written, RangeState.IN_FLIGHT, attempt)
            # Pieces are gathered (by reference) into a batch of about ``capacity``
            # bytes; while one batch is written in a worker thread the next one fills.
            # ``written`` counts only bytes whose write has finished.
            batch: list[bytes] = []
            queued = 0
            pending: asyncio.Task[None] | None = None
            pending_bytes = 0
            try:
                chunks = self.backend.read(self.path, offset + written, length - written,
                                           if_match=etag)
                try:
                    async with _closing(chunks):
                        async for chunk in chunks:
                            size = len(chunk)
                            self._fetched += size
                            if written + pending_bytes + queued + size > length:
                                raise IntegrityError(
                                    f"{self.path}: the server sent more than the {length} "
                                    f"bytes asked for at offset {offset}", path=self.path)
                            batch.append(chunk)
                            queued += size
                            if queued < capacity:
                                continue
                            if pending is not None:
                                await pending
                                pending = None
                                written = self._wrote(slot, index, state, written,
                                                      pending_bytes, attempt)
                            pending = asyncio.ensure_future(
                                self._store(offset + written, batch))
                            pending_bytes, batch, queued = queued, [], 0
                finally:
                    if pending is not None:  # a failed read still keeps what was written
                        try:
                            await pending
                        except BaseException:
                            pending.cancel()
                            raise
                        written = self._wrote(slot, index, state, written, pending_bytes,
                                              attempt)
                if batch:
                    await self._store(offset + written, batch)
                    written = self._wrote(slot, index, state, written, queued, attempt)
                    batch = []
                if written != length:
                    raise IntegrityError(
                        f"{self.path}: the range at offset {offset} ended after {written} of "
                        f"{length} bytes", path=self.path)
            except Exception as exc:
                if not self.options.retry.should_retry(exc, attempt):
                    self._emit(slot, index, offset, length, written, RangeState.FAILED, attempt,
                               exc)
                    raise
                log.info("%s: range %d (offset %d) failed on attempt %d, retrying: %s",
                         self.path, index, offset, attempt, exc)
                self._emit(slot, index, offset, length, written, RangeState.PENDING, attempt + 1,
                           exc)
                await self.options.retry.wait(attempt)
                attempt += 1
                continue
            break
        state.mark_done(index)
        self._ranges += 1
        self._advanced.set()
        self._emit(slot, index, offset, length, written, RangeState.DONE, attempt)
        if self._on_checkpoint is not None:
            self._on_checkpoint(state.copy())

    def _wrote(self, slot: int, index: int, state: WindowState, written: int, count: int,
               attempt: int) -> int:
        written += count
        self._total_done += count
        offset, length = state.range_at(index)
        if written < length:
            state.partial[index] = written
        self._advanced.set()
        self._emit(slot, index, offset, length, written, RangeState.IN_FLIGHT, attempt)
        return written

    def _emit(self, slot: int, index: int, offset: int, length: int, done: int,
              state: RangeState, attempt: int, error: BaseException | None = None) -> None:
        if self._on_event is not None:
            assert self._state is not None
            self._on_event(SlotEvent(slot, index, offset, length, done, state, attempt,
                                     self._total_done, self._state.size, error))

    async def _follow_digest(self, state: WindowState, digest: _Digest) -> None:
        """Hash the file in order, following the completely written prefix (what
        :meth:`_store` has not hashed from memory already)."""
        sink = self.sink
        assert isinstance(sink, DigestSink)
        while self._hashed < state.size:
            await self._advanced.wait()
            self._advanced.clear()
            async with self._hashing:
                mark = state.contiguous_bytes()
                if mark > self._hashed:
                    await sink.update_digest(digest, self._hashed, mark - self._hashed)
                    self._hashed = mark


async def download_to_file(backend: Backend, path: str, destination: str, *,
                           options: WindowOptions = WindowOptions(),
                           state: WindowState | None = None, entry: Entry | None = None,
                           on_event: EventCallback | None = None,
                           on_checkpoint: CheckpointCallback | None = None,
                           keep_partial: bool = True, overwrite: bool = True,
                           mtime: float | None = None, fsync: bool = True) -> WindowResult:
    """Download ``path`` to the local file ``destination`` through a sliding window.

    With ``state`` (a checkpoint from ``on_checkpoint``) the partial file it names
    is reopened and only the missing ranges are fetched; if that file is gone or
    shorter than the checkpoint says, the download starts over.
    """
    if entry is None:
        entry = await backend.stat(path)
    check_source(entry)
    sink = await LocalFileSink.open(
        destination, partial_path=state.partial_path if state is not None else None,
        size=entry.size, overwrite=overwrite, mtime=mtime, fsync=fsync)
    if state is not None and (sink.existing_size is None or sink.existing_size < state.extent()):
        log.info("%s: the partial file of an earlier attempt is gone or short; starting over",
                 destination)
        state = None
    download = WindowDownload(backend, path, sink, options=options, state=state, entry=entry,
                              on_event=on_event, on_checkpoint=on_checkpoint,
                              keep_partial=keep_partial, partial_path=sink.temp_path)
    return await download.run()
