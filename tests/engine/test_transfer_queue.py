"""The transfer queue on real local files: trees, lazy walks, hostile names, pause,
resume, cancel, retries, limits and ordering.

Sources are the real LocalBackend, wrapped in :class:`Steered` where a test has
to hold a read at a gate or break it; ``PartStore`` is a real local folder
offered through a positional part API (what SFTP and SMB give). Tests wait on
events, never on time; ``GUARD`` only bounds a hung test.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orbit_gui.engine import ConnectionFailed, PermissionDenied
from orbit_gui.engine.backends.local import TEMP_PREFIX, LocalBackend
from orbit_gui.engine.retry import RetryPolicy
from orbit_gui.engine.transfer import (
    ConflictPolicy,
    Endpoint,
    PartState,
    Transfer,
    TransferEvent,
    TransferOptions,
    TransferQueue,
    TransferRequest,
    TransferSnapshot,
    TransferState,
)
from orbit_gui.engine.transfer.scheduler import SMALL_PER_SLOT, Scheduler
from tests.transfer_support import (
    PartStore,
    Steered,
    make_tree,
    sha256_file,
    tree_digest,
    write_pattern,
)

MiB = 1024 * 1024
GUARD = 60
FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0)


def options(**kwargs: object) -> TransferOptions:
    kwargs.setdefault("conflict", ConflictPolicy.OVERWRITE)
    kwargs.setdefault("retry", FAST)
    return TransferOptions(**kwargs)  # type: ignore[arg-type]


class Watch:
    """Collects snapshots; ``until(predicate)`` waits for one that matches."""

    def __init__(self, queue: TransferQueue) -> None:
        self.events: list[TransferSnapshot] = []
        self._waiters: list[tuple[Callable[[TransferSnapshot], bool], asyncio.Future[
            TransferSnapshot]]] = []
        queue.hub.add_listener(self._on)

    def _on(self, event: TransferEvent) -> None:
        if not isinstance(event, TransferSnapshot):
            return
        self.events.append(event)
        for waiter in list(self._waiters):
            predicate, future = waiter
            if not future.done() and predicate(event):
                future.set_result(event)
                self._waiters.remove(waiter)

    async def until(self, predicate: Callable[[TransferSnapshot], bool]) -> TransferSnapshot:
        for event in self.events:
            if predicate(event):
                return event
        future: asyncio.Future[TransferSnapshot] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return await asyncio.wait_for(future, GUARD)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def escaped(folder: Path) -> list[Path]:
    return list(folder.rglob("escape*"))


def partials(folder: Path) -> list[str]:
    return [name for _, _, files in os.walk(folder) for name in files
            if name.startswith(TEMP_PREFIX)]


async def test_folder_tree_of_1000_small_and_some_large_files(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src, small=1000, large=(24 * MiB + 3, 9 * MiB))
    local = LocalBackend()
    async with TransferQueue() as queue:
        transfer = queue.add(TransferRequest(
            Endpoint(local, str(src)), Endpoint(local, str(dst)), recursive=True,
            options=options(part_size=4 * MiB)))
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.files_done == snap.files_total == 1002
    assert snap.bytes_done == snap.total == sum(
        p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert not snap.counting
    assert tree_digest(dst) == tree_digest(src)


async def test_first_file_moves_while_the_walk_still_counts(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src, small=30, fanout=1)
    source = Steered(LocalBackend())
    source.after_first_entry = asyncio.Event()
    async with TransferQueue() as queue:
        watch = Watch(queue)
        transfer = queue.add(TransferRequest(Endpoint(source, str(src)),
                                             Endpoint(LocalBackend(), str(dst)),
                                             recursive=True, options=options()))
        first = await watch.until(lambda s: s.files_done >= 1)
        assert first.counting  # the listing is held after its first entry
        assert first.files_total == 1
        source.after_first_entry.set()
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE and snap.files_done == 30
    assert tree_digest(dst) == tree_digest(src)


async def test_hostile_remote_names_fail_alone_and_write_nothing_outside(
        tmp_path: Path) -> None:
    from orbit_gui.engine import Entry

    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src, small=5, fanout=1)
    source = Steered(LocalBackend())
    hostile = ["../escape.txt", "a/../../escape2.txt", "a\\..\\..\\escape3.txt", "bad\x00name",
               "ctl\x1bname"]
    source.extra_entries = [Entry(name=name.rsplit("/", 1)[-1], path=f"{src}/{name}",
                                  is_dir=False, size=3) for name in hostile]
    source.extra_entries.append(Entry(name="passwd", path="/etc/passwd", is_dir=False, size=3))
    async with TransferQueue() as queue:
        transfer = queue.add(TransferRequest(Endpoint(source, str(src)),
                                             Endpoint(LocalBackend(), str(dst)),
                                             recursive=True, options=options()))
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.FAILED
    assert snap.files_done == 5 and snap.files_failed == len(hostile) + 1
    assert all("refusing" in failure.error or "not inside" in failure.error
               for failure in snap.failures)
    assert names(tmp_path) == ["dst", "src"]
    assert not escaped(tmp_path)
    assert tree_digest(dst) == tree_digest(src)


async def test_pause_resume_and_cancel_of_a_windowed_download(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    write_pattern(src, 6 * MiB + 123)
    source = Steered(LocalBackend())
    gate = asyncio.Event()

    async def hold(path: str, offset: int, length: int | None) -> None:
        if offset >= 2 * MiB:
            await gate.wait()

    source.before_read = hold
    dst = tmp_path / "out" / "big.bin"
    async with TransferQueue() as queue:
        watch = Watch(queue)
        transfer = queue.add(TransferRequest(
            Endpoint(source, str(src)), Endpoint(LocalBackend(), str(dst)),
            options=options(part_size=MiB, window=2)))
        await watch.until(lambda s: sum(p.state is PartState.DONE for p in s.parts) == 2)
        await queue.pause(transfer.id)
        paused = transfer.snapshot()
        assert paused.state is TransferState.PAUSED
        assert paused.bytes_done == 2 * MiB  # what is in the partial file stays counted
        assert not dst.exists() and len(partials(dst.parent)) == 1
        journal = queue.journal.journal
        record = journal.file(transfer.id, "")
        assert record is not None and record.checkpoint is not None
        assert record.checkpoint["done"] == [[0, 2]]

        source.before_read = None
        source.reads.clear()
        await queue.resume(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert snap.resumed_bytes == 2 * MiB
        assert sorted(offset for _, offset, _ in source.reads) == [
            2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB, 6 * MiB]
        assert sha256_file(dst) == sha256_file(src)
        assert partials(dst.parent) == []

        # Cancel: the partial file goes, nothing appears.
        dst2 = tmp_path / "out" / "again.bin"
        gate.clear()
        source.before_read = hold
        second = queue.add(TransferRequest(
            Endpoint(source, str(src)), Endpoint(LocalBackend(), str(dst2)),
            options=options(part_size=MiB, window=2)))
        await watch.until(lambda s: s.id == second.id and sum(
            p.state is PartState.DONE for p in s.parts) == 2)
        await queue.cancel(second.id)
        assert second.snapshot().state is TransferState.CANCELLED
        assert not dst2.exists() and partials(dst2.parent) == []
        assert journal.files(second.id) == []


async def test_pause_resume_and_cancel_of_a_part_upload(tmp_path: Path) -> None:
    src = tmp_path / "up.bin"
    write_pattern(src, 5 * MiB + 77)
    store = PartStore(LocalBackend())
    gate = asyncio.Event()

    async def hold(offset: int) -> None:
        if offset >= 2 * MiB:
            await gate.wait()

    store.before_part = hold
    dst = tmp_path / "remote" / "up.bin"
    async with TransferQueue() as queue:
        watch = Watch(queue)
        transfer = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(src)), Endpoint(store, str(dst)),
            options=options(part_size=MiB, window=2, multipart_threshold=MiB)))
        await watch.until(lambda s: sum(p.state is PartState.DONE for p in s.parts) == 2)
        await queue.pause(transfer.id)
        assert transfer.snapshot().state is TransferState.PAUSED
        journal = queue.journal.journal
        record = journal.file(transfer.id, "")
        assert record is not None and record.upload_id == store.opened[0]
        assert [p.index for p in journal.parts(transfer.id, "")] == [0, 1]
        assert not dst.exists()

        store.before_part = None
        store.part_writes.clear()
        await queue.resume(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert store.opened == [store.opened[0]] * 2  # the same session, reopened
        assert sorted(store.part_writes) == [2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB]
        assert sha256_file(dst) == sha256_file(src)
        assert partials(dst.parent) == []

        gate.clear()
        store.before_part = hold
        dst2 = tmp_path / "remote" / "again.bin"
        second = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(src)), Endpoint(store, str(dst2)),
            options=options(part_size=MiB, window=2, multipart_threshold=MiB)))
        await watch.until(lambda s: s.id == second.id and sum(
            p.state is PartState.DONE for p in s.parts) == 2)
        await queue.cancel(second.id)
        assert second.snapshot().state is TransferState.CANCELLED
        assert not dst2.exists() and partials(dst2.parent) == []


class HeldRetry(RetryPolicy):
    """The engine's policy with its backoff held at a gate the test opens."""

    gate: asyncio.Event | None = None

    async def wait(self, attempt: int) -> None:
        assert HeldRetry.gate is not None
        await HeldRetry.gate.wait()


