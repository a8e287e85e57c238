"""The transfer model: tree structure under Qt's model tester, coalesced and narrow
change signals, ten thousand rows, tabs, and real transfers to moto (a multipart
upload's parts, a download window's slots)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.modeltest import ModelTester

from orbit_gui.engine import Backend
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.engine.transfer import (
    Direction,
    Endpoint,
    PartProgress,
    PartState,
    TransferQueue,
    TransferRequest,
    TransferState,
)
from orbit_gui.models.transfer_model import Column, Role, Tab, TransferFilter, TransferModel
from tests.engine.delay_proxy import DelayProxy, HeldRequest
from tests.models.transfer_fixtures import (
    GUARD,
    MiB,
    Published,
    bucket,
    options,
    part,
    proxied,
    proxy,
    s3,
    snapshot,
    until,
)
from tests.transfer_support import sha256_file, write_pattern

pytestmark = [pytest.mark.qt]

__all__ = ["bucket", "proxied", "proxy", "s3"]  # fixtures used here


@pytest.fixture
async def queue() -> AsyncIterator[TransferQueue]:
    async with TransferQueue(concurrency=4, max_rate=1000) as started:
        yield started


def children(model: TransferModel, key: str) -> list[str]:
    parent = model.row_of(key)
    return [model.index(n, Column.NAME, parent).data() for n in range(model.rowCount(parent))]


def segments(model: TransferModel, key: str) -> tuple[PartProgress, ...]:
    found = model.index(model.row_of(key).row(), Column.PARTS).data(Role.SEGMENTS)
    assert isinstance(found, tuple)
    return found


class Signals:
    """Records the model's change signals as (kind, row or parent row, columns, roles)."""

    def __init__(self, model: TransferModel) -> None:
        self.changes: list[tuple[int, int, int, int, tuple[int, ...]]] = []
        self.inserted: list[tuple[int, int, int]] = []
        self.removed: list[tuple[int, int, int]] = []
        self.resets = 0
        model.dataChanged.connect(self._changed)
        model.rowsInserted.connect(lambda p, a, b: self.inserted.append((p.row(), a, b)))
        model.rowsRemoved.connect(lambda p, a, b: self.removed.append((p.row(), a, b)))
        model.modelReset.connect(self._reset)

    def _changed(self, top: QModelIndex, bottom: QModelIndex, roles: list[int]) -> None:
        parent = top.parent().row() if top.parent().isValid() else -1
        self.changes.append((parent, top.row(), top.column(), bottom.column(), tuple(roles)))
        assert top.row() == bottom.row(), "one row per signal: only changed rows are named"

    def _reset(self) -> None:
        self.resets += 1

    def clear(self) -> None:
        self.changes.clear()
        self.inserted.clear()
        self.removed.clear()


async def test_model_tester_follows_parts_coming_and_going(
        qtmodeltester: ModelTester, queue: TransferQueue) -> None:
    model = TransferModel(queue)
    qtmodeltester.check(model)
    one = Published(queue.hub, snapshot("one", position=0, total=800, parts=(
        part(0, PartState.DONE), part(1, PartState.IN_FLIGHT, done=40),
        part(2, PartState.IN_FLIGHT), part(3))))
    two = Published(queue.hub, snapshot("two", TransferState.QUEUED, position=1))
    one.publish()
    two.publish()
    await until(model, lambda: model.rowCount() == 2)
    qtmodeltester.check(model)
    assert children(model, "one") == ["part 2", "part 3"]
    # Part 2 finishes, part 4 starts, part 3 retries: one child goes, one comes.
    one.publish(parts=(part(0, PartState.DONE), part(1, PartState.DONE),
                       part(2, PartState.RETRYING, attempt=2), part(3, PartState.IN_FLIGHT)),
                max_attempts=4)
    await until(model, lambda: children(model, "one") == ["part 3", "part 4"])
    assert model.index(0, Column.STATE, model.row_of("one")).data() == "retry 2/4"
    two.publish(position=0, state=TransferState.TRANSFERRING,
                parts=(part(0, PartState.IN_FLIGHT, slot=2, file="a/b.txt"),))
    one.publish(position=1)
    await until(model, lambda: model.ids() == ["two", "one"])
    assert children(model, "two") == ["a/b.txt"]
    qtmodeltester.check(model)
    queue.hub.removed("one")
    await until(model, lambda: model.ids() == ["two"])
    two.publish(state=TransferState.DONE, parts=())
    await until(model, lambda: children(model, "two") == [])
    assert [p.state for p in segments(model, "two")] == [PartState.DONE]
    qtmodeltester.check(model)
    model.close()


