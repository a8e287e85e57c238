"""The sliding-window download against the real local backend.

Where a test must see or steer individual range reads (count them, hold one,
break one), it wraps the real LocalBackend in :class:`Observed`, which passes
every call through and only watches or delays ``read``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orbit_gui.engine import (
    AsyncReader,
    Backend,
    ConnectionFailed,
    Entry,
    IntegrityError,
    ListOptions,
    PermissionDenied,
    SourceChanged,
    WriteOptions,
)
from orbit_gui.engine.backends.local import TEMP_PREFIX, LocalBackend
from orbit_gui.engine.retry import RetryPolicy
from orbit_gui.engine.transfer import (
    LocalFileSink,
    RangeState,
    SlotEvent,
    WindowDownload,
    WindowOptions,
    WindowState,
    download_to_file,
    plain_md5,
)
from tests.contract.streams import pattern_bytes

SLOT = 4096
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)
GUARD = 30  # seconds: only a bound against a hung test, never a synchronisation


class Observed(Backend):
    """A real backend passed through, with its range reads recorded and steerable.

    ``before_read(offset, length)`` runs before a read starts (a test can hold it
    there); ``break_after[offset] = (n, error)`` makes the read starting at
    ``offset`` raise ``error`` once after yielding at least ``n`` bytes.
    """

    def __init__(self, inner: Backend) -> None:
        super().__init__()
        self.inner = inner
        self.features = inner.features
        self.reads: list[tuple[int, int | None]] = []
        self.before_read: Callable[[int, int | None], Awaitable[None]] | None = None
        self.break_after: dict[int, tuple[int, Exception]] = {}

    async def stat(self, path: str) -> Entry:
        return await self.inner.stat(path)

    def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        return self.inner.list(path, options)

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        self.reads.append((offset, length))
        if self.before_read is not None:
            await self.before_read(offset, length)
        fault = self.break_after.pop(offset, None)
        sent = 0
        async for chunk in self.inner.read(path, offset, length, if_match=if_match):
            yield chunk
            sent += len(chunk)
            if fault is not None and sent >= fault[0]:
                raise fault[1]

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        return await self.inner.write(path, reader, size_hint, options)

    async def mkdir(self, path: str, parents: bool = True) -> None:
        await self.inner.mkdir(path, parents)

    async def delete(self, path: str, recursive: bool = False) -> None:
        await self.inner.delete(path, recursive)

    async def rename(self, src: str, dst: str) -> None:
        await self.inner.rename(src, dst)


class Md5Tagged(Observed):
    """Reports the content MD5 as the ETag, the way S3 does for single-part objects."""

    def __init__(self, inner: Backend, md5: str) -> None:
        super().__init__(inner)
        self.md5 = md5

    async def stat(self, path: str) -> Entry:
        entry = await self.inner.stat(path)
        self.real_etag = entry.etag
        return Entry(entry.name, entry.path, entry.is_dir, entry.size, entry.mtime,
                     etag=f'"{self.md5}"')

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        assert if_match == f'"{self.md5}"'
        async for chunk in super().read(path, offset, length, if_match=self.real_etag):
            yield chunk


class Hold:
    """Holds the read starting at one offset until released; records when it arrived."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.arrived = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(self, offset: int, length: int | None) -> None:
        if offset == self.offset:
            self.arrived.set()
            await self.released.wait()


class Events:
    """Collects slot events; lets a test wait until some condition on them holds."""

    def __init__(self) -> None:
        self.items: list[SlotEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: SlotEvent) -> None:
        self.items.append(event)
        self._changed.set()

    def done_indices(self) -> set[int]:
        return {e.index for e in self.items if e.state is RangeState.DONE}

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(GUARD):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def make_source(tmp_path: Path, size: int, name: str = "source.bin") -> tuple[str, bytes]:
    data = pattern_bytes(size)
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), data