async def test_parts_and_ranges_are_retried_one_by_one(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    write_pattern(src, 4 * MiB + 5)
    store = PartStore(LocalBackend())
    failed: set[int] = set()

    def flaky_part(offset: int) -> Exception | None:
        if offset % (2 * MiB) == 0 and offset not in failed:
            failed.add(offset)
            return ConnectionFailed("connection reset by the test")
        return None

    store.fail_part = flaky_part
    source = Steered(LocalBackend())
    broken: set[int] = set()

    def flaky_read(path: str, offset: int, sent: int) -> Exception | None:
        if offset == MiB and offset not in broken and sent >= 1:
            broken.add(offset)
            return ConnectionFailed("read reset by the test")
        return None

    source.fail_read = flaky_read
    HeldRetry.gate = asyncio.Event()
    retry = HeldRetry(max_attempts=3, base_delay=0.0, max_delay=0.0)
    async with TransferQueue() as queue:
        watch = Watch(queue)
        up = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(src)), Endpoint(store, str(tmp_path / "r" / "up.bin")),
            options=options(part_size=MiB, window=2, multipart_threshold=MiB, retry=retry)))
        down = queue.add(TransferRequest(
            Endpoint(source, str(src)), Endpoint(LocalBackend(), str(tmp_path / "down.bin")),
            options=options(part_size=MiB, window=2, retry=retry)))
        for transfer in (up, down):
            held = await watch.until(lambda s, t=transfer: s.id == t.id  # type: ignore[misc]
                                     and s.state is TransferState.RETRYING)
            assert held.attempt == 2 and held.max_attempts == 3
            assert "reset by the test" in (held.error or "")
            assert any(p.state is PartState.RETRYING and p.attempt == 2 for p in held.parts)
        HeldRetry.gate.set()
        results = await asyncio.wait_for(asyncio.gather(up.wait(), down.wait()), GUARD)
    assert [r.state for r in results] == [TransferState.DONE, TransferState.DONE]
    assert failed == {0, 2 * MiB, 4 * MiB} and broken == {MiB}
    assert sha256_file(tmp_path / "r" / "up.bin") == sha256_file(src)
    assert sha256_file(tmp_path / "down.bin") == sha256_file(src)