async def test_events_are_coalesced_and_only_changed_columns_signalled(
        queue: TransferQueue) -> None:
    model = TransferModel(queue, rate=20)
    sources = [Published(queue.hub, snapshot(f"t{n}", position=n, total=10_000))
               for n in range(3)]
    for source in sources:
        source.publish()
    await until(model, lambda: model.rowCount() == 3)
    signals = Signals(model)
    ticks: list[int] = []
    model.flushed.connect(ticks.append)
    for done in range(0, 5000, 50):  # a hundred snapshots of one transfer before a tick
        sources[1].publish(bytes_done=done, speed=1000.0 + done)
    await until(model, lambda: bool(ticks))
    assert ticks == [1], "a hundred events, one transfer: one tick touching one row"
    rows = {row for _, row, _, _, _ in signals.changes}
    assert rows == {1}
    columns = {(first, last) for _, _, first, last, _ in signals.changes}
    assert columns == {(Column.PROGRESS, Column.PROGRESS), (Column.BYTES, Column.SPEED)}, \
        "name, parts, state unchanged"
    roles = signals.changes[0][4]
    assert Role.FRACTION in roles and Role.STATE not in roles
    assert model.index(1, Column.BYTES).data() == "5.0 kB of 10.0 kB", "the newest event won"
    signals.clear()
    sources[2].publish(state=TransferState.PAUSED)
    await until(model, lambda: bool(signals.changes))
    assert {row for _, row, _, _, _ in signals.changes} == {2}
    assert any(Role.STATE in roles for *_, roles in signals.changes)
    assert signals.resets == 0
    model.close()


async def test_ten_thousand_rows_one_insert_and_narrow_updates(queue: TransferQueue) -> None:
    model = TransferModel(queue)
    signals = Signals(model)
    sources = [Published(queue.hub, snapshot(f"t{n:05}", TransferState.QUEUED, position=n))
               for n in range(10_000)]
    for source in sources:
        source.publish()
    await until(model, lambda: model.rowCount() == 10_000)
    assert signals.inserted == [(-1, 0, 9_999)], "one batch, not ten thousand inserts"
    signals.clear()
    for number in (3, 5_000, 9_999):
        sources[number].publish(state=TransferState.TRANSFERRING, bytes_done=5, total=10,
                                parts=(part(0, PartState.IN_FLIGHT),))
    await until(model, lambda: len(signals.inserted) == 3)
    assert {row for _, row, _, _, _ in signals.changes} == {3, 5_000, 9_999}
    assert sorted(signals.inserted) == [(3, 0, 0), (5_000, 0, 0), (9_999, 0, 0)]
    summary = model.summary()
    assert (summary.active, summary.queued) == (3, 9_997)
    # Removing from the middle renumbers the rest: later rows are still found by id.
    queue.hub.removed("t00004")
    await until(model, lambda: model.rowCount() == 9_999)
    assert model.row_of("t09999").row() == 9_998
    assert model.index(9_998, Column.NAME).data(Role.ID) == "t09999"
    model.close()