def rewrite(path: str, data: bytes, offset: int | None = None) -> None:
    """Replace a file's content, or overwrite bytes at ``offset`` in place."""
    if offset is None:
        Path(path).write_bytes(data)
        return
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(TEMP_PREFIX))


def check_events(events: Iterable[SlotEvent], size: int, slot: int,
                 expect_indices: Iterable[int] | None = None) -> None:
    """Every range done exactly once with all its bytes; progress only grows."""
    events = list(events)
    count = -(-size // slot)
    wanted = set(range(count) if expect_indices is None else expect_indices)
    done = Counter(e.index for e in events if e.state is RangeState.DONE)
    assert set(done) == wanted and all(n == 1 for n in done.values())
    last_done: dict[int, int] = defaultdict(int)
    previous_total = -1
    for event in events:
        assert event.total_size == size
        assert event.offset == event.index * slot
        assert event.length == min(slot, size - event.offset)
        assert 0 <= event.done <= event.length
        if event.state is RangeState.IN_FLIGHT:
            assert event.done >= last_done[event.index]
        last_done[event.index] = event.done
        if event.state is RangeState.DONE:
            assert event.done == event.length
        assert event.total_done >= previous_total
        previous_total = event.total_done
    if events:
        assert events[-1].total_done == size


SIZES = [0, 1, SLOT - 1, SLOT, SLOT + 1, 9 * SLOT + 123]


@pytest.mark.parametrize("window", [1, 4, 8])
@pytest.mark.parametrize("size", SIZES)
async def test_download_is_byte_identical(tmp_path: Path, window: int, size: int) -> None:
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "out" / "copy.bin"
    events = Events()
    # Chunks of 1000 bytes against a 1500-byte write buffer: gathered writes that
    # straddle chunk boundaries, and a last short write per range.
    backend = Observed(LocalBackend(chunk_size=1000))
    options = WindowOptions(window=window, slot_size=SLOT, write_buffer=1500)

    result = await download_to_file(backend, source, str(destination), options=options,
                                    on_event=events)

    assert destination.read_bytes() == data
    assert leftovers(destination.parent) == []
    assert result.fetched == size and result.ranges == -(-size // SLOT)
    check_events(events.items, size, SLOT)
    assert sorted(backend.reads) == [(o, min(SLOT, size - o)) for o in range(0, size, SLOT)]
    slots_used = {e.slot for e in events.items}
    assert slots_used <= set(range(window))


async def test_large_chunks_are_written_directly_and_batches_work(tmp_path: Path) -> None:
    size = 7 * SLOT + 5
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    events = Events()
    options = WindowOptions(window=3, slot_size=SLOT, batched=True, write_buffer=512)
    await download_to_file(LocalBackend(chunk_size=SLOT), source, str(destination),
                           options=options, on_event=events)
    assert destination.read_bytes() == data
    check_events(events.items, size, SLOT)


async def test_window_refills_the_moment_a_range_completes(tmp_path: Path) -> None:
    """While range 1 is held, every other range is fetched by the remaining slots."""
    source, data = make_source(tmp_path, 10 * SLOT)
    backend = Observed(LocalBackend())
    hold = backend.before_read = Hold(1 * SLOT)
    events = Events()
    destination = tmp_path / "copy.bin"
    task = asyncio.create_task(download_to_file(
        backend, source, str(destination), options=WindowOptions(window=4, slot_size=SLOT),
        on_event=events))

    others = set(range(10)) - {1}
    await events.wait_for(lambda: events.done_indices() >= others)
    assert hold.arrived.is_set() and 1 not in events.done_indices()
    hold.released.set()
    async with asyncio.timeout(GUARD):
        await task
    assert destination.read_bytes() == data
    check_events(events.items, 10 * SLOT, SLOT)


async def test_batches_wait_for_their_slowest_range(tmp_path: Path) -> None:
    """Stop-and-wait: no range of the next batch starts while one of this batch is held."""
    source, data = make_source(tmp_path, 10 * SLOT)
    backend = Observed(LocalBackend())
    hold = backend.before_read = Hold(1 * SLOT)
    events = Events()
    destination = tmp_path / "copy.bin"
    task = asyncio.create_task(download_to_file(
        backend, source, str(destination),
        options=WindowOptions(window=4, slot_size=SLOT, batched=True), on_event=events))

    await events.wait_for(lambda: events.done_indices() >= {0, 2, 3})
    await hold.arrived.wait()
    hold.released.set()
    async with asyncio.timeout(GUARD):
        await task
    assert destination.read_bytes() == data
    order = [(e.index, e.state) for e in events.items]
    range_1_done = order.index((1, RangeState.DONE))
    assert all(index < 4 for index, _ in order[:range_1_done])
    check_events(events.items, 10 * SLOT, SLOT)


async def interrupted_download(tmp_path: Path, source: str, destination: Path, *,
                               held_offset: int, window: int = 2,
                               ) -> tuple[WindowState, Events]:
    """Start a download, hold the range at ``held_offset`` until every other range is
    done, then cancel it; return the last checkpoint."""
    backend = Observed(LocalBackend())
    backend.before_read = Hold(held_offset)
    events = Events()
    checkpoints: list[WindowState] = []
    size = os.stat(source).st_size
    count = -(-size // SLOT)
    task = asyncio.create_task(download_to_file(
        backend, source, str(destination), options=WindowOptions(window=window, slot_size=SLOT),
        on_event=events, on_checkpoint=checkpoints.append))
    others = set(range(count)) - {held_offset // SLOT}
    await events.wait_for(lambda: events.done_indices() >= others)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return checkpoints[-1], events


async def test_cancelled_download_publishes_nothing_and_resumes_only_missing_ranges(
        tmp_path: Path) -> None:
    size = 8 * SLOT + 100
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"

    state, _ = await interrupted_download(tmp_path, source, destination, held_offset=5 * SLOT)

    assert not destination.exists()
    assert state.done == [(0, 5), (6, 9)]
    assert state.partial_path is not None and leftovers(tmp_path) == [
        os.path.basename(state.partial_path)]
    # The checkpoint survives a trip through JSON-ready data.
    state = WindowState.from_dict(state.to_dict())

    backend = Observed(LocalBackend())
    events = Events()
    result = await download_to_file(backend, source, str(destination), state=state,
                                    options=WindowOptions(window=4, slot_size=SLOT),
                                    on_event=events)
    assert destination.read_bytes() == data
    assert backend.reads == [(5 * SLOT, SLOT)]
    assert result.fetched == SLOT and result.ranges == 1
    assert leftovers(tmp_path) == []
    check_events(events.items, size, SLOT, expect_indices=[5])
    assert events.items[0].total_done == size - SLOT


async def test_a_failed_range_resumes_from_the_byte_where_it_stopped(tmp_path: Path) -> None:
    size = 4 * SLOT
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    backend = Observed(LocalBackend(chunk_size=1024))
    backend.break_after[2 * SLOT] = (3000, PermissionDenied("refused"))
    checkpoints: list[WindowState] = []
    options = WindowOptions(window=1, slot_size=SLOT, write_buffer=1024)

    with pytest.raises(PermissionDenied):
        await download_to_file(backend, source, str(destination), options=options,
                               on_checkpoint=checkpoints.append)

    state = checkpoints[-1]
    assert state.done == [(0, 2)] and state.partial == {2: 3072}
    assert not destination.exists()

    again = Observed(LocalBackend())
    await download_to_file(again, source, str(destination), options=options, state=state)
    assert destination.read_bytes() == data
    assert again.reads == [(2 * SLOT + 3072, SLOT - 3072), (3 * SLOT, SLOT)]


async def test_resume_from_an_offset(tmp_path: Path) -> None:
    size = 3 * SLOT + 10
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    entry = await LocalBackend().stat(source)
    sink = await LocalFileSink.open(str(destination))
    offset = SLOT + 700
    await sink.write_at(0, data[:offset])
    await sink.abort()
    state = WindowState.from_offset(source, size, offset, slot_size=SLOT, etag=entry.etag,
                                    partial_path=sink.temp_path)

    backend = Observed(LocalBackend())
    await download_to_file(backend, source, str(destination), state=state,
                           options=WindowOptions(slot_size=SLOT))
    assert destination.read_bytes() == data
    assert sorted(backend.reads) == [(offset, SLOT - 700), (2 * SLOT, SLOT), (3 * SLOT, 10)]


async def test_a_changed_source_is_refused_on_resume(tmp_path: Path) -> None:
    size = 6 * SLOT
    source, _ = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    state, _ = await interrupted_download(tmp_path, source, destination, held_offset=2 * SLOT)

    rewrite(source, bytes(size))  # same size, other content, new version
    with pytest.raises(SourceChanged):
        await download_to_file(LocalBackend(), source, str(destination), state=state,
                               options=WindowOptions(slot_size=SLOT))
    assert not destination.exists()
    assert leftovers(tmp_path) == []  # the stale partial data is worthless: removed


async def test_a_source_changing_mid_download_is_never_spliced(tmp_path: Path) -> None:
    size = 6 * SLOT
    source, _ = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    backend = Observed(LocalBackend())
    hold = backend.before_read = Hold(3 * SLOT)
    task = asyncio.create_task(download_to_file(
        backend, source, str(destination), options=WindowOptions(window=2, slot_size=SLOT)))
    async with asyncio.timeout(GUARD):
        await hold.arrived.wait()
    rewrite(source, bytes(size + 1))
    hold.released.set()
    with pytest.raises(SourceChanged):
        await task
    assert not destination.exists()
    assert leftovers(tmp_path) == []


async def test_retriable_errors_retry_the_range_from_where_it_stopped(tmp_path: Path) -> None:
    size = 3 * SLOT
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    backend = Observed(LocalBackend(chunk_size=1024))
    backend.break_after[SLOT] = (2048, ConnectionFailed("connection reset"))
    events = Events()
    options = WindowOptions(window=2, slot_size=SLOT, write_buffer=1024, retry=FAST_RETRY)

    await download_to_file(backend, source, str(destination), options=options, on_event=events)

    assert destination.read_bytes() == data
    assert sorted(backend.reads) == [(0, SLOT), (SLOT, SLOT), (SLOT + 2048, SLOT - 2048),
                                     (2 * SLOT, SLOT)]
    retried = [e for e in events.items if e.index == 1 and e.state is not RangeState.IN_FLIGHT]
    assert [(e.state, e.attempt) for e in retried] == [(RangeState.PENDING, 2),
                                                      (RangeState.DONE, 2)]
    assert isinstance(retried[0].error, ConnectionFailed)
    check_events(events.items, size, SLOT)


async def test_retries_are_bounded(tmp_path: Path) -> None:
    source, _ = make_source(tmp_path, 2 * SLOT)
    destination = tmp_path / "copy.bin"
    backend = Observed(LocalBackend())

    async def always_fail(offset: int, length: int | None) -> None:
        if offset >= SLOT:
            raise ConnectionFailed("no route to host")

    backend.before_read = always_fail
    events = Events()
    with pytest.raises(ConnectionFailed):
        await download_to_file(backend, source, str(destination), on_event=events,
                               options=WindowOptions(window=2, slot_size=SLOT, retry=FAST_RETRY))
    failed = [e for e in events.items if e.state is RangeState.FAILED]
    assert [(e.index, e.attempt) for e in failed] == [(1, 3)]
    assert len([r for r in backend.reads if r[0] >= SLOT]) == 3
    assert not destination.exists()


@pytest.mark.parametrize("keep_partial", [True, False])
async def test_a_fatal_error_cancels_the_other_slots(tmp_path: Path, keep_partial: bool) -> None:
    source, _ = make_source(tmp_path, 8 * SLOT)
    destination = tmp_path / "copy.bin"
    backend = Observed(LocalBackend())
    hold = Hold(0)  # range 0 never finishes: only cancellation ends it

    async def steer(offset: int, length: int | None) -> None:
        if offset == SLOT:
            await hold.arrived.wait()
            raise PermissionDenied("access denied")
        await hold(offset, length)

    backend.before_read = steer
    with pytest.raises(PermissionDenied):
        async with asyncio.timeout(GUARD):
            await download_to_file(backend, source, str(destination), keep_partial=keep_partial,
                                   options=WindowOptions(window=2, slot_size=SLOT))
    assert not destination.exists()
    assert len(leftovers(tmp_path)) == (1 if keep_partial else 0)
    assert sorted(backend.reads) == [(0, SLOT), (SLOT, SLOT)]


async def test_md5_etag_is_verified(tmp_path: Path) -> None:
    size = 5 * SLOT + 17
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    backend = Md5Tagged(LocalBackend(chunk_size=1000), hashlib.md5(data).hexdigest())
    result = await download_to_file(backend, source, str(destination),
                                    options=WindowOptions(window=3, slot_size=SLOT))
    assert result.verified_md5
    assert destination.read_bytes() == data


async def test_md5_mismatch_publishes_nothing(tmp_path: Path) -> None:
    source, _ = make_source(tmp_path, 3 * SLOT)
    destination = tmp_path / "copy.bin"
    backend = Md5Tagged(LocalBackend(), "0" * 32)
    with pytest.raises(IntegrityError, match="MD5"):
        await download_to_file(backend, source, str(destination),
                               options=WindowOptions(slot_size=SLOT))
    assert not destination.exists()
    assert leftovers(tmp_path) == []

    result = await download_to_file(backend, source, str(destination),
                                    options=WindowOptions(slot_size=SLOT, verify_md5=False))
    assert not result.verified_md5 and destination.exists()


async def test_md5_is_verified_over_resumed_bytes_too(tmp_path: Path) -> None:
    size = 6 * SLOT
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    state, _ = await interrupted_download(tmp_path, source, destination, held_offset=4 * SLOT)
    assert state.partial_path is not None
    # Damage a finished range inside the partial file: the whole-file MD5 must notice.
    rewrite(state.partial_path, b"X", offset=10)
    backend = Md5Tagged(LocalBackend(), hashlib.md5(data).hexdigest())
    # The checkpoint's ETag is the local one; resume against the MD5 tag it reports.
    state.etag = f'"{backend.md5}"'
    with pytest.raises(IntegrityError):
        await download_to_file(backend, source, str(destination), state=state,
                               options=WindowOptions(slot_size=SLOT))
    assert not destination.exists()


def test_plain_md5_recognises_only_content_md5_etags() -> None:
    def entry(etag: str | None, **extra: str) -> Entry:
        return Entry("f", "/b/f", False, 1, etag=etag, extra=extra)

    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    assert plain_md5(entry(f'"{md5}"')) == md5
    assert plain_md5(entry(md5.upper())) == md5
    assert plain_md5(entry(f'"{md5}-3"')) is None
    assert plain_md5(entry(None)) is None
    assert plain_md5(entry("17a9c2-1000-2")) is None
    assert plain_md5(entry(md5, sse="aws:kms")) is None


async def test_a_file_that_is_a_folder_or_taken_is_refused(tmp_path: Path) -> None:
    from orbit_gui.engine import AlreadyExists, IsADirectory

    source, _ = make_source(tmp_path, 10)
    with pytest.raises(IsADirectory):
        await download_to_file(LocalBackend(), str(tmp_path), str(tmp_path / "x"))
    (tmp_path / "taken").write_bytes(b"mine")
    with pytest.raises(AlreadyExists):
        await download_to_file(LocalBackend(), source, str(tmp_path / "taken"), overwrite=False)
    assert (tmp_path / "taken").read_bytes() == b"mine"
    assert leftovers(tmp_path) == []


async def test_a_lost_partial_file_means_starting_over(tmp_path: Path) -> None:
    size = 4 * SLOT
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    state, _ = await interrupted_download(tmp_path, source, destination, held_offset=SLOT)
    assert state.partial_path is not None
    os.unlink(state.partial_path)
    backend = Observed(LocalBackend())
    await download_to_file(backend, source, str(destination), state=state,
                           options=WindowOptions(slot_size=SLOT))
    assert destination.read_bytes() == data
    assert len(backend.reads) == 4


async def test_a_non_ranged_backend_gets_one_range(tmp_path: Path) -> None:
    from orbit_gui.engine import Features

    source, data = make_source(tmp_path, 5 * SLOT)
    backend = Observed(LocalBackend())
    backend.features = Features(ranged_read=False)
    destination = tmp_path / "copy.bin"
    await download_to_file(backend, source, str(destination),
                           options=WindowOptions(slot_size=SLOT))
    assert destination.read_bytes() == data
    assert backend.reads == [(0, 5 * SLOT)]


async def test_download_into_a_custom_sink(tmp_path: Path) -> None:
    """The window writes into any RangeSink, not only a local file."""
    source, data = make_source(tmp_path, 3 * SLOT + 1)

    class Memory:
        def __init__(self) -> None:
            self.buffer = bytearray(len(data))
            self.finished = False

        async def write_at(self, offset: int, chunk: bytes | bytearray | memoryview) -> None:
            self.buffer[offset : offset + len(chunk)] = chunk

        async def finish(self) -> None:
            self.finished = True

        async def abort(self, *, discard: bool = False) -> None:
            raise AssertionError("not expected")

    sink = Memory()
    await WindowDownload(LocalBackend(), source, sink,
                         options=WindowOptions(slot_size=SLOT, window=2)).run()
    assert sink.finished and bytes(sink.buffer) == data


# The checkpoint itself.


@given(st.integers(0, 40).flatmap(lambda n: st.permutations(list(range(n)))))
def test_done_ranges_merge_into_runs_in_any_order(order: list[int]) -> None:
    state = WindowState("/f", len(order) * 10, 10)
    for position, index in enumerate(order):
        state.mark_done(index)
        state.mark_done(index)  # twice is harmless
        finished = set(order[: position + 1])
        assert {i for i in range(len(order)) if state.is_done(i)} == finished
        assert list(state.missing()) == [i for i in range(len(order)) if i not in finished]
        runs = state.done
        assert all(a < b for a, b in runs)
        assert all(runs[k][1] < runs[k + 1][0] for k in range(len(runs) - 1))
    assert state.is_complete() and state.bytes_done() == state.size


def test_checkpoint_round_trips_and_rejects_nonsense() -> None:
    state = WindowState.from_offset("/b/k", 100, 35, slot_size=10, etag='"e"', mtime=1.5,
                                    partial_path="/tmp/.orbit-partial-x")
    assert state.done == [(0, 3)] and state.partial == {3: 5}
    assert state.bytes_done() == state.contiguous_bytes() == state.extent() == 35
    assert WindowState.from_dict(state.to_dict()) == state
    bad = [
        {**state.to_dict(), "done": [[0, 20]]},
        {**state.to_dict(), "done": [[2, 1]]},
        {**state.to_dict(), "partial": {"3": 10}},
        {**state.to_dict(), "partial": {"1": 2}},
        {**state.to_dict(), "size": "100"},
        {key: value for key, value in state.to_dict().items() if key != "etag"},
    ]
    for data in bad:
        with pytest.raises(ValueError):
            WindowState.from_dict(data)
    assert WindowState("/e", 0, 10).range_count == 0
    assert WindowState("/e", 0, 10).is_complete()
