"""The sliding-window download against real S3 servers (moto and ``rclone serve s3``).

The proof that the window refills on each completion puts a delaying proxy
(tests/engine/delay_proxy.py) between the S3 backend and the server: the response to
one chosen range request is held until the test releases it, and the other
slots must fetch every other range meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orbit_gui.engine import Backend, BytesReader, SourceChanged
from orbit_gui.engine.backends.local import TEMP_PREFIX
from orbit_gui.engine.transfer import RangeState, WindowOptions, WindowState, download_to_file
from tests.contract.streams import pattern_bytes
from tests.engine.delay_proxy import DelayProxy, HeldRequest, RequestHead
from tests.engine.s3_helpers import connect, proxied, proxy, s3
from tests.engine.test_window import GUARD, Events, check_events, leftovers
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server

__all__ = ["connect", "proxied", "proxy", "s3"]  # connect for test_window_fast_path; fixtures

SLOT = 256 * 1024
COUNT = 10
SIZE = COUNT * SLOT - 1000  # the last range is short


@pytest.fixture
async def direct(s3: S3Server) -> AsyncIterator[Backend]:
    backend = await connect(s3)
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture
async def uploaded(direct: Backend) -> tuple[str, bytes]:
    """A fresh bucket with one object of SIZE pattern bytes; its path and content."""
    bucket = f"/{unique_name('window')}"
    await direct.mkdir(bucket)
    data = pattern_bytes(SIZE)
    path = f"{bucket}/data/object.bin"
    await direct.write(path, BytesReader(data), len(data))
    return path, data


def range_request(index: int, size: int = SIZE) -> str:
    start = index * SLOT
    return f"bytes={start}-{min(size, start + SLOT) - 1}"


def hold_range(proxy: DelayProxy, index: int) -> HeldRequest:
    wanted = range_request(index)
    return proxy.hold(lambda head: head.method == "GET" and head.range == wanted)


def range_gets(requests: list[RequestHead]) -> list[str]:
    return sorted((h.range for h in requests if h.method == "GET" and h.range), key=_start)


def _start(header: str) -> int:
    return int(header.removeprefix("bytes=").split("-")[0])


async def test_download_is_byte_identical(direct: Backend, uploaded: tuple[str, bytes],
                                          tmp_path: Path) -> None:
    path, data = uploaded
    destination = tmp_path / "copy.bin"
    events = Events()
    result = await download_to_file(direct, path, str(destination), on_event=events,
                                    options=WindowOptions(window=4, slot_size=SLOT))
    assert destination.read_bytes() == data
    assert leftovers(tmp_path) == []
    check_events(events.items, SIZE, SLOT)
    if (result.entry.etag or "").strip('"') == hashlib.md5(data).hexdigest():
        assert result.verified_md5


async def test_window_refills_while_one_range_is_held(
        proxy: DelayProxy, proxied: Backend, uploaded: tuple[str, bytes],
        tmp_path: Path) -> None:
    path, data = uploaded
    held = hold_range(proxy, 1)
    events = Events()
    destination = tmp_path / "copy.bin"
    task = asyncio.create_task(download_to_file(
        proxied, path, str(destination), on_event=events,
        options=WindowOptions(window=4, slot_size=SLOT)))

    others = set(range(COUNT)) - {1}
    await events.wait_for(lambda: events.done_indices() >= others)
    # Range 1's response is still held, yet the three other slots fetched all the rest.
    assert held.arrived.is_set() and not task.done()
    assert 1 not in events.done_indices()
    assert range_gets(proxy.requests) == [range_request(i) for i in range(COUNT)]
    assert not destination.exists()

    held.release()
    async with asyncio.timeout(GUARD):
        await task
    assert destination.read_bytes() == data
    order = [e.index for e in events.items if e.state is RangeState.DONE]
    assert order[-1] == 1 and sorted(order) == list(range(COUNT))
    check_events(events.items, SIZE, SLOT)


async def test_batches_do_not_refill(
        proxy: DelayProxy, proxied: Backend, uploaded: tuple[str, bytes],
        tmp_path: Path) -> None:
    """The contrast: stop-and-wait asks for nothing past its batch while one range is held."""
    path, data = uploaded
    held = hold_range(proxy, 1)
    events = Events()
    destination = tmp_path / "copy.bin"
    task = asyncio.create_task(download_to_file(
        proxied, path, str(destination), on_event=events,
        options=WindowOptions(window=4, slot_size=SLOT, batched=True)))
    await events.wait_for(lambda: events.done_indices() >= {0, 2, 3})
    async with asyncio.timeout(GUARD):
        await held.arrived.wait()
    held.release()
    async with asyncio.timeout(GUARD):
        await task
    assert destination.read_bytes() == data
    order = [(e.index, e.state) for e in events.items]
    assert all(index < 4 for index, _ in order[: order.index((1, RangeState.DONE))])


async def test_resume_fetches_only_the_missing_ranges(
        s3: S3Server, proxy: DelayProxy, proxied: Backend, uploaded: tuple[str, bytes],
        tmp_path: Path) -> None:
    path, data = uploaded
    destination = tmp_path / "copy.bin"
    state = await interrupted(proxy, proxied, path, destination, held_index=3)
    assert not destination.exists()
    assert state.done == [(0, 3), (4, COUNT)]

    # A new session: a new connection, the checkpoint as the journal would store it.
    proxy.requests.clear()
    again = await connect(s3, proxy.url)
    try:
        await download_to_file(again, path, str(destination),
                               state=WindowState.from_dict(state.to_dict()),
                               options=WindowOptions(window=4, slot_size=SLOT))
    finally:
        await again.aclose()
    assert destination.read_bytes() == data
    assert range_gets(proxy.requests) == [range_request(3)]
    assert leftovers(tmp_path) == []


async def test_a_changed_object_is_refused_on_resume(
        direct: Backend, proxy: DelayProxy, proxied: Backend, uploaded: tuple[str, bytes],
        tmp_path: Path) -> None:
    path, data = uploaded
    destination = tmp_path / "copy.bin"
    state = await interrupted(proxy, proxied, path, destination, held_index=5)
    changed = bytes(reversed(data))
    await direct.write(path, BytesReader(changed), len(changed))

    with pytest.raises(SourceChanged):
        await download_to_file(direct, path, str(destination), state=state,
                               options=WindowOptions(slot_size=SLOT))
    assert not destination.exists()
    assert leftovers(tmp_path) == []


async def test_an_object_replaced_mid_download_is_never_spliced(
        direct: Backend, proxy: DelayProxy, proxied: Backend, uploaded: tuple[str, bytes],
        tmp_path: Path) -> None:
    """The ranges requested after the object changed carry If-Match and are refused.

    One slot, so that range 2 is surely requested after the change: range 1's
    response (old bytes, still the right version when it was asked for) is held
    while the object is replaced."""
    path, _ = uploaded
    held = hold_range(proxy, 1)
    destination = tmp_path / "copy.bin"
    task = asyncio.create_task(download_to_file(
        proxied, path, str(destination), options=WindowOptions(window=1, slot_size=SLOT)))
    async with asyncio.timeout(GUARD):
        await held.arrived.wait()
    changed = pattern_bytes(SIZE + 7)[7:]
    await direct.write(path, BytesReader(changed), len(changed))
    held.release()
    with pytest.raises(SourceChanged):
        async with asyncio.timeout(GUARD):
            await task
    assert not destination.exists()
    assert leftovers(tmp_path) == []


async def interrupted(proxy: DelayProxy, backend: Backend, path: str, destination: Path, *,
                      held_index: int) -> WindowState:
    """Run a download until all but the held range are done, cancel it, return its
    last checkpoint (the partial file stays for the resume)."""
    held = hold_range(proxy, held_index)
    events = Events()
    checkpoints: list[WindowState] = []
    task = asyncio.create_task(download_to_file(
        backend, path, str(destination), on_event=events, on_checkpoint=checkpoints.append,
        options=WindowOptions(window=4, slot_size=SLOT)))
    others = set(range(COUNT)) - {held_index}
    await events.wait_for(lambda: events.done_indices() >= others)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    held.release()
    state = checkpoints[-1]
    assert state.partial_path is not None
    assert Path(state.partial_path).name.startswith(TEMP_PREFIX)
    return state