async def test_a_non_retriable_error_fails_fast_and_retry_continues(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    write_pattern(src, 3 * MiB)
    source = Steered(LocalBackend())
    attempts: list[int] = []

    def denied(path: str, offset: int, sent: int) -> Exception | None:
        if offset == 2 * MiB:
            attempts.append(offset)
            return PermissionDenied(f"{path}: permission denied by the test", path=path)
        return None

    source.fail_read = denied
    dst = tmp_path / "dst.bin"
    async with TransferQueue() as queue:
        transfer = queue.add(TransferRequest(
            Endpoint(source, str(src)), Endpoint(LocalBackend(), str(dst)),
            options=options(part_size=MiB, window=1)))
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
        assert snap.state is TransferState.FAILED
        assert snap.error is not None and "permission denied by the test" in snap.error
        assert attempts == [2 * MiB]  # no retry of a non-retriable error
        source.fail_read = None
        source.reads.clear()
        await queue.retry(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE
    assert [offset for _, offset, _ in source.reads] == [2 * MiB]  # the rest was kept
    assert sha256_file(dst) == sha256_file(src)


class HeldReads:
    """A local source whose reads wait at a gate: which files are in flight, at most."""

    def __init__(self) -> None:
        self.source = Steered(LocalBackend())
        self.gate = asyncio.Event()
        self.in_flight: set[str] = set()
        self.peak = 0
        self._changed = asyncio.Event()
        self.source.before_read = self._hold

    async def _hold(self, path: str, offset: int, length: int | None) -> None:
        self.in_flight.add(path)
        self.peak = max(self.peak, len(self.in_flight))
        self._changed.set()
        await self.gate.wait()

    async def reach(self, count: int) -> None:
        while len(self.in_flight) < count:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), GUARD)

    async def waiting(self, queue: TransferQueue, count: int) -> None:
        """Until ``count`` files wait for a slot. The folder hands the next file to the
        scheduler a thread hop or two after the ones in flight, so this waits for it."""
        while queue.scheduler.waiting != count:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), GUARD)

    def _watch(self, scheduler: Scheduler) -> None:
        """Wake :meth:`waiting` whenever a file asks ``scheduler`` for a slot."""
        acquire = scheduler.acquire

        async def observed(*args: Any, **kwargs: Any) -> Any:
            # Set on the next loop turn, once the file is queued inside acquire().
            asyncio.get_running_loop().call_soon(self._changed.set)
            return await acquire(*args, **kwargs)

        scheduler.acquire = observed  # type: ignore[method-assign]

    def folder(self, queue: TransferQueue, src: Path, dst: Path,
               transfer_options: TransferOptions) -> Transfer:
        self._watch(queue.scheduler)
        return queue.add(TransferRequest(Endpoint(self.source, str(src)),
                                         Endpoint(LocalBackend(), str(dst)),
                                         recursive=True, options=transfer_options))