async def test_tabs_follow_state_changes(queue: TransferQueue) -> None:
    model = TransferModel(queue)
    states = [TransferState.TRANSFERRING, TransferState.DONE, TransferState.FAILED,
              TransferState.PAUSED, TransferState.CANCELLED]
    sources = [Published(queue.hub, snapshot(f"t{n}", s, position=n, error="disk full"))
               for n, s in enumerate(states)]
    for source in sources:
        source.publish()
    await until(model, lambda: model.rowCount() == 5)
    tabs = {tab: TransferFilter(model, tab) for tab in Tab}

    def shown(tab: Tab) -> list[str]:
        proxy = tabs[tab]
        return [proxy.index(n, 0).data(Role.ID) for n in range(proxy.rowCount())]

    assert shown(Tab.QUEUE) == ["t0", "t3"]
    assert shown(Tab.FINISHED) == ["t1", "t4"]
    assert shown(Tab.FAILED) == ["t2"]
    assert model.index(2, Column.STATE).data() == "failed: disk full"
    sources[0].publish(state=TransferState.FAILED)
    await until(model, lambda: shown(Tab.FAILED) == ["t0", "t2"])
    assert shown(Tab.QUEUE) == ["t3"]
    switching = tabs[Tab.ALL]
    switching.set_tab(Tab.FINISHED)
    assert [switching.index(n, 0).data(Role.ID) for n in range(switching.rowCount())] == \
        ["t1", "t4"]
    model.close()


def _parts_of(model: TransferModel, key: str) -> tuple[PartProgress, ...]:
    row = model.row_of(key)
    if not row.isValid():
        return ()
    return segments(model, key)


async def test_multipart_upload_shows_every_part_reaching_done(
        proxied: Backend, proxy: DelayProxy, bucket: tuple[Backend, str], tmp_path: Path,
        qtmodeltester: ModelTester) -> None:
    """17 MiB in 5 MiB parts: four parts, at most two in flight; the model shows all four
    done before the upload is assembled (CompleteMultipartUpload is held until then)."""
    _, name = bucket
    source = tmp_path / "video.mov"
    write_pattern(source, 17 * MiB)
    first_two = [proxy.hold(lambda h, n=n: h.method == "PUT" and f"partNumber={n}&" in
                            f"{h.target}&") for n in (1, 2)]
    complete = proxy.hold(lambda h: h.method == "POST" and "uploadId=" in h.target)
    async with TransferQueue(max_rate=50) as queue:
        model = TransferModel(queue)
        qtmodeltester.check(model)
        transfer = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(source)), Endpoint(proxied, f"{name}/video.mov", "s3"),
            options=options(window=2)), transfer_id="up")
        for held in first_two:
            await asyncio.wait_for(held.arrived.wait(), GUARD)
        # Both parts are sent and their answers held: the window of two is shown full.
        await until(model, lambda: model.rowCount(model.row_of("up")) == 2)
        for held in first_two:
            held.release()
        await asyncio.wait_for(complete.arrived.wait(), GUARD)
        await until(model, lambda: [p.state for p in _parts_of(model, "up")] ==
                    [PartState.DONE] * 4)
        assert [p.length for p in _parts_of(model, "up")] == [5 * MiB] * 3 + [2 * MiB]
        assert model.rowCount(model.row_of("up")) == 0, "nothing in flight while assembling"
        assert model.index(0, Column.PARTS).data() == "4 of 4 parts"
        complete.release()
        final = await asyncio.wait_for(transfer.wait(), GUARD)
        assert final.state is TransferState.DONE, final.error
        await until(model, lambda: model.state_at(0) is TransferState.DONE)
        assert model.index(0, Column.PROGRESS).data() == "100%"
        assert model.index(0, Column.NAME).data() == f"↑ video.mov → s3:{name}/"
        model.close()


def _range_holds(proxy: DelayProxy, slot: int, count: int) -> list[HeldRequest]:
    def held(index: int) -> HeldRequest:
        wanted = f"bytes={index * slot}-{(index + 1) * slot - 1}"
        return proxy.hold(lambda h: h.method == "GET" and h.range == wanted)

    return [held(i) for i in range(count)]


