"""The transfer queue: transfers, their control, and the one event stream.

A front end builds one :class:`TransferQueue`, adds :class:`TransferRequest`
values and listens to ``queue.hub`` (``async for event in queue.hub.subscribe()``
or ``queue.hub.add_listener(callback)``): a :class:`~.progress.TransferSnapshot`
per change of a transfer, at most ``max_rate`` per second each, and a
:class:`~.progress.TransferRemoved` when one leaves the queue. Conflicts with
the ``ask`` policy go to the ``resolver`` coroutine the front end passes in.

Each :class:`Transfer` runs as one task: it walks its source lazily and hands
files to :class:`~.job.FileJob` s as the shared :class:`~.scheduler.Scheduler`
grants slots, so files of all transfers share the global limit in queue order.
Pausing stops the task and keeps everything resumable; resuming, retrying and
resuming after a crash all run the same task again: files the journal records
as done are skipped, the others continue from their checkpoints.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from itertools import chain
from typing import Any

from ..backend import Backend
from ..errors import (
    AuthenticationFailed,
    Cancelled,
    ConnectionFailed,
    IsADirectory,
    NoSpace,
    NotFound,
    OrbitError,
    Timeout,
)
from .bandwidth import BandwidthLimiter, TokenBucket
from .conflicts import ConflictGate, ConflictResolver
from .existing import DestinationIndex
from .job import FileJob, FileOutcome, JobContext, cleanup_file
from .journal import AsyncJournal, Journal, TransferRecord
from .progress import (
    FileFailure,
    ProgressHub,
    SpeedMeter,
    TransferSnapshot,
    TransferState,
)
from .request import Endpoint, FileItem, TransferOptions, TransferRequest, is_local, walk
from .scheduler import DEFAULT_CONCURRENCY, Scheduler, Slot

__all__ = ["BackendOpener", "Transfer", "TransferQueue"]

log = logging.getLogger(__name__)

BackendOpener = Callable[[str | None], Awaitable[Backend]]
"""Opens the backend of a saved profile by name (None: this computer), to resume
transfers recorded by an earlier run."""

PENDING_LIMIT = 10_000
"""Files discovered ahead of the transfer; the walk waits (still counting) beyond."""
MAX_FAILURES_SHOWN = 20
TICK = 1.0
"""Seconds between snapshots of a running transfer when nothing else changes."""

_FATAL = (AuthenticationFailed, ConnectionFailed, Timeout, NoSpace)
"""Errors that doom every other file of the transfer too: stop at once (resumable)."""


_SETTLED = frozenset({TransferState.DONE, TransferState.FAILED, TransferState.CANCELLED,
                      TransferState.PAUSED, TransferState.INTERRUPTED})


class _Stop(enum.Enum):
    PAUSE = "pause"
    CANCEL = "cancel"
    SHUTDOWN = "shutdown"
    FATAL = "fatal"


class Transfer:
    """One request in the queue. Control it through its queue (pause, resume, ...)."""

    def __init__(self, queue: TransferQueue, request: TransferRequest, transfer_id: str, *,
                 priority: int = 0) -> None:
        self.queue = queue
        self.request = request
        self._id = transfer_id
        self.priority = priority
        self.position = 0
        self.state = TransferState.QUEUED
        self.error: str | None = None
        self.bucket = TokenBucket(request.options.bwlimit)
        self.limiter = BandwidthLimiter([self.bucket, queue.bucket])
        self._task: asyncio.Task[None] | None = None
        self._stop: _Stop | None = None
        self._fatal: OrbitError | None = None
        self._finished = asyncio.Event()
        self._lock = asyncio.Lock()
        self._seq = 0
        self._speed = SpeedMeter()
        self._jobs: dict[int, FileJob] = {}
        self._job_ids = 0
        self._recorded: set[str] = set()
        self._existing: DestinationIndex | None = None
        self._began = False
        """Whether the run's task has taken its first step (a task cancelled before
        that never runs its body, so _halt() records the stop itself)."""
        """Listings of the destination folders while a folder is being copied."""
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.counting = False
        self.total: int | None = 0
        self.files_total = 0
        self.files_done = 0
        self.files_failed = 0
        self.files_skipped = 0
        self.bytes_finished = 0
        self.bytes_parked = 0
        """Bytes of files stopped midway (pause): still in place, shown until resumed."""
        self.resumed_files_bytes = 0
        self.failures: list[FileFailure] = []
        self._walk_error: OrbitError | None = None
        self._speed.reset()

    @property
    def id(self) -> str:
        return self._id

    @property
    def order(self) -> tuple[int, int]:
        return (-self.priority, self.position)

    @property
    def source(self) -> Endpoint:
        return self.request.source

    @property
    def destination(self) -> Endpoint:
        return self.request.destination

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- snapshots -------------------------------------------------------------------------

    def _changed(self) -> None:
        self.queue.hub.changed(self)

    def _current_state(self, jobs: list[FileJob]) -> TransferState:
        if not self.running or self.state in _SETTLED:
            return self.state
        phases = {job.phase for job in jobs}
        for phase in (TransferState.RETRYING, TransferState.TRANSFERRING,
                      TransferState.ASSEMBLING, TransferState.VERIFYING,
                      TransferState.PREPARING):
            if phase in phases:
                return phase
        if self.files_done or self.files_skipped or self.files_failed:
            return TransferState.TRANSFERRING
        return self.state

    def snapshot(self) -> TransferSnapshot:
        jobs = list(self._jobs.values())
        bytes_done = self._bytes_done()
        resumed = self.resumed_files_bytes + sum(job.resumed for job in jobs)
        now = asyncio.get_running_loop().time()
        state = self._current_state(jobs)
        moving = state.active
        if moving:
            self._speed.add(now, bytes_done - resumed)
        speed = self._speed.speed(now) if moving else 0.0
        total = self.total
        eta = None
        if total is not None and not self.counting and speed > 0:
            eta = max(0.0, (total - bytes_done) / speed)
        attempt = max((job.retry_attempt for job in jobs if job.phase is
                       TransferState.RETRYING), default=0)
        error = self.error
        if state is TransferState.RETRYING:
            error = next((job.retry_error for job in jobs if job.retry_error), None)
        self._seq += 1
        return TransferSnapshot(
            id=self._id, direction=self.request.direction, source=self.source.label,
            destination=self.destination.label, state=state, bytes_done=bytes_done,
            total=total, counting=self.counting, speed=speed, eta=eta,
            files_done=self.files_done, files_total=self.files_total,
            files_failed=self.files_failed, files_skipped=self.files_skipped,
            current=tuple(job.item.rel for job in jobs),
            parts=tuple(chain.from_iterable(job.parts for job in jobs)),
            error=error, attempt=attempt,
            max_attempts=self.request.options.retry.max_attempts if attempt else 0,
            failures=tuple(self.failures), priority=self.priority, position=self.position,
            seq=self._seq, resumed_bytes=resumed)

    async def wait(self) -> TransferSnapshot:
        """Wait until the transfer is done, failed or cancelled; its last snapshot."""
        await self._finished.wait()
        return self.snapshot()

    # -- running -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._stop = None
        self._fatal = None
        self.error = None
        self._finished.clear()
        self.state = TransferState.QUEUED
        self._began = False
        self._task = asyncio.create_task(self._main(), name=f"transfer-{self._id}")
        self.queue._ensure_ticker()
        self._changed()

    async def _main(self) -> None:
        journal = self.queue.journal
        self._began = True
        try:
            await self._run()
        except asyncio.CancelledError:
            await self._stopped()
            if self._stop is None:
                raise
        except OrbitError as exc:
            self._failed(exc.message)
            await journal.call(journal.journal.finish_transfer, self._id, "failed",
                               error=self.error, **self._totals())
        except Exception as exc:
            log.exception("transfer %s failed unexpectedly", self._id)
            self._failed(f"internal error: {exc!r}")
            await journal.call(journal.journal.finish_transfer, self._id, "failed",
                               error=self.error, **self._totals())
        else:
            if self.files_failed or self._walk_error is not None:
                self._failed(self._failure_summary())
                await journal.call(journal.journal.finish_transfer, self._id, "failed",
                                   error=self.error, **self._totals())
            else:
                self.state = TransferState.DONE
                await journal.call(journal.journal.finish_transfer, self._id, "done",
                                   **self._totals())
        finally:
            self._settled()

    async def _stopped(self) -> None:
        """Record why the run was cut short (pause, cancel, a fatal error, shutdown)."""
        journal = self.queue.journal
        stop = self._stop
        if stop is _Stop.PAUSE:
            self.state = TransferState.PAUSED
            await journal.call(journal.journal.update_transfer, self._id, state="paused",
                               **self._totals())
        elif stop is _Stop.CANCEL:
            await self._cleanup()
            self.state = TransferState.CANCELLED
            await journal.call(journal.journal.finish_transfer, self._id, "cancelled")
        elif stop is _Stop.FATAL and self._fatal is not None:
            self._failed(self._fatal.message)
            await journal.call(journal.journal.finish_transfer, self._id, "failed",
                               error=self.error, **self._totals())
        else:  # the queue shuts down (or someone cancelled us): resumable later
            self.state = TransferState.INTERRUPTED
            await journal.call(journal.journal.update_transfer, self._id, **self._totals())
            await journal.call(journal.journal.release, self._id)

    def _settled(self) -> None:
        if self.state.finished:
            self._finished.set()
        self._changed()
        self.queue.hub.flush(self._id)

    def _failed(self, reason: str) -> None:
        self.state = TransferState.FAILED
        self.error = reason

    def _failure_summary(self) -> str:
        if self._walk_error is not None:
            return f"listing the source failed: {self._walk_error.message}"
        first = self.failures[0].error if self.failures else "unknown error"
        if self.files_total <= 1 and self.files_failed == 1:
            return first
        return f"{self.files_failed} of {self.files_total} files failed; first: {first}"

    def _totals(self) -> dict[str, Any]:
        return {"bytes_done": self._bytes_done(), "total": self.total,
                "files_done": self.files_done, "files_total": self.files_total}

    def _bytes_done(self) -> int:
        return (self.bytes_finished + self.bytes_parked
                + sum(job.bytes_done for job in self._jobs.values()))

    async def _run(self) -> None:
        queue = self.queue
        journal = queue.journal
        request = self.request
        self._reset_counters()
        self.state = TransferState.PREPARING
        self._changed()
        journal.post(journal.journal.update_transfer, self._id, state="transferring")
        finished = await journal.call(journal.journal.finished_files, self._id)
        self._recorded = {record.rel for record in
                          await journal.call(journal.journal.unfinished_files, self._id)}
        source = request.source
        entry = await source.backend.stat(source.path)
        items: AsyncIterator[FileItem]
        if entry.is_dir:
            if not request.recursive:
                raise IsADirectory(f"{source.label} is a folder: copy it recursively (-R)",
                                   path=source.path)
            self.counting = True
            items = walk(source.backend, source.path, request.destination.path)
            self._existing = DestinationIndex(request.destination.backend)
        else:
            items = _one(FileItem("", source.path, request.destination.path, entry))
        self.state = TransferState.QUEUED
        self._changed()
        pending: asyncio.Queue[FileItem | None] = asyncio.Queue(PENDING_LIMIT)
        walker = asyncio.create_task(self._feed(items, pending, finished))
        running: set[asyncio.Task[None]] = set()
        keys = self._connection_keys()
        try:
            while (item := await pending.get()) is not None:
                small = entry.is_dir and self._is_small(item)
                slot = await queue.scheduler.acquire(self, keys, small=small)
                task = asyncio.create_task(self._file(item, slot, keys, small))
                running.add(task)
                task.add_done_callback(running.discard)
            await walker
            while running:
                await asyncio.wait(set(running))
        finally:
            walker.cancel()
            for task in list(running):
                task.cancel()
            await asyncio.gather(walker, *running, return_exceptions=True)
            if self._existing is not None:
                await self._existing.aclose()
                self._existing = None

    def _is_small(self, item: FileItem) -> bool:
        """Whether ``item`` moves in one request (below the multipart threshold). Only
        a folder's files share slots: transfers of their own keep one each, so a
        queue set to one at a time runs one at a time."""
        size = item.entry.size if item.entry is not None else None
        return size is not None and size < self.request.options.multipart_threshold

    def _connection_keys(self) -> tuple[Hashable, ...]:
        backends = (self.source.backend, self.destination.backend)
        return tuple(id(b) for b in dict.fromkeys(backends) if not is_local(b))

    async def _feed(self, items: AsyncIterator[FileItem],
                    pending: asyncio.Queue[FileItem | None],
                    finished: dict[str, tuple[int | None, str | None]]) -> None:
        bug: Exception | None = None
        try:
            async for item in items:
                size = item.entry.size if item.entry is not None else None
                self.files_total += 1
                if size is None:
                    self.total = None if not self.counting else self.total
                elif self.total is not None:
                    self.total += size
                earlier = finished.get(item.rel)
                if earlier is not None and item.error is None and earlier[0] == size:
                    self.files_done += 1
                    self.bytes_finished += size or 0
                    self.resumed_files_bytes += size or 0
                    self._changed()
                    continue
                self._changed()
                await pending.put(item)
        except OrbitError as exc:
            self._walk_error = exc
            log.info("%s: listing failed: %s", self.source.label, exc)
        except Exception as exc:
            bug = exc
        finally:
            self.counting = False
            self._changed()
        await pending.put(None)
        if bug is not None:
            raise bug

    async def _file(self, item: FileItem, slot: Slot, keys: tuple[Hashable, ...],
                    small: bool) -> None:
        queue = self.queue
        journal = queue.journal
        holder = [slot]

        def release() -> None:
            holder[0].release()

        async def reacquire() -> None:
            holder[0] = await queue.scheduler.acquire(self, keys, small=small)

        ctx = JobContext(self._id, self.source, self.destination, self.request.options,
                         journal, queue.conflicts, self.limiter, self._changed, release,
                         reacquire, self._existing)
        job = FileJob(ctx, item, has_record=item.rel in self._recorded)
        key = self._job_ids = self._job_ids + 1
        self._jobs[key] = job
        self._changed()
        try:
            outcome = await job.run()
        except asyncio.CancelledError:
            self.bytes_parked += job.bytes_done
            raise
        except OrbitError as exc:
            self._file_failed(item, exc.message)
            journal.post(journal.journal.file_failed, self._id, item.rel)
            if isinstance(exc, _FATAL) and not self._stop:
                self._fatal = exc
                self._stop = _Stop.FATAL
                if self._task is not None:
                    self._task.cancel()
        except Exception as exc:
            log.exception("%s: unexpected failure", item.source_path)
            self._file_failed(item, f"internal error: {exc!r}")
        else:
            size = job.size or 0
            if outcome is FileOutcome.SKIPPED:
                self.files_skipped += 1
                if self.total is not None:
                    self.total -= size
            else:
                self.files_done += 1
                self.bytes_finished += size
                self.resumed_files_bytes += job.resumed
            entry = item.entry
            journal.post(journal.journal.file_finished, self._id, item.rel, outcome.value,
                         size=job.size, etag=entry.etag if entry is not None else None,
                         dest_path=item.dest_path, files_done=self.files_done,
                         bytes_done=self._bytes_done() - job.bytes_done)
        finally:
            del self._jobs[key]
            holder[0].release()
            self._changed()

    def _file_failed(self, item: FileItem, message: str) -> None:
        self.files_failed += 1
        if len(self.failures) < MAX_FAILURES_SHOWN:
            self.failures.append(FileFailure(item.rel or item.source_path, message))
        log.info("%s: %s", item.source_path, message)

    async def _cleanup(self) -> None:
        """Abort multipart uploads and remove partial files this transfer left."""
        journal = self.queue.journal
        records = await journal.call(journal.journal.unfinished_files, self._id)
        for record in records:
            try:
                await cleanup_file(record, self.destination.backend)
            except OrbitError as exc:
                log.warning("could not clean up after %s: %s", record.dest_path, exc)

    async def _halt(self, stop: _Stop) -> None:
        task = self._task
        if task is None or task.done():
            return
        self._stop = stop
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if not self._began:  # cancelled before its first step: _main never ran at all
            try:
                await self._stopped()
            finally:
                self._settled()


async def _one(item: FileItem) -> AsyncIterator[FileItem]:
    yield item


class TransferQueue:
    """All transfers of a front end; see the module docstring."""

    def __init__(self, *, journal: AsyncJournal | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, per_connection: int | None = None,
                 bwlimit: float | None = None, resolver: ConflictResolver | None = None,
                 opener: BackendOpener | None = None, max_rate: float = 10.0,
                 hub: ProgressHub | None = None) -> None:
        self.journal = journal or AsyncJournal(Journal(":memory:"))
        self.scheduler = Scheduler(concurrency, per_connection)
        self.bucket = TokenBucket(bwlimit)
        self.conflicts = ConflictGate(resolver)
        self.hub = hub or ProgressHub(max_rate)
        self.opener = opener
        self._transfers: list[Transfer] = []
        self._by_id: dict[str, Transfer] = {}
        self._opened: dict[str | None, Backend] = {}
        self._closed = False
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, journal_path: Any = None, **kwargs: Any) -> TransferQueue:
        """A queue with the journal at ``journal_path`` (default: the state folder)."""
        journal = await AsyncJournal.open(journal_path)
        return cls(journal=journal, **kwargs)

    # -- the list ----------------------------------------------------------------------------

    @property
    def transfers(self) -> list[Transfer]:
        return list(self._transfers)

    def get(self, transfer_id: str) -> Transfer:
        try:
            return self._by_id[transfer_id]
        except KeyError:
            raise NotFound(f"there is no transfer {transfer_id!r} in the queue") from None

    def snapshots(self) -> list[TransferSnapshot]:
        return [transfer.snapshot() for transfer in self._transfers]

    def add(self, request: TransferRequest, *, priority: int = 0,
            transfer_id: str | None = None) -> Transfer:
        """Queue ``request`` and start it (files wait for slots in queue order)."""
        if self._closed:
            raise Cancelled("the transfer queue is closed")
        transfer_id = transfer_id or uuid.uuid4().hex[:12]
        if transfer_id in self._by_id:
            raise ValueError(f"transfer {transfer_id} is already queued")
        transfer = Transfer(self, request, transfer_id, priority=priority)
        self._transfers.append(transfer)
        self._by_id[transfer_id] = transfer
        self._renumber()
        self.journal.post(self.journal.journal.add_transfer, transfer_id,
                          direction=request.direction.value, source=request.source.label,
                          destination=request.destination.label, spec=request.spec())
        transfer._start()
        return transfer

    def _renumber(self) -> None:
        for position, transfer in enumerate(self._transfers):
            if transfer.position != position:
                transfer.position = position
                transfer._changed()

    def move(self, transfer_id: str, position: int) -> None:
        """Put a transfer at ``position`` in the queue (0: first); its files go first."""
        transfer = self.get(transfer_id)
        self._transfers.remove(transfer)
        position = max(0, min(position, len(self._transfers)))
        self._transfers.insert(position, transfer)
        self._renumber()
        self.scheduler.reorder()

    def set_priority(self, transfer_id: str, priority: int) -> None:
        """Higher priority transfers get free slots first, whatever their position."""
        transfer = self.get(transfer_id)
        transfer.priority = priority
        transfer._changed()
        self.scheduler.reorder()

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="transfer-queue-ticker")

    async def _tick(self) -> None:
        """Once a second, a snapshot of each running transfer even if no byte moved, so
        a stalled transfer's speed falls to 0 and its ETA goes, instead of freezing."""
        while any(t.running for t in self._transfers):
            await asyncio.sleep(TICK)
            for transfer in self._transfers:
                if transfer.running:
                    transfer._changed()

    # -- settings ----------------------------------------------------------------------------

    def set_concurrency(self, limit: int) -> None:
        """How many files move at once (applies immediately)."""
        self.scheduler.set_limit(limit)

    def set_per_connection(self, limit: int | None) -> None:
        self.scheduler.set_per_connection(limit)

    def set_bwlimit(self, rate: float | None, transfer_id: str | None = None) -> None:
        """Bytes per second for the whole queue, or for one transfer (None: unlimited)."""
        if transfer_id is None:
            self.bucket.set_rate(rate)
        else:
            self.get(transfer_id).bucket.set_rate(rate)

    # -- control -----------------------------------------------------------------------------

    async def pause(self, transfer_id: str) -> None:
        transfer = self.get(transfer_id)
        async with transfer._lock:
            if transfer.running:
                await transfer._halt(_Stop.PAUSE)
            elif transfer.state in (TransferState.QUEUED, TransferState.INTERRUPTED):
                transfer.state = TransferState.PAUSED
                transfer._changed()

    async def resume(self, transfer_id: str) -> None:
        """Continue a paused, failed, interrupted or cancelled transfer."""
        transfer = self.get(transfer_id)
        async with transfer._lock:
            if transfer.running or transfer.state is TransferState.DONE:
                return
            await self.journal.call(self.journal.journal.claim, transfer_id)
            await self.journal.call(self.journal.journal.update_transfer, transfer_id,
                                    state="queued")
            transfer._start()

    retry = resume

    async def cancel(self, transfer_id: str) -> None:
        """Stop and remove what was partly sent (multipart uploads, partial files)."""
        transfer = self.get(transfer_id)
        async with transfer._lock:
            if transfer.running:
                await transfer._halt(_Stop.CANCEL)
            elif transfer.state is not TransferState.DONE and \
                    transfer.state is not TransferState.CANCELLED:
                await transfer._cleanup()
                transfer.state = TransferState.CANCELLED
                await self.journal.call(self.journal.journal.finish_transfer, transfer_id,
                                        "cancelled")
                transfer._finished.set()
                transfer._changed()

    async def remove(self, transfer_id: str) -> None:
        """Cancel if unfinished, then drop it from the queue (the journal keeps history)."""
        transfer = self.get(transfer_id)
        if not transfer.state.finished:
            await self.cancel(transfer_id)
        self._transfers.remove(transfer)
        del self._by_id[transfer_id]
        self.hub.removed(transfer_id)
        self._renumber()

    async def clear_finished(self) -> None:
        for transfer in list(self._transfers):
            if transfer.state.finished:
                await self.remove(transfer.id)

    async def pause_all(self) -> None:
        await asyncio.gather(*(self.pause(t.id) for t in self._transfers
                               if not t.state.finished))

    async def resume_all(self) -> None:
        await asyncio.gather(*(self.resume(t.id) for t in self._transfers
                               if t.state in (TransferState.PAUSED, TransferState.INTERRUPTED)))

    async def cancel_all(self) -> None:
        await asyncio.gather(*(self.cancel(t.id) for t in self._transfers
                               if not t.state.finished))

    async def wait_all(self) -> list[TransferSnapshot]:
        """Wait until every running transfer ended (paused ones are not waited for)."""
        while True:
            running = [t for t in self._transfers if t.running]
            if not running:
                return self.snapshots()
            await asyncio.gather(*(asyncio.shield(t._task) for t in running if t._task),
                                 return_exceptions=True)

    # -- the journal: transfers of earlier runs ---------------------------------------------

    async def interrupted(self) -> list[TransferRecord]:
        """Transfers an earlier run left unfinished (crash, kill, quit), oldest first."""
        records = await self.journal.call(self.journal.journal.unfinished)
        return [record for record in records if record.id not in self._by_id]

    async def history(self, limit: int = 200) -> list[TransferRecord]:
        return await self.journal.call(self.journal.journal.transfers, limit=limit)

    async def _backend(self, ref: str | None) -> Backend:
        if ref in self._opened:
            return self._opened[ref]
        if self.opener is None:
            if ref is not None:
                raise NotFound(f"cannot reopen the connection {ref!r}: no opener configured")
            from ..backends.local import LocalBackend

            backend: Backend = LocalBackend()
        else:
            backend = await self.opener(ref)
        self._opened[ref] = backend
        return backend

    async def _request_of(self, record: TransferRecord) -> TransferRequest:
        spec = record.spec
        src, dst = spec["source"], spec["destination"]
        return TransferRequest(
            Endpoint(await self._backend(src["ref"]), src["path"], src["ref"]),
            Endpoint(await self._backend(dst["ref"]), dst["path"], dst["ref"]),
            recursive=bool(spec.get("recursive")),
            options=TransferOptions.from_json(spec.get("options") or {}))

    async def resume_record(self, record: TransferRecord,
                            options: Callable[[TransferOptions], TransferOptions] | None = None
                            ) -> Transfer:
        """Continue a transfer of an earlier run under its own id."""
        if not await self.journal.call(self.journal.journal.claim, record.id):
            raise Cancelled(f"transfer {record.id} is being run by another Orbit process")
        request = await self._request_of(record)
        if options is not None:
            request = TransferRequest(request.source, request.destination, request.recursive,
                                      options(request.options))
        return self.add(request, transfer_id=record.id)

    async def discard_record(self, record: TransferRecord) -> None:
        """Give up an earlier run's transfer: abort its uploads, remove partial files."""
        if not await self.journal.call(self.journal.journal.claim, record.id):
            raise Cancelled(f"transfer {record.id} is being run by another Orbit process")
        request = await self._request_of(record)
        files = await self.journal.call(self.journal.journal.unfinished_files, record.id)
        for file in files:
            await cleanup_file(file, request.destination.backend)
        await self.journal.call(self.journal.journal.finish_transfer, record.id, "cancelled")

    # -- shutdown ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop running transfers (they stay resumable in the journal) and close."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(t._halt(_Stop.SHUTDOWN) for t in self._transfers))
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for transfer in self._transfers:
            if transfer.state is TransferState.PAUSED:
                await self.journal.call(self.journal.journal.release, transfer.id)
        self.hub.close()
        await self.journal.aclose()
        self._opened.clear()  # the opener's owner closes what it opened

    async def __aenter__(self) -> TransferQueue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