async def test_concurrency_limit_holds_and_can_change_while_running(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src, small=8, fanout=1)
    reads = HeldReads()
    async with TransferQueue(concurrency=2) as queue:
        # Every file counts as large here (a slot each); small ones share slots (below).
        transfer = reads.folder(queue, src, dst, options(multipart_threshold=1))
        await reads.reach(2)
        await reads.waiting(queue, 1)
        assert queue.scheduler.active == 2
        queue.set_concurrency(4)
        await reads.reach(4)
        assert queue.scheduler.active == 4 and len(reads.in_flight) == 4 == reads.peak
        reads.gate.set()
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE
    assert tree_digest(dst) == tree_digest(src)


async def test_small_files_of_a_folder_go_four_to_a_slot(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src, small=3 * SMALL_PER_SLOT, fanout=1)
    reads = HeldReads()
    async with TransferQueue(concurrency=2) as queue:
        transfer = reads.folder(queue, src, dst, options())
        await reads.reach(2 * SMALL_PER_SLOT)
        await reads.waiting(queue, 1)  # the next file waits for a share
        assert queue.scheduler.active == 2 * SMALL_PER_SLOT, "two slots, four files each"
        assert len(reads.in_flight) == 2 * SMALL_PER_SLOT
        reads.gate.set()
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE
    assert tree_digest(dst) == tree_digest(src)