async def test_windowed_download_shows_its_slots_and_refills(
        proxied: Backend, proxy: DelayProxy, bucket: tuple[Backend, str], tmp_path: Path,
        qtmodeltester: ModelTester) -> None:
    """Ranges 1-5 are held: four slots in flight. Releasing range 1 refills its slot with
    range 5 while 2-4 are still held; the window slides."""
    direct, name = bucket
    slot = 256 * 1024
    source = tmp_path / "dump.tar"
    write_pattern(source, 12 * slot)
    holds = _range_holds(proxy, slot, 5)  # ranges 1-5; 5 shows the refill
    async with TransferQueue(max_rate=50) as queue:
        up = queue.add(TransferRequest(Endpoint(LocalBackend(), str(source)),
                                       Endpoint(direct, f"{name}/dump.tar"), options=options()))
        assert (await asyncio.wait_for(up.wait(), GUARD)).state is TransferState.DONE
        await queue.remove(up.id)
        model = TransferModel(queue)
        qtmodeltester.check(model)
        target = tmp_path / "back.tar"
        down = queue.add(TransferRequest(
            Endpoint(proxied, f"{name}/dump.tar", "s3"), Endpoint(LocalBackend(), str(target)),
            options=options(part_size=slot, window=4)), transfer_id="down")

        def in_flight() -> list[str]:
            return children(model, "down")

        await until(model, lambda: len(in_flight()) == 4)
        assert sorted(n.split(" · ")[1] for n in in_flight()) == [f"range {r}" for r in
                                                                 (1, 2, 3, 4)]
        assert len({n.split(" · ")[0] for n in in_flight()}) == 4, "four distinct slots"
        assert len(_parts_of(model, "down")) == 12
        slot_of_range_1 = next(n.split(" · ")[0] for n in in_flight() if n.endswith("range 1"))
        removed: list[int] = []
        model.rowsRemoved.connect(lambda parent, first, last: removed.append(first))
        holds[0].release()
        await until(model, lambda: "range 5" in " ".join(in_flight()))
        names = in_flight()
        assert not any(n.endswith("range 1") for n in names), "range 1 done, slot refilled"
        assert len(names) == 4
        assert f"{slot_of_range_1} · range 5" in names, "the same slot took range 5"
        assert removed == [], "the slot's row stayed: no row removed and inserted per range"
        for held in holds[1:]:
            held.release()
        final = await asyncio.wait_for(down.wait(), GUARD)
        assert final.state is TransferState.DONE, final.error
        assert sha256_file(target) == sha256_file(source)
        await until(model, lambda: in_flight() == [])
        assert all(p.state is PartState.DONE for p in _parts_of(model, "down"))
        model.close()


async def test_interrupted_rows_become_live_when_resumed(queue: TransferQueue) -> None:
    """A journal record shows as "interrupted" first in the list; when its transfer
    comes back under the same id, that row turns live instead of doubling."""
    from orbit_gui.engine.transfer import TransferRecord

    model = TransferModel(queue)
    live = Published(queue.hub, snapshot("live", position=0))
    live.publish()
    await until(model, lambda: model.rowCount() == 1)
    record = TransferRecord(
        id="old", created=0, updated=0, finished=None, state="transferring",
        direction=Direction.DOWNLOAD.value, source="prod:/b/dump.tar",
        destination="/home/ana/dump.tar", spec={}, bytes_done=5, total=10, files_done=0,
        files_total=1, error=None, owner_pid=None)
    model.add_interrupted([record])
    assert model.ids() == ["old", "live"]
    assert model.index(0, Column.STATE).data() == "interrupted"
    assert model.record("old") is record
    assert model.summary().interrupted == 1
    back = Published(queue.hub, snapshot("old", position=1, direction=Direction.DOWNLOAD))
    back.publish()
    await until(model, lambda: model.ids() == ["live", "old"])
    assert model.record("old") is None
    assert model.index(1, Column.STATE).data() == "transferring"
    model.forget("old")
    assert model.ids() == ["live"]
    model.close()

