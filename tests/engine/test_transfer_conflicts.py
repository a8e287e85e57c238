"""Every conflict policy on real files, "ask" with "apply to all", and an open
question never holding up other transfers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orbit_gui.engine.backends.local import TEMP_PREFIX, LocalBackend
from orbit_gui.engine.retry import RetryPolicy
from orbit_gui.engine.transfer import (
    Conflict,
    ConflictAnswer,
    ConflictPolicy,
    Endpoint,
    TransferOptions,
    TransferQueue,
    TransferRequest,
    TransferState,
)
from orbit_gui.engine.transfer.conflicts import decide
from orbit_gui.engine.types import Entry
from tests.engine.test_transfer_queue import GUARD
from tests.transfer_support import Steered, write_pattern

FAST = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0)
MiB = 1024 * 1024


def copy_request(src: Path, dst: Path, policy: ConflictPolicy, *, source: object = None,
                 recursive: bool = False) -> TransferRequest:
    backend = source if source is not None else LocalBackend()
    return TransferRequest(Endpoint(backend, str(src)), Endpoint(LocalBackend(), str(dst)),  # type: ignore[arg-type]
                           recursive=recursive,
                           options=TransferOptions(conflict=policy, retry=FAST, part_size=MiB))


def setup_pair(tmp_path: Path, *, src_data: bytes, dst_data: bytes,
               src_newer: bool = True) -> tuple[Path, Path]:
    src, dst = tmp_path / "a.txt", tmp_path / "out" / "a.txt"
    dst.parent.mkdir()
    src.write_bytes(src_data)
    dst.write_bytes(dst_data)
    old, new = 1_600_000_000, 1_700_000_000
    os.utime(src, (new, new) if src_newer else (old, old))
    os.utime(dst, (old, old) if src_newer else (new, new))
    return src, dst


async def run_one(request: TransferRequest) -> tuple[TransferState, int, str | None]:
    async with TransferQueue() as queue:
        snap = await asyncio.wait_for(queue.add(request).wait(), GUARD)
    return snap.state, snap.files_skipped, snap.error


async def test_overwrite(tmp_path: Path) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"new contents", dst_data=b"old")
    assert await run_one(copy_request(src, dst, ConflictPolicy.OVERWRITE)) == (
        TransferState.DONE, 0, None)
    assert dst.read_bytes() == b"new contents"


async def test_skip(tmp_path: Path) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"new contents", dst_data=b"old")
    assert (await run_one(copy_request(src, dst, ConflictPolicy.SKIP)))[:2] == (
        TransferState.DONE, 1)
    assert dst.read_bytes() == b"old"


async def test_rename_keeps_both(tmp_path: Path) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"new contents", dst_data=b"old")
    (dst.parent / "a (1).txt").write_bytes(b"taken")
    assert (await run_one(copy_request(src, dst, ConflictPolicy.RENAME)))[0] is TransferState.DONE
    assert dst.read_bytes() == b"old"
    assert (dst.parent / "a (1).txt").read_bytes() == b"taken"
    assert (dst.parent / "a (2).txt").read_bytes() == b"new contents"


@pytest.mark.parametrize("src_newer", [True, False])
async def test_overwrite_if_newer(tmp_path: Path, src_newer: bool) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"new contents", dst_data=b"old",
                          src_newer=src_newer)
    state, skipped, _ = await run_one(copy_request(src, dst, ConflictPolicy.NEWER))
    assert state is TransferState.DONE and skipped == (0 if src_newer else 1)
    assert dst.read_bytes() == (b"new contents" if src_newer else b"old")


@pytest.mark.parametrize("same_size", [True, False])
async def test_overwrite_if_size_differs(tmp_path: Path, same_size: bool) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"abcd", dst_data=b"wxyz" if same_size else b"w")
    state, skipped, _ = await run_one(copy_request(src, dst, ConflictPolicy.SIZE))
    assert state is TransferState.DONE and skipped == (1 if same_size else 0)
    assert dst.read_bytes() == (b"wxyz" if same_size else b"abcd")


async def test_resume_continues_a_shorter_copy_without_reading_its_bytes(
        tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    write_pattern(src, 3 * MiB + 100)
    dst = tmp_path / "out" / "big.bin"
    dst.parent.mkdir()
    dst.write_bytes(src.read_bytes()[: MiB + 10])
    source = Steered(LocalBackend())
    state, _, error = await run_one(copy_request(src, dst, ConflictPolicy.RESUME, source=source))
    assert state is TransferState.DONE, error
    assert dst.read_bytes() == src.read_bytes()
    assert min(offset for _, offset, _ in source.reads) == MiB + 10
    assert not [p for p in dst.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


async def test_resume_skips_a_complete_copy(tmp_path: Path) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"same", dst_data=b"same")
    assert (await run_one(copy_request(src, dst, ConflictPolicy.RESUME)))[:2] == (
        TransferState.DONE, 1)


async def test_ask_without_anyone_to_answer_fails_that_file(tmp_path: Path) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"new", dst_data=b"old")
    state, _, error = await run_one(copy_request(src, dst, ConflictPolicy.ASK))
    assert state is TransferState.FAILED
    assert error is not None and "already exists" in error and "on-conflict" in error
    assert dst.read_bytes() == b"old"


async def test_ask_once_and_apply_to_all_remaining(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    for name in ("one", "two", "three", "four"):
        (src / name).parent.mkdir(exist_ok=True)
        (src / name).write_bytes(b"new " + name.encode())
    dst.mkdir()
    for name in ("one", "two", "three"):
        (dst / name).write_bytes(b"old")
    asked: list[Conflict] = []

    async def resolver(conflict: Conflict) -> ConflictAnswer:
        asked.append(conflict)
        return ConflictAnswer(ConflictPolicy.SKIP, apply_to_all=True)

    async with TransferQueue(resolver=resolver) as queue:
        snap = await asyncio.wait_for(queue.add(copy_request(
            src, dst, ConflictPolicy.ASK, recursive=True)).wait(), GUARD)
        assert snap.state is TransferState.DONE
        assert snap.files_skipped == 3 and snap.files_done == 1
        assert len(asked) == 1
        assert asked[0].destination.size == 3 and asked[0].source.size is not None
        # "apply to all" holds for the rest of the queue, later transfers included
        (src / "one").write_bytes(b"newer")
        snap = await asyncio.wait_for(queue.add(copy_request(
            src / "one", dst / "one", ConflictPolicy.ASK)).wait(), GUARD)
        assert snap.files_skipped == 1 and len(asked) == 1
    assert (dst / "four").read_bytes() == b"new four"
    assert {(dst / n).read_bytes() for n in ("one", "two", "three")} == {b"old"}


async def test_an_open_question_blocks_no_other_transfer(tmp_path: Path) -> None:
    src, dst = setup_pair(tmp_path, src_data=b"new", dst_data=b"old")
    other = tmp_path / "other.txt"
    other.write_bytes(b"other")
    asked = asyncio.Event()
    answer: asyncio.Future[ConflictAnswer] = asyncio.get_running_loop().create_future()

    async def resolver(conflict: Conflict) -> ConflictAnswer:
        asked.set()
        return await answer

    async with TransferQueue(resolver=resolver, concurrency=1) as queue:
        waiting = queue.add(copy_request(src, dst, ConflictPolicy.ASK))
        await asyncio.wait_for(asked.wait(), GUARD)
        assert waiting.snapshot().state is TransferState.QUEUED
        free = queue.add(copy_request(other, tmp_path / "out" / "other.txt",
                                      ConflictPolicy.ASK))
        snap = await asyncio.wait_for(free.wait(), GUARD)  # runs with the only slot
        assert snap.state is TransferState.DONE
        answer.set_result(ConflictAnswer(ConflictPolicy.OVERWRITE))
        snap = await asyncio.wait_for(waiting.wait(), GUARD)
    assert snap.state is TransferState.DONE
    assert dst.read_bytes() == b"new"


def test_decide_reduces_policies_to_actions() -> None:
    def entry(size: int | None, mtime: float | None) -> Entry:
        return Entry(name="x", path="/x", is_dir=False, size=size, mtime=mtime)

    assert decide(ConflictPolicy.NEWER, entry(1, None), entry(1, 5)) is ConflictPolicy.OVERWRITE
    assert decide(ConflictPolicy.SIZE, entry(None, 1), entry(1, 1)) is ConflictPolicy.OVERWRITE
    assert decide(ConflictPolicy.RENAME, entry(1, 1), entry(1, 1)) is ConflictPolicy.RENAME
    with pytest.raises(ValueError):
        decide(ConflictPolicy.ASK, entry(1, 1), entry(1, 1))
    assert ConflictPolicy.parse("overwrite-if-newer") is ConflictPolicy.NEWER
    with pytest.raises(ValueError, match="unknown conflict policy"):
        ConflictPolicy.parse("whatever")
