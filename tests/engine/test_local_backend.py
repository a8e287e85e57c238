"""What the conformance suite cannot say generically about the local file system."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from orbit_gui.engine import BytesReader, ListOptions, NoSpace, WriteOptions
from orbit_gui.engine.backends.local import TEMP_PREFIX, LocalBackend
from tests.contract.streams import PatternReader

MiB = 1024 * 1024


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, to run out of space for real."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        if os.environ.get("CI") == "true" and os.geteuid() == 0:
            pytest.fail(f"cannot mount a tmpfs to test a full disk: {result.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


async def test_full_disk_is_no_space_and_leaves_no_partial_file(tiny_disk: Path) -> None:
    backend = LocalBackend()
    path = str(tiny_disk / "big.bin")
    with pytest.raises(NoSpace) as raised:
        await backend.write(path, PatternReader(4 * MiB), 4 * MiB)
    assert path in str(raised.value)
    assert os.listdir(tiny_disk) == []


async def test_partial_files_use_a_hidden_name_and_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / f"{TEMP_PREFIX}leftover").write_bytes(b"partial")
    (tmp_path / "real.txt").write_bytes(b"done")
    names = [e.name async for e in LocalBackend().list(str(tmp_path))]
    assert names == ["real.txt"]


async def test_mtime_is_kept_when_asked(tmp_path: Path) -> None:
    path = str(tmp_path / "dated.txt")
    await LocalBackend().write(path, BytesReader(b"x"), 1, WriteOptions(mtime=1_600_000_000.0))
    assert os.stat(path).st_mtime == 1_600_000_000.0


async def test_relative_paths_are_refused(tmp_path: Path) -> None:
    from orbit_gui.engine import InvalidPath

    with pytest.raises(InvalidPath):
        await LocalBackend().stat("relative/path")


async def test_cancelling_a_listing_mid_page_is_safe(tmp_path: Path) -> None:
    """Closing the scandir iterator while a worker thread reads it would read freed
    memory; cancel listings at every point of a page read to prove it waits."""
    for i in range(3000):
        (tmp_path / f"f{i:05d}").touch()
    backend = LocalBackend()

    async def consume() -> int:
        return len([e async for e in backend.list(str(tmp_path), ListOptions(page_size=500))])

    for spins in range(40):
        task = asyncio.create_task(consume())
        for _ in range(spins):
            await asyncio.sleep(0)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert await consume() == 3000
