"""The small pieces of the transfer engine on their own: the progress hub's rate
limit and subscriptions, token buckets, the slot scheduler, request planning."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from orbit_gui.engine import InvalidPath
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.engine.transfer import (
    BandwidthLimiter,
    Direction,
    Endpoint,
    PartProgress,
    PartState,
    ProgressHub,
    Scheduler,
    TokenBucket,
    TransferEvent,
    TransferRemoved,
    TransferSnapshot,
    TransferState,
    parse_rate,
    resolve_destination,
)
from orbit_gui.engine.transfer.request import TransferOptions, walk
from orbit_gui.engine.transfer.scheduler import SMALL_PER_SLOT
from orbit_gui.engine.types import Entry
from tests.transfer_support import Steered


class Source:
    def __init__(self, key: str) -> None:
        self.key = key
        self.count = 0

    @property
    def id(self) -> str:
        return self.key

    def snapshot(self) -> TransferSnapshot:
        self.count += 1
        return TransferSnapshot(id=self.key, direction=Direction.UPLOAD, source="s",
                                destination="d", state=TransferState.TRANSFERRING,
                                bytes_done=self.count, seq=self.count)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- progress ---------------------------------------------------------------------------------


async def test_hub_publishes_at_most_max_rate_per_transfer_and_always_the_latest() -> None:
    clock = Clock()
    hub = ProgressHub(max_rate=10, clock=clock)
    seen: list[TransferEvent] = []
    hub.add_listener(seen.append)
    a, b = Source("a"), Source("b")
    for _ in range(1000):
        hub.changed(a)
        hub.changed(b)
    # one at once per transfer (leading edge), the rest coalesced into one trailing publish
    assert [e.id for e in seen] == ["a", "b"]
    hub.flush()
    assert [e.id for e in seen] == ["a", "b", "a", "b"]
    assert a.count == 2 and b.count == 2  # snapshots are only taken when published
    clock.now += 0.1
    hub.changed(a)
    assert len(seen) == 5


async def test_trailing_publish_happens_without_further_changes() -> None:
    hub = ProgressHub(max_rate=1000)
    got = asyncio.Event()
    events: list[TransferEvent] = []

    def listener(event: TransferEvent) -> None:
        events.append(event)
        if len(events) == 2:
            got.set()

    hub.add_listener(listener)
    source = Source("x")
    hub.changed(source)
    hub.changed(source)
    await asyncio.wait_for(got.wait(), 30)
    assert [e.seq for e in events if isinstance(e, TransferSnapshot)] == [1, 2]


async def test_subscription_keeps_one_pending_event_per_transfer() -> None:
    clock = Clock()
    hub = ProgressHub(max_rate=10, clock=clock)
    subscription = hub.subscribe()
    a = Source("a")
    for _ in range(50):
        clock.now += 1
        hub.changed(a)
    hub.removed("b")
    pending = subscription.drain()
    assert [type(e).__name__ for e in pending] == ["TransferSnapshot", "TransferRemoved"]
    assert isinstance(pending[0], TransferSnapshot) and pending[0].seq == 50
    clock.now += 1
    hub.changed(a)
    event = await asyncio.wait_for(anext(subscription), 30)
    assert isinstance(event, TransferSnapshot) and event.seq == 51
    hub.close()
    assert [e async for e in subscription] == []


async def test_listener_errors_do_not_stop_delivery(expect_log: Callable[[str], None]) -> None:
    expect_log("a progress listener failed")
    hub = ProgressHub()
    seen: list[TransferEvent] = []

    def broken(event: TransferEvent) -> None:
        raise RuntimeError("boom")

    hub.add_listener(broken)
    remove = hub.add_listener(seen.append)
    hub.removed("gone")
    assert seen == [TransferRemoved("gone")]
    remove()
    hub.removed("again")
    assert seen == [TransferRemoved("gone")]


def test_snapshot_text_and_json() -> None:
    part = PartProgress(2, 10, 5, 3, PartState.IN_FLIGHT, attempt=2, slot=1, file="a/b")
    snap = TransferSnapshot(id="t1", direction=Direction.DOWNLOAD, source="p:/a",
                            destination="/b", state=TransferState.RETRYING, bytes_done=5,
                            total=10, attempt=2, max_attempts=5, parts=(part,))
    assert snap.state_text() == "retrying 2/5"
    assert snap.fraction == 0.5
    data = json.loads(json.dumps(snap.to_json()))
    assert data["transfer"] == "t1" and data["state"] == "retrying"
    assert data["parts"] == [{"index": 2, "offset": 10, "length": 5, "bytes_done": 3,
                              "state": "in-flight", "attempt": 2, "slot": 1, "file": "a/b"}]
    failed = TransferSnapshot(id="t", direction=Direction.COPY, source="a", destination="b",
                              state=TransferState.FAILED, error="disk full")
    assert failed.state_text() == "failed: disk full"


# -- bandwidth --------------------------------------------------------------------------------


async def test_token_bucket_makes_consumers_wait_off_their_debt() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    bucket = TokenBucket(1000.0, burst=100.0, clock=clock, sleep=sleep)
    await bucket.consume(100)  # a fresh bucket holds one burst
    await bucket.consume(500)  # 500 tokens of debt at 1000/s
    assert slept == [pytest.approx(0.5)]
    clock.now += 10  # idle time refills only up to the burst
    await bucket.consume(300)
    assert slept[-1] == pytest.approx(0.2)
    bucket.set_rate(None)
    await bucket.consume(10**9)
    assert len(slept) == 2


async def test_limiter_waits_for_the_slowest_of_its_buckets() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    fast = TokenBucket(10_000.0, burst=1.0, clock=clock, sleep=sleep)
    slow = TokenBucket(1_000.0, burst=1.0, clock=clock, sleep=sleep)
    limiter = BandwidthLimiter([fast, None, slow])
    await limiter.consume(1001)
    assert slept == [pytest.approx(1.0)]  # 1000 bytes beyond the burst at 1000/s
    assert not limiter.unlimited
    slow.set_rate(0)
    fast.set_rate(None)
    assert limiter.unlimited


def test_parse_rate() -> None:
    assert parse_rate("10M") == 10 * 1024**2
    assert parse_rate("512k") == 512 * 1024
    assert parse_rate("1.5GiB/s") == 1.5 * 1024**3
    assert parse_rate("2000") == 2000
    assert parse_rate("0") is None and parse_rate("off") is None
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("fast")


# -- scheduler --------------------------------------------------------------------------------


class Owner:
    def __init__(self, priority: int = 0, position: int = 0) -> None:
        self.priority = priority
        self.position = position

    @property
    def order(self) -> tuple[int, int]:
        return (-self.priority, self.position)


async def test_scheduler_serves_by_order_and_per_connection_limits() -> None:
    scheduler = Scheduler(limit=2, per_connection=1)
    a = await scheduler.acquire(Owner(), ("s3",))
    b = await scheduler.acquire(Owner(), ("sftp",))
    order: list[str] = []

    async def want(name: str, owner: Owner, keys: tuple[str, ...]) -> None:
        slot = await scheduler.acquire(owner, keys)
        order.append(name)
        slot.release()

    tasks = [asyncio.create_task(want("late", Owner(position=5), ("smb",))),
             asyncio.create_task(want("early", Owner(position=1), ("s3",))),
             asyncio.create_task(want("urgent", Owner(priority=9, position=9), ("s3",)))]
    await asyncio.sleep(0)  # let them queue (no timing involved)
    assert scheduler.waiting == 3 and order == []
    a.release()  # frees the global slot and s3: "urgent" first by priority
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert order[0] == "urgent" and set(order) == {"urgent", "early", "late"}
    b.release()
    assert scheduler.active == 0


async def test_raising_the_limit_serves_waiters_and_a_cancelled_waiter_leaves() -> None:
    scheduler = Scheduler(limit=1)
    first = await scheduler.acquire(Owner())
    waiting = asyncio.create_task(scheduler.acquire(Owner()))
    cancelled = asyncio.create_task(scheduler.acquire(Owner(position=1)))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert scheduler.waiting == 1
    scheduler.set_limit(3)
    second = await asyncio.wait_for(waiting, 30)
    assert scheduler.active == 2
    first.release()
    second.release()
    second.release()  # idempotent
    assert scheduler.active == 0
    with pytest.raises(ValueError):
        scheduler.set_limit(0)


async def test_small_files_share_a_slot_and_do_not_starve_a_large_one() -> None:
    scheduler = Scheduler(limit=1, per_connection=1)
    small = [await scheduler.acquire(Owner(), ("s3",), small=True)
             for _ in range(SMALL_PER_SLOT)]
    assert scheduler.active == SMALL_PER_SLOT, "four small files in one slot"
    large = asyncio.create_task(scheduler.acquire(Owner(position=1), ("s3",)))
    later_small = asyncio.create_task(scheduler.acquire(Owner(position=2), ("s3",),
                                                        small=True))
    await asyncio.sleep(0)
    assert scheduler.waiting == 2
    small[0].release()  # a quarter free: the large file, first in order, still waits...
    await asyncio.sleep(0)
    assert not later_small.done(), "...and the small one after it does not overtake it"
    for slot in small[1:]:
        slot.release()
    granted = await asyncio.wait_for(large, 30)
    assert scheduler.active == 1 and not later_small.done()
    granted.release()
    (await asyncio.wait_for(later_small, 30)).release()
    assert scheduler.active == 0 and scheduler.waiting == 0


# -- planning ---------------------------------------------------------------------------------


async def test_walk_joins_checked_names_under_the_destination(tmp_path: Path) -> None:
    (tmp_path / "src" / "a").mkdir(parents=True)
    (tmp_path / "src" / "a" / "f").write_bytes(b"1")
    source = Steered(LocalBackend())
    source.extra_entries = [Entry(name="..", path=f"{tmp_path}/src/..", is_dir=False)]
    items = [item async for item in walk(source, str(tmp_path / "src"), "/dest")]
    good = [i for i in items if i.error is None]
    bad = [i for i in items if i.error is not None]
    assert [(i.rel, i.dest_path) for i in good] == [("a/f", "/dest/a/f")]
    assert len(bad) == 1 and isinstance(bad[0].error, InvalidPath)


async def test_resolve_destination_follows_cp(tmp_path: Path) -> None:
    local = LocalBackend()
    (tmp_path / "dir").mkdir()
    src = Endpoint(local, str(tmp_path / "file.txt"))
    into_dir = await resolve_destination(src, Endpoint(local, str(tmp_path / "dir")))
    assert into_dir.path == str(tmp_path / "dir" / "file.txt")
    new_name = await resolve_destination(src, Endpoint(local, str(tmp_path / "new.txt")))
    assert new_name.path == str(tmp_path / "new.txt")
    slash = await resolve_destination(src, Endpoint(local, str(tmp_path / "nodir") + "/"))
    assert slash.path == str(tmp_path / "nodir" / "file.txt")


def test_part_size_grows_to_fit_ten_thousand_parts() -> None:
    options = TransferOptions(part_size=8 * 1024**2)
    assert options.part_size_for(10 * 1024**3) == 8 * 1024**2
    big = options.part_size_for(5 * 1024**4)
    assert big * 10_000 >= 5 * 1024**4 and big % (1024**2) == 0
    restored = TransferOptions.from_json(json.loads(json.dumps(options.to_json())))
    assert restored.part_size == options.part_size
    assert restored.retry.max_attempts == options.retry.max_attempts