async def test_queue_order_priority_and_no_item_stuck(tmp_path: Path) -> None:
    files = []
    for name in "abcde":
        path = tmp_path / f"{name}.bin"
        path.write_bytes(name.encode() * 1000)
        files.append(path)
    source = Steered(LocalBackend())
    gate = asyncio.Event()
    started: list[str] = []
    first_read = asyncio.Event()

    async def hold(path: str, offset: int, length: int | None) -> None:
        started.append(os.path.basename(path))
        first_read.set()
        await gate.wait()

    source.before_read = hold
    out = tmp_path / "out"
    def add(queue: TransferQueue, path: Path) -> Transfer:
        return queue.add(TransferRequest(Endpoint(source, str(path)),
                                         Endpoint(LocalBackend(), str(out / path.name)),
                                         options=options()))

    async with TransferQueue(concurrency=1) as queue:
        # a holds the only slot before the others are queued: transfers that prepare at
        # the same moment start in whichever order their preparation ends.
        transfers = [add(queue, files[0])]
        await asyncio.wait_for(first_read.wait(), GUARD)
        transfers += [add(queue, path) for path in files[1:]]
        assert started == ["a.bin"]
        queue.move(transfers[4].id, 0)  # e goes first among those waiting
        queue.set_priority(transfers[3].id, 5)  # d outranks any position
        await queue.pause(transfers[2].id)  # c waits paused
        await queue.cancel(transfers[1].id)  # b never runs
        assert transfers[1].snapshot().state is TransferState.CANCELLED
        gate.set()
        done = await asyncio.wait_for(asyncio.gather(
            transfers[0].wait(), transfers[3].wait(), transfers[4].wait()), GUARD)
        assert [s.state for s in done] == [TransferState.DONE] * 3
        assert started == ["a.bin", "d.bin", "e.bin"]
        assert transfers[2].snapshot().state is TransferState.PAUSED
        await queue.resume(transfers[2].id)
        assert (await asyncio.wait_for(transfers[2].wait(), GUARD)).state is TransferState.DONE
    assert sorted(p.name for p in out.iterdir()) == ["a.bin", "c.bin", "d.bin", "e.bin"]


async def test_pause_all_and_resume_all_leave_nothing_waiting(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, small=40, fanout=4)
    source = Steered(LocalBackend())
    gate = asyncio.Event()
    reads = asyncio.Event()

    async def hold(path: str, offset: int, length: int | None) -> None:
        reads.set()
        await gate.wait()

    source.before_read = hold
    async with TransferQueue(concurrency=2) as queue:
        transfers = [queue.add(TransferRequest(
            Endpoint(source, str(src / f"d{i:02}")),
            Endpoint(LocalBackend(), str(tmp_path / f"out{i}")), recursive=True,
            options=options())) for i in range(4)]
        await asyncio.wait_for(reads.wait(), GUARD)
        await queue.pause_all()
        assert {t.snapshot().state for t in transfers} == {TransferState.PAUSED}
        assert queue.scheduler.active == 0 and queue.scheduler.waiting == 0
        source.before_read = None
        await queue.resume_all()
        snaps = await asyncio.wait_for(asyncio.gather(*(t.wait() for t in transfers)), GUARD)
    assert {s.state for s in snaps} == {TransferState.DONE}
    for i in range(4):
        assert tree_digest(tmp_path / f"out{i}") == tree_digest(src / f"d{i:02}")


