"""One file of a transfer, from conflict check to verified, atomic commit.

A :class:`FileJob` picks how the bytes move (:class:`Method`), in this order:

- ``copy``: both sides on the same store and it copies server-side;
- ``window``: into this computer, through the sliding-window downloader
  (positional writes into a hidden partial file renamed into place);
- ``parts``: a large file to a store with a part API (S3 multipart,
  positional SFTP/SMB parts), each part retried on its own;
- ``stream``: anything else, through the backend's streaming ``write`` (which
  itself commits atomically), retried as a whole.

Resumable state (partial file, upload id, checkpoints, confirmed parts) goes to
the journal before the bytes that depend on it. Sizes are always checked after
the transfer, MD5s where both sides give one; a mismatch is an IntegrityError.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import inspect
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from ..aio import to_the_end
from ..backend import AsyncReader, Backend, IteratorReader, LocalFileReader
from ..errors import (
    IntegrityError,
    IsADirectory,
    NotFound,
    SourceChanged,
)
from ..types import Entry, WriteOptions
from .bandwidth import BandwidthLimiter
from .conflicts import Conflict, ConflictGate, ConflictPolicy, decide, free_name
from .existing import DestinationIndex, stat_or_none
from .journal import AsyncJournal, FileRecord
from .parts import ConfirmedPart, PartUploader, open_session
from .progress import PartProgress, PartState, TransferState
from .request import Endpoint, FileItem, TransferOptions, is_local
from .sink import Hasher, LocalFileSink
from .window import (
    RangeState,
    SlotEvent,
    WindowDownload,
    WindowOptions,
    plain_md5,
    slot_size_for,
)
from .window_state import WindowState

__all__ = ["FileJob", "FileOutcome", "JobContext", "Method", "cleanup_file", "same_store",
           "server_copy", "store_identity"]

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_CHUNK = 1024 * 1024


class FileOutcome(enum.StrEnum):
    DONE = "done"
    SKIPPED = "skipped"


class Method(enum.StrEnum):
    COPY = "copy"
    WINDOW = "window"
    PARTS = "parts"
    STREAM = "stream"


def store_identity(backend: Backend) -> str | None:
    """What the backend says identifies its store (endpoint + account), if anything."""
    identity = getattr(backend, "store_identity", None)
    if callable(identity):
        identity = identity()
    return identity if isinstance(identity, str) and identity else None


def same_store(source: Backend, destination: Backend) -> bool:
    """Both sides live in one store that can copy server-side."""
    if not (source.features.server_copy and destination.features.server_copy):
        return False
    if not callable(getattr(destination, "copy", None)):
        return False
    if source is destination:
        return True
    identity = store_identity(source)
    return identity is not None and identity == store_identity(destination)


async def server_copy(backend: Any, src: str, dst: str, *, overwrite: bool) -> None:
    """Call a backend's ``copy``, which takes either ``overwrite=`` (S3) or a
    WriteOptions (SFTP, SMB)."""
    parameters = inspect.signature(backend.copy).parameters
    if "overwrite" in parameters:
        await backend.copy(src, dst, overwrite=overwrite)
    else:
        await backend.copy(src, dst, WriteOptions(overwrite=overwrite))


@dataclass
class JobContext:
    """What a job needs from its transfer and queue."""

    transfer_id: str
    source: Endpoint
    destination: Endpoint
    options: TransferOptions
    journal: AsyncJournal
    gate: ConflictGate
    limiter: BandwidthLimiter | None
    changed: Callable[[], None]
    """Call after any visible change (progress, state)."""
    release_slot: Callable[[], None]
    """Give the file slot back (while waiting for a conflict answer)."""
    reacquire_slot: Callable[[], Awaitable[None]]
    existing: DestinationIndex | None = None
    """Folder listings of the destination, for a transfer of a folder."""


class _MeteredReader:
    """Counts, throttles and optionally hashes what flows through a reader."""

    def __init__(self, reader: AsyncReader, *, limiter: BandwidthLimiter | None,
                 on_bytes: Callable[[int], None], hasher: Hasher | None) -> None:
        self._reader = reader
        self._limiter = limiter
        self._on_bytes = on_bytes
        self._hasher = hasher

    async def _account(self, data: memoryview | bytes) -> None:
        if not data:
            return
        if self._hasher is not None:
            self._hasher.update(data)
        if self._limiter is not None:
            await self._limiter.consume(len(data))
        self._on_bytes(len(data))

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        await self._account(data)
        return data

    async def readinto(self, buffer: memoryview) -> int:
        readinto = getattr(self._reader, "readinto", None)
        if readinto is None:
            data = await self._reader.read(len(buffer))
            got = len(data)
            buffer[:got] = data
        else:
            got = await readinto(buffer)
        await self._account(buffer[:got])
        return got


class _ThrottledSink:
    """A DigestSink that waits for bandwidth before each positional write."""

    def __init__(self, sink: LocalFileSink, limiter: BandwidthLimiter) -> None:
        self._sink = sink
        self._limiter = limiter

    async def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        await self._limiter.consume(len(data))
        await self._sink.write_at(offset, data)

    async def write_chunks_at(self, offset: int,
                              chunks: Sequence[bytes | bytearray | memoryview],
                              hasher: Hasher | None = None) -> None:
        await self._limiter.consume(sum(len(chunk) for chunk in chunks))
        await self._sink.write_chunks_at(offset, chunks, hasher)

    async def update_digest(self, hasher: Hasher, offset: int, length: int) -> None:
        await self._sink.update_digest(hasher, offset, length)

    async def finish(self) -> None:
        await self._sink.finish()

    async def abort(self, *, discard: bool = False) -> None:
        await self._sink.abort(discard=discard)


def _same_version(record: FileRecord, entry: Entry) -> bool:
    if record.size != entry.size:
        return False
    if record.etag is not None or entry.etag is not None:
        return record.etag == entry.etag
    return record.mtime == entry.mtime


async def cleanup_file(record: FileRecord, destination: Backend) -> None:
    """Remove what an unfinished file left behind: abort its multipart upload,
    delete its partial file. Errors other than "already gone" propagate."""
    if record.method == Method.PARTS and record.upload_id and record.dest_path:
        if record.temp_path:  # positional parts: the partial file on the destination
            with suppress(NotFound):
                await destination.delete(record.temp_path)
        else:
            from .multipart import abort_multipart

            with suppress(NotFound):
                await abort_multipart(destination, record.dest_path, record.upload_id)
    elif record.method == Method.WINDOW and record.temp_path:
        with suppress(NotFound):
            await destination.delete(record.temp_path)


class FileJob:
    """Moves one :class:`FileItem`; :meth:`run` returns DONE or SKIPPED, or raises."""

    def __init__(self, ctx: JobContext, item: FileItem, *, has_record: bool = True) -> None:
        self.ctx = ctx
        self.item = item
        self.has_record = has_record
        """The journal may hold resumable state for this file (else it is not asked)."""
        self.phase = TransferState.PREPARING
        self.parts: list[PartProgress] = []
        self.bytes_done = 0
        self.size: int | None = item.entry.size if item.entry is not None else None
        self.resumed = 0
        """Bytes already in place when this job started (not sent again)."""
        self.retry_attempt = 0
        self.retry_error: str | None = None
        self.method: Method | None = None
        self._retrying: dict[int, int] = {}

    # -- state reporting ------------------------------------------------------------------

    def _phase(self, phase: TransferState) -> None:
        self.phase = phase
        self.ctx.changed()

    def _part(self, part: PartProgress) -> None:
        index = part.index
        if part.state is PartState.RETRYING:
            self._retrying[index] = part.attempt
        else:
            self._retrying.pop(index, None)
        if self._retrying:
            self.retry_attempt = max(self._retrying.values())
            if self.phase in (TransferState.TRANSFERRING, TransferState.RETRYING):
                self.phase = TransferState.RETRYING
        elif self.phase is TransferState.RETRYING:
            self.phase = TransferState.TRANSFERRING
        if index < len(self.parts):
            self.parts[index] = part
        self.ctx.changed()

    def _retry_noted(self, attempt: int, error: BaseException) -> None:
        self.retry_attempt = attempt
        self.retry_error = str(error)

    # -- the flow ---------------------------------------------------------------------------

    async def run(self) -> FileOutcome:
        item = self.item
        if item.error is not None:
            raise item.error
        ctx = self.ctx
        src = ctx.source.backend
        dst = ctx.destination.backend
        entry: Entry
        if item.entry is not None:
            entry = item.entry
        else:
            entry = await self._call(lambda: src.stat(item.source_path))
        if entry.is_dir:
            raise IsADirectory(f"{item.source_path} is a folder, not a file", path=entry.path)
        self.size = entry.size
        journal = ctx.journal
        record = None
        if self.has_record:
            record = await journal.call(journal.journal.file, ctx.transfer_id, item.rel)
        if record is not None and record.state in ("running", "failed") and (
                record.upload_id or record.temp_path or record.checkpoint):
            if _same_version(record, entry) and record.dest_path:
                return await self._resume(entry, record)
            log.info("%s changed since its transfer began; starting it over", item.source_path)
            await cleanup_file(record, dst)
        dest_path = item.dest_path
        overwrite = True
        index = ctx.existing
        existing = await self._call(lambda: index.existing(dest_path) if index is not None
                                    else stat_or_none(dst, dest_path))
        if existing is not None:
            if existing.is_dir:
                raise IsADirectory(f"{ctx.destination.backend.display_name}:{dest_path} is a "
                                   "folder; a file cannot replace it", path=dest_path)
            action = await self._conflict(entry, existing)
            if action is ConflictPolicy.SKIP:
                return FileOutcome.SKIPPED
            if action is ConflictPolicy.RENAME:
                dest_path = await self._call(lambda: free_name(dst, dest_path))
                overwrite = False
            elif action is ConflictPolicy.RESUME:
                outcome = await self._resume_existing(entry, existing, dest_path)
                if outcome is not None:
                    return outcome
        await self._transfer(entry, dest_path, overwrite=overwrite)
        return FileOutcome.DONE

    async def _conflict(self, entry: Entry, existing: Entry) -> ConflictPolicy:
        ctx = self.ctx
        policy = ctx.options.conflict
        if policy is not ConflictPolicy.ASK:
            return decide(policy, entry, existing)
        conflict = Conflict(
            transfer_id=ctx.transfer_id, source=entry, destination=existing,
            source_label=_label(ctx.source, self.item.source_path),
            destination_label=_label(ctx.destination, existing.path),
            can_resume=self._can_resume_existing(entry, existing))
        if ctx.gate.sticky is not None:
            action = ctx.gate.sticky
        else:
            # Never hold a file slot while a person thinks: other files go on meanwhile.
            ctx.release_slot()
            self._phase(TransferState.QUEUED)
            try:
                action = await ctx.gate.ask(conflict)
            finally:
                await ctx.reacquire_slot()
            self._phase(TransferState.PREPARING)
        if action is ConflictPolicy.ASK:
            raise ValueError("a conflict answer must be an action")
        return decide(action, entry, existing)

    def _can_resume_existing(self, entry: Entry, existing: Entry) -> bool:
        return (is_local(self.ctx.destination.backend) and entry.size is not None
                and existing.size is not None and existing.size < entry.size
                and self.ctx.source.backend.features.ranged_read)

    async def _resume_existing(self, entry: Entry, existing: Entry,
                               dest_path: str) -> FileOutcome | None:
        """RESUME against a destination file that exists: continue it if it is a
        shorter local copy, skip it if it is complete, else overwrite (None)."""
        if entry.size is not None and existing.size == entry.size:
            return FileOutcome.SKIPPED
        if not self._can_resume_existing(entry, existing):
            return None
        assert entry.size is not None and existing.size is not None
        folder = os.path.dirname(dest_path)
        from ..backends.local import TEMP_PREFIX

        partial = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        slot = self.ctx.options.part_size or slot_size_for(entry.size, self.ctx.options.window)
        state = WindowState.from_offset(self.item.source_path, entry.size, existing.size,
                                        slot_size=slot, etag=entry.etag, mtime=entry.mtime,
                                        partial_path=partial)
        # The journal learns of the partial file before it exists: a pause from here on
        # resumes into it (or, if the rename never happened, starts over) and a cancel
        # removes it; nothing is left under a hidden name nobody knows.
        journal = self.ctx.journal
        transfer_id, rel = self.ctx.transfer_id, self.item.rel
        await self._start_record(entry, dest_path, Method.WINDOW)
        await journal.call(journal.journal.set_temp, transfer_id, rel, partial)
        await journal.call(journal.journal.set_checkpoint, transfer_id, rel, state.to_dict())
        await to_the_end(asyncio.to_thread(os.rename, dest_path, partial),
                         undo=lambda _: asyncio.to_thread(os.rename, partial, dest_path))
        await self._window(entry, dest_path, state=state, overwrite=True)
        return FileOutcome.DONE

    async def _start_record(self, entry: Entry, dest_path: str, method: Method,
                            part_size: int | None = None) -> None:
        journal = self.ctx.journal
        await journal.call(journal.journal.file_started, self.ctx.transfer_id, self.item.rel,
                           size=entry.size, etag=entry.etag, mtime=entry.mtime,
                           dest_path=dest_path, method=method.value, part_size=part_size)

    def choose(self, entry: Entry) -> Method:
        ctx = self.ctx
        src, dst = ctx.source.backend, ctx.destination.backend
        if same_store(src, dst):
            return Method.COPY
        if is_local(dst) and entry.size is not None:
            return Method.WINDOW
        if (dst.features.part_write and entry.size is not None
                and entry.size >= ctx.options.multipart_threshold
                and (is_local(src) or src.features.ranged_read)):
            return Method.PARTS
        return Method.STREAM

    async def _transfer(self, entry: Entry, dest_path: str, *, overwrite: bool) -> None:
        method = self.method = self.choose(entry)
        if method is Method.COPY:
            await self._server_copy(entry, dest_path, overwrite=overwrite)
        elif method is Method.WINDOW:  # journaled there, when it is worth a resume
            await self._window(entry, dest_path, state=None, overwrite=overwrite)
        elif method is Method.PARTS:
            if not await self._parts(entry, dest_path, None, overwrite=overwrite):
                self.method = Method.STREAM
                await self._stream(entry, dest_path, overwrite=overwrite)
        else:
            await self._stream(entry, dest_path, overwrite=overwrite)

    async def _resume(self, entry: Entry, record: FileRecord) -> FileOutcome:
        assert record.dest_path is not None
        self.method = Method(record.method or Method.STREAM)
        if self.method is Method.WINDOW:
            state = None
            if record.checkpoint is not None:
                try:
                    state = WindowState.from_dict(record.checkpoint)
                except ValueError:
                    state = None
            if state is None and record.temp_path:
                await cleanup_file(record, self.ctx.destination.backend)
            await self._window(entry, record.dest_path, state=state, overwrite=True)
        elif self.method is Method.PARTS:
            done = await self._parts(entry, record.dest_path, record, overwrite=True)
            if not done:
                await self._stream(entry, record.dest_path, overwrite=True)
        else:
            await self._transfer(entry, record.dest_path, overwrite=True)
        return FileOutcome.DONE

    # -- methods ----------------------------------------------------------------------------

    async def _server_copy(self, entry: Entry, dest_path: str, *, overwrite: bool) -> None:
        ctx = self.ctx
        copier: Any = ctx.destination.backend
        size = entry.size or 0
        self.parts = [PartProgress(0, 0, size, 0, PartState.IN_FLIGHT)]
        self._phase(TransferState.TRANSFERRING)
        await self._with_retries(lambda: server_copy(copier, self.item.source_path, dest_path,
                                                     overwrite=overwrite))
        self.bytes_done = size
        self._part(PartProgress(0, 0, size, size, PartState.DONE))
        await self._verify(entry, dest_path, hashed=None)

    async def _window(self, entry: Entry, dest_path: str, *, state: WindowState | None,
                      overwrite: bool) -> None:
        ctx = self.ctx
        journal = ctx.journal
        transfer_id, rel = ctx.transfer_id, self.item.rel
        assert entry.size is not None
        # Large files are flushed to disk before the rename (their checkpoints must not
        # claim bytes a power cut lost); one fsync per small file would cost more than
        # the copy itself (cp and rclone skip it too).
        sink = await LocalFileSink.open(
            dest_path, partial_path=state.partial_path if state is not None else None,
            size=entry.size, overwrite=overwrite, mtime=entry.mtime,
            fsync=entry.size >= ctx.options.multipart_threshold)
        try:
            if state is not None and (sink.existing_size is None
                                      or sink.existing_size < state.extent()):
                log.info("%s: the partial file is gone or short; the download starts over",
                         dest_path)
                state = None
            slot_size = (state.slot_size if state is not None
                         else ctx.options.part_size_for(entry.size) if ctx.options.part_size
                         else slot_size_for(entry.size, ctx.options.window))
            # A file of one range is not worth a resume: no journal round trips for it.
            journaled = state is not None or entry.size > slot_size
            if journaled:
                await self._start_record(entry, dest_path, Method.WINDOW)
                await journal.call(journal.journal.set_temp, transfer_id, rel, sink.temp_path)
            options = WindowOptions(window=ctx.options.window, slot_size=slot_size,
                                    retry=ctx.options.retry, verify_md5=ctx.options.verify)
            layout = state if state is not None else WindowState(
                self.item.source_path, entry.size, slot_size, etag=entry.etag, mtime=entry.mtime)
            self.parts = []
            for index in range(layout.range_count):
                offset, length = layout.range_at(index)
                done = length if layout.is_done(index) else layout.partial.get(index, 0)
                self.parts.append(PartProgress(
                    index, offset, length, done,
                    PartState.DONE if layout.is_done(index) else PartState.PENDING,
                    file=rel))
            self.resumed = self.bytes_done = layout.bytes_done() if state is not None else 0

            def on_event(event: SlotEvent) -> None:
                self.bytes_done = event.total_done
                if event.state is RangeState.PENDING:
                    part_state = PartState.RETRYING
                    if event.error is not None:
                        self._retry_noted(event.attempt, event.error)
                elif event.state is RangeState.IN_FLIGHT:
                    part_state = PartState.IN_FLIGHT
                elif event.state is RangeState.DONE:
                    part_state = PartState.DONE
                else:
                    part_state = PartState.FAILED
                self._part(PartProgress(event.index, event.offset, event.length, event.done,
                                        part_state, event.attempt,
                                        None if part_state is PartState.DONE else event.slot,
                                        rel))

            def on_checkpoint(checkpoint: WindowState) -> None:
                if journaled:
                    journal.post(journal.journal.set_checkpoint, transfer_id, rel,
                                 checkpoint.to_dict())

            target = sink if ctx.limiter is None else _ThrottledSink(sink, ctx.limiter)
            download = WindowDownload(ctx.source.backend, self.item.source_path, target,
                                      options=options, state=state, entry=entry, on_event=on_event,
                                      on_checkpoint=on_checkpoint, keep_partial=journaled,
                                      partial_path=sink.temp_path)
            self._phase(TransferState.TRANSFERRING)
            await download.run()  # from here on, run() closes the sink however it ends
        except BaseException:
            if not sink.closed:
                # Stopped before the download began (a pause while the journal records
                # the file): nothing new is in a fresh partial file, so it goes; a
                # reopened one stays for the resume its checkpoint describes.
                await sink.abort(discard=sink.existing_size is None)
            raise
        self.bytes_done = entry.size

    async def _parts(self, entry: Entry, dest_path: str, record: FileRecord | None, *,
                     overwrite: bool) -> bool:
        """Upload through the destination's part API; False if it has none."""
        ctx = self.ctx
        journal = ctx.journal
        transfer_id, rel = ctx.transfer_id, self.item.rel
        dst = ctx.destination.backend
        assert entry.size is not None
        size = entry.size
        options = WriteOptions(overwrite=overwrite, mtime=entry.mtime,
                               content_type=entry.content_type)
        session = None
        part_size = ctx.options.part_size_for(entry.size)
        if record is not None and record.upload_id:
            part_size = record.part_size or part_size
            recorded_parts = await journal.call(journal.journal.parts, transfer_id, rel)
            recorded = {p.index: ConfirmedPart(p.index, p.offset, p.length, p.etag)
                        for p in recorded_parts}
            try:
                token = record.upload_id
                session = await self._call(lambda: open_session(
                    dst, dest_path, size, part_size=part_size, options=options,
                    resume_token=token, recorded=recorded))
            except NotFound:
                log.info("%s: the interrupted upload is gone from the server; starting over",
                         dest_path)
                await journal.call(journal.journal.set_upload, transfer_id, rel, None)
        if session is None:
            if record is None:
                await self._start_record(entry, dest_path, Method.PARTS, part_size)
            session = await self._call(lambda: open_session(
                dst, dest_path, size, part_size=part_size, options=options))
            if session is None:
                return False
            part_size = session.part_size or part_size
            try:
                await journal.call(journal.journal.set_upload, transfer_id, rel,
                                   session.token, part_size)
                temp = getattr(getattr(session, "upload", None), "temp_path", None)
                if isinstance(temp, str):
                    await journal.call(journal.journal.set_temp, transfer_id, rel, temp)
            except BaseException:
                # Stopped before the journal surely knows the session: nothing was sent,
                # so end it here rather than leave a partial file (or an upload) that a
                # resume would not find and a cancel would not remove.
                with suppress(Exception):
                    await asyncio.shield(session.abort(keep=False))
                raise
        else:
            part_size = session.part_size or part_size

        async def confirmed(part: ConfirmedPart) -> None:
            await journal.call(journal.journal.part_done, transfer_id, rel, part.index,
                               part.offset, part.length, part.etag)

        uploader = PartUploader(
            session, ctx.source.backend, self.item.source_path, entry.size,
            part_size=part_size, window=ctx.options.window, retry=ctx.options.retry,
            limiter=ctx.limiter, if_match=entry.etag, file=rel,
            on_progress=self._on_upload_part, on_confirmed=confirmed,
            on_retry=self._retry_noted)
        self.parts = list(uploader.parts)
        self.resumed = uploader.resumed_bytes
        self.bytes_done = uploader.bytes_done
        self._phase(TransferState.TRANSFERRING)
        try:
            await uploader.run()
            await self._check_source_unchanged(entry)
            self._phase(TransferState.ASSEMBLING)
            answered = await self._complete(uploader)
        except SourceChanged:
            with suppress(Exception):
                await asyncio.shield(session.abort(keep=False))
            await journal.call(journal.journal.set_upload, transfer_id, rel, None)
            raise
        except BaseException:
            # Paused, cancelled or failed: the upload stays resumable (a cancel or a
            # discard cleans it up from the journal).
            with suppress(Exception):
                await asyncio.shield(session.abort(keep=True))
            raise
        self.bytes_done = entry.size
        await self._verify(entry, dest_path, hashed=None,
                           confirmed=answered and ctx.destination.backend.features.confirms_writes)
        return True

    def _on_upload_part(self, part: PartProgress) -> None:
        old = self.parts[part.index] if part.index < len(self.parts) else None
        self.bytes_done += part.bytes_done - (old.bytes_done if old is not None else 0)
        self._part(part)

    async def _check_source_unchanged(self, entry: Entry) -> None:
        if entry.etag is None:
            return
        now = await self._call(lambda: self.ctx.source.backend.stat(self.item.source_path))
        if now.etag != entry.etag or now.size != entry.size:
            raise SourceChanged(f"{self.item.source_path} changed during the upload; it must "
                                "start over", path=self.item.source_path)

    async def _stream(self, entry: Entry, dest_path: str, *, overwrite: bool) -> None:
        ctx = self.ctx
        src = ctx.source.backend
        dst = ctx.destination.backend
        size = entry.size
        options = WriteOptions(overwrite=overwrite, content_type=entry.content_type,
                               mtime=entry.mtime if dst.features.set_mtime else None)
        hasher: Any = None

        async def attempt() -> int:
            nonlocal hasher
            self.bytes_done = 0
            hasher = hashlib.md5(usedforsecurity=False) if ctx.options.verify else None
            self._part(PartProgress(0, 0, size or 0, 0, PartState.IN_FLIGHT, file=self.item.rel))
            reader: AsyncReader
            if is_local(src):
                reader = LocalFileReader(self.item.source_path)
            else:
                reader = IteratorReader(src.read(self.item.source_path, if_match=entry.etag))
            metered = _MeteredReader(reader, limiter=ctx.limiter, on_bytes=self._streamed,
                                     hasher=hasher)
            try:
                return await dst.write(dest_path, metered, size, options)
            finally:
                aclose = getattr(reader, "aclose", None)
                if aclose is not None:
                    await aclose()

        self.parts = [PartProgress(0, 0, size or 0, 0, PartState.PENDING, file=self.item.rel)]
        self._phase(TransferState.TRANSFERRING)
        written = await self._with_retries(attempt)
        if size is not None and written != size:
            raise IntegrityError(f"{_label(ctx.source, self.item.source_path)}: {written} bytes "
                                 f"were read where {size} were expected (did it change?)",
                                 path=self.item.source_path)
        self.size = written
        self._part(PartProgress(0, 0, written, written, PartState.DONE, file=self.item.rel))
        await self._verify(entry, dest_path,
                           hashed=hasher.hexdigest() if hasher is not None else None,
                           size=written, confirmed=dst.features.confirms_writes)

    def _streamed(self, count: int) -> None:
        self.bytes_done += count
        if self.parts:
            part = self.parts[0]
            self.parts[0] = PartProgress(0, 0, part.length, self.bytes_done, part.state,
                                         part.attempt, file=part.file)
        self.ctx.changed()

    async def _call(self, action: Callable[[], Awaitable[T]]) -> T:
        """A metadata request (stat, open, complete) under the retry policy."""
        policy = self.ctx.options.retry
        attempt = 1
        while True:
            try:
                return await action()
            except Exception as exc:
                if not policy.should_retry(exc, attempt):
                    raise
                log.info("%s: attempt %d failed, retrying: %s", self.item.source_path,
                         attempt, exc)
                self._retry_noted(attempt + 1, exc)
                await policy.wait(attempt)
                attempt += 1

    async def _complete(self, uploader: PartUploader) -> bool:
        """Assemble the parts; True if the store confirmed it. A retry that finds the
        upload gone means an earlier attempt completed it (its answer was lost): then
        the size check after it decides."""
        tried = False
        answered = False

        async def complete() -> None:
            nonlocal tried, answered
            try:
                await uploader.complete()
                answered = True
            except NotFound:
                if not tried:
                    raise
            finally:
                tried = True

        await self._call(complete)
        return answered

    async def _with_retries(self, action: Callable[[], Awaitable[Any]]) -> Any:
        policy = self.ctx.options.retry
        attempt = 1
        while True:
            try:
                return await action()
            except Exception as exc:
                if not policy.should_retry(exc, attempt):
                    if self.parts:
                        part = self.parts[0]
                        self._part(PartProgress(0, part.offset, part.length, part.bytes_done,
                                                PartState.FAILED, attempt, file=part.file))
                    raise
                log.info("%s: attempt %d failed, retrying: %s", self.item.source_path,
                         attempt, exc)
                self._retry_noted(attempt + 1, exc)
                if self.parts:
                    part = self.parts[0]
                    self._part(PartProgress(0, part.offset, part.length, 0,
                                            PartState.RETRYING, attempt + 1, file=part.file))
                await policy.wait(attempt)
                attempt += 1

    async def _verify(self, entry: Entry, dest_path: str, *, hashed: str | None,
                      size: int | None = None, confirmed: bool = False) -> None:
        """Size always; MD5 where the source, the destination or our hash give one.

        ``confirmed``: the destination's write already proved what it stored
        (``Features.confirms_writes``), so it is not asked again.
        """
        self._phase(TransferState.VERIFYING)
        ctx = self.ctx
        expected = entry.size if size is None else size
        label = _label(ctx.destination, dest_path)
        written: Entry | None = None
        if not confirmed:
            try:
                written = await self._call(lambda: ctx.destination.backend.stat(dest_path))
            except NotFound:
                raise IntegrityError(f"{label} is missing after the transfer",
                                     path=dest_path) from None
            if expected is not None and written.size is not None and written.size != expected:
                raise IntegrityError(f"{label} has {written.size} bytes where {expected} were "
                                     "sent", path=dest_path)
        if not ctx.options.verify:
            return
        digests = {name: value for name, value in (
            ("source", plain_md5(entry)),
            ("destination", plain_md5(written) if written is not None else None),
            ("transferred", hashed)) if value is not None}
        if len(set(digests.values())) > 1:
            detail = ", ".join(f"{name} {value}" for name, value in digests.items())
            raise IntegrityError(f"{label}: checksums differ after the transfer ({detail})",
                                 path=dest_path)


def _label(endpoint: Endpoint, path: str) -> str:
    return f"{endpoint.ref}:{path}" if endpoint.ref else path