class ThreadGate:
    """Wraps a blocking function run in a worker thread: the first call waits in its
    thread for :meth:`release`, then does its work (``entered`` / ``left`` say where it
    is). A cancelled ``await asyncio.to_thread(...)`` returns at once; the thread goes on
    and does the work after its caller has gone."""

    def __init__(self, func: Callable[..., object]) -> None:
        self.func = func
        self.loop = asyncio.get_running_loop()
        self.entered = asyncio.Event()
        self.left = asyncio.Event()
        self._go = threading.Event()
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        try:
            if self.calls == 1:
                self.loop.call_soon_threadsafe(self.entered.set)
                self._go.wait(GUARD)
            return self.func(*args, **kwargs)
        finally:
            if self.calls == 1:
                self.loop.call_soon_threadsafe(self.left.set)

    def release(self) -> None:
        self._go.set()


async def cancel_delivered(transfer_task: asyncio.Task[None]) -> None:
    """Wait (no clock) until the transfer's file tasks have been told to stop."""
    for _ in range(100_000):
        files = [t for t in asyncio.all_tasks()
                 if t.get_coro().__qualname__ == "Transfer._file"]  # type: ignore[union-attr]
        if transfer_task.cancelling() and all(t.cancelling() for t in files):
            return
        await asyncio.sleep(0)
    raise AssertionError("the pause never reached the file")


@pytest.mark.parametrize("size", [300, 3 * MiB], ids=["one-range", "journaled"])
async def test_pause_while_the_partial_file_is_being_made_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """A pause that lands while the worker thread creates the hidden partial file: after
    the pause no partial file is left (none made after it either), and the resume
    writes the file whole, again leaving none. The flaky pause_all test hit this."""
    from orbit_gui.engine.transfer import sink as sink_module

    src, out = tmp_path / "src.bin", tmp_path / "out"
    write_pattern(src, size)
    gate = ThreadGate(sink_module._open_temp)
    monkeypatch.setattr(sink_module, "_open_temp", gate)
    local = LocalBackend()
    async with TransferQueue() as queue:
        transfer = queue.add(TransferRequest(
            Endpoint(local, str(src)), Endpoint(local, str(out / "dst.bin")),
            options=options(part_size=MiB)))
        await asyncio.wait_for(gate.entered.wait(), GUARD)  # held, the file not made yet
        pausing = asyncio.create_task(queue.pause(transfer.id))
        assert transfer._task is not None
        await asyncio.wait_for(cancel_delivered(transfer._task), GUARD)
        gate.release()
        await asyncio.wait_for(asyncio.gather(pausing, gate.left.wait()), GUARD)
        assert transfer.snapshot().state is TransferState.PAUSED
        assert partials(out) == []
        await queue.resume(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE, snap.error
    assert names(out) == ["dst.bin"]
    assert sha256_file(out / "dst.bin") == sha256_file(src)


async def test_pause_while_a_stream_write_opens_its_temp_file_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for LocalBackend.write (the streaming path): cancelled while its thread
    opens the temporary file, it removes the file once the thread is done."""
    from orbit_gui.engine.backend import BytesReader
    from orbit_gui.engine.backends import local as local_module

    gate = ThreadGate(open)
    monkeypatch.setattr(local_module, "open", gate, raising=False)
    out = tmp_path / "out"
    writing = asyncio.create_task(LocalBackend().write(str(out / "f.bin"),
                                                       BytesReader(b"x" * 1000), 1000))
    await asyncio.wait_for(gate.entered.wait(), GUARD)
    writing.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    gate.release()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(writing, GUARD)
    await asyncio.wait_for(gate.left.wait(), GUARD)
    assert os.listdir(out) == []


async def test_bandwidth_limit_is_applied_to_the_data_path(tmp_path: Path) -> None:
    from orbit_gui.engine.transfer import TokenBucket

    src = tmp_path / "src.bin"
    write_pattern(src, 3 * MiB)
    taken: list[int] = []

    class Recording(TokenBucket):
        def reserve(self, amount: int) -> float:
            taken.append(amount)
            return 0.0

    async with TransferQueue(bwlimit=None) as queue:
        queue.bucket = Recording(1e12)
        transfer = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(src)), Endpoint(LocalBackend(), str(tmp_path / "d")),
            options=options(part_size=MiB)))
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE
    assert sum(taken) == 3 * MiB


async def test_a_limited_part_shows_its_bytes_as_the_limit_lets_them_through(
        tmp_path: Path) -> None:
    """Under a bandwidth limit the reading of a part is what the limit paces, so its
    row (and the transfer's total, their sum) counts the bytes read; without that a
    part sat at 0 B, then went out at once, and speed and ETA came in jumps."""
    from orbit_gui.engine.transfer import TokenBucket

    src = tmp_path / "up.bin"
    write_pattern(src, 3 * MiB)
    store = PartStore(LocalBackend())
    gate = asyncio.Event()

    async def hold(offset: int) -> None:
        await gate.wait()  # no part is sent until the test has looked

    store.before_part = hold
    async with TransferQueue(bwlimit=None) as queue:
        queue.bucket = TokenBucket(1e12)  # a limit that never makes anyone wait
        watch = Watch(queue)
        transfer = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(src)), Endpoint(store, str(tmp_path / "r" / "up.bin")),
            options=options(part_size=MiB, window=2, multipart_threshold=MiB)))
        snap = await watch.until(lambda s: any(
            p.state is PartState.IN_FLIGHT and p.bytes_done == p.length for p in s.parts))
        assert snap.bytes_done >= MiB
        assert partials(tmp_path / "r") != [] and all(
            (tmp_path / "r" / name).stat().st_size == 0 for name in partials(tmp_path / "r")), \
            "nothing was sent yet"
        gate.set()
        final = await asyncio.wait_for(transfer.wait(), GUARD)
    assert final.state is TransferState.DONE, final.error
    assert final.bytes_done == 3 * MiB


@pytest.mark.parametrize("count", [1, 3])
async def test_wait_all_and_snapshots(tmp_path: Path, count: int) -> None:
    local = LocalBackend()
    async with TransferQueue() as queue:
        for index in range(count):
            path = tmp_path / f"f{index}"
            path.write_bytes(b"x" * (index + 1))
            queue.add(TransferRequest(Endpoint(local, str(path)),
                                      Endpoint(local, str(tmp_path / "out" / path.name)),
                                      options=options()))
        snaps = await asyncio.wait_for(queue.wait_all(), GUARD)
        assert [s.state for s in snaps] == [TransferState.DONE] * count
        assert [s.position for s in snaps] == list(range(count))
        await queue.clear_finished()
        assert queue.transfers == []


async def test_pause_or_cancel_right_after_add_sticks(tmp_path: Path) -> None:
    """Stopping a transfer before its task ever ran still pauses or cancels it."""
    src = tmp_path / "a.bin"
    src.write_bytes(b"a" * 1000)

    def request(name: str) -> TransferRequest:
        return TransferRequest(Endpoint(LocalBackend(), str(src)),
                               Endpoint(LocalBackend(), str(tmp_path / "out" / name)),
                               options=options())

    async with TransferQueue() as queue:
        paused, cancelled = queue.add(request("p.bin")), queue.add(request("c.bin"))
        await queue.pause(paused.id)
        await queue.cancel(cancelled.id)
        assert paused.snapshot().state is TransferState.PAUSED
        assert cancelled.snapshot().state is TransferState.CANCELLED
        assert (await asyncio.wait_for(cancelled.wait(), GUARD)).state is TransferState.CANCELLED
        await queue.resume(paused.id)
        assert (await asyncio.wait_for(paused.wait(), GUARD)).state is TransferState.DONE
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p.bin"]
