"""The download's lean data path: pieces written by reference, hashing in place,
range sizes picked from the file size, and S3 bodies read as aiohttp received them.

Local tests use the real local backend and file sink; S3 tests run against moto and
``rclone serve s3``.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiobotocore.response import StreamingBody

from orbit_gui.engine import Backend, BytesReader, IntegrityError
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.engine.transfer import (
    DEFAULT_SLOT_SIZE,
    LocalFileSink,
    WindowOptions,
    download_to_file,
    slot_size_for,
)
from orbit_gui.engine.transfer import sink as sink_module
from tests.contract.streams import pattern_bytes
from tests.engine.test_window import Events, Hold, Md5Tagged, leftovers, make_source
from tests.engine.test_window_s3 import connect
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server

MiB = 1024 * 1024


def test_slot_size_grows_with_the_file_within_bounds() -> None:
    assert slot_size_for(0) == DEFAULT_SLOT_SIZE
    assert slot_size_for(20 * MiB) == DEFAULT_SLOT_SIZE
    assert slot_size_for(256 * MiB) == 32 * MiB  # two ranges per slot of a window of 4
    assert slot_size_for(256 * MiB, window=8) == 16 * MiB
    assert slot_size_for(100 * MiB + 1) % MiB == 0
    assert slot_size_for(1024**4) == 64 * MiB
    assert WindowOptions().slot_size is None
    with pytest.raises(ValueError):
        WindowOptions(slot_size=0)


async def test_default_options_pick_the_slot_size_from_the_file(tmp_path: Path) -> None:
    size = 2 * DEFAULT_SLOT_SIZE + 123
    source, data = make_source(tmp_path, size)
    destination = tmp_path / "copy.bin"
    result = await download_to_file(LocalBackend(chunk_size=300_000), source,
                                    str(destination))
    assert destination.read_bytes() == data
    assert result.ranges == 3  # 8 MiB ranges: the file is too small for larger ones


async def test_chunks_are_written_back_to_back_in_one_call(tmp_path: Path) -> None:
    sink = await LocalFileSink.open(str(tmp_path / "out.bin"))
    # More pieces than one pwritev takes (IOV_MAX), of every buffer type, empty ones too.
    pieces: list[bytes | bytearray | memoryview] = []
    for n in range(1500):
        piece = os.urandom(n % 97)
        pieces.append(piece if n % 3 == 0 else bytearray(piece) if n % 3 == 1
                      else memoryview(piece))
    expected = b"".join(bytes(p) for p in pieces)
    await sink.write_at(0, b"x" * 10)
    await sink.write_chunks_at(10, pieces)
    await sink.finish()
    assert (tmp_path / "out.bin").read_bytes() == b"x" * 10 + expected


@pytest.mark.parametrize("mapped", [True, False])
async def test_digest_of_any_span_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           mapped: bool) -> None:
    """The span is hashed through mmap (at offsets that are not page aligned, across
    several mappings), or read into a buffer where mmap refuses: the same digest."""
    if not mapped:
        def refuse(*args: object, **kwargs: object) -> mmap.mmap:
            raise OSError("no mmap here")

        monkeypatch.setattr(sink_module.mmap, "mmap", refuse)
    monkeypatch.setattr(sink_module, "_MAP_SPAN", 3 * mmap.ALLOCATIONGRANULARITY + 5)
    data = os.urandom(5 * MiB + 777)
    sink = await LocalFileSink.open(str(tmp_path / "out.bin"))
    await sink.write_at(0, data)
    for offset, length in [(0, len(data)), (12_345, 1_000_001), (len(data) - 1, 1), (7, 0)]:
        digest = hashlib.md5(usedforsecurity=False)
        await sink.update_digest(digest, offset, length)
        assert digest.hexdigest() == hashlib.md5(data[offset : offset + length]).hexdigest()
    with pytest.raises(IntegrityError, match="shorter"):
        await sink.update_digest(hashlib.md5(usedforsecurity=False), len(data) - 10, 20)
    await sink.abort(discard=True)
    assert leftovers(tmp_path) == []


def spy_read_backs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lengths the file sink hashes by reading the partial file back."""
    read_back: list[int] = []
    real = sink_module._hash_mapped

    def spy(fd: int, hasher: sink_module.Hasher, offset: int, length: int) -> tuple[int, bool]:
        read_back.append(length)
        return real(fd, hasher, offset, length)

    monkeypatch.setattr(sink_module, "_hash_mapped", spy)
    return read_back


@pytest.mark.parametrize("window, slot", [(4, MiB), (1, 64 * 1024)],
                         ids=["one range", "ranges in order"])
async def test_bytes_arriving_in_order_are_hashed_from_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int, slot: int) -> None:
    """A file of one range (every small file), or ranges that arrive in order, are hashed
    as they are written: the MD5 is checked and nothing is read back."""
    source, data = make_source(tmp_path, MiB)
    destination = tmp_path / "copy.bin"
    read_back = spy_read_backs(monkeypatch)
    backend = Md5Tagged(LocalBackend(chunk_size=100_000), hashlib.md5(data).hexdigest())
    result = await download_to_file(backend, source, str(destination),
                                    options=WindowOptions(window=window, slot_size=slot))
    assert result.verified_md5 and destination.read_bytes() == data
    assert read_back == []

    wrong = Md5Tagged(LocalBackend(), "0" * 32)
    with pytest.raises(IntegrityError, match="MD5"):
        await download_to_file(wrong, source, str(tmp_path / "damaged.bin"),
                               options=WindowOptions(window=window, slot_size=slot))
    assert not (tmp_path / "damaged.bin").exists() and leftovers(tmp_path) == []


async def test_ranges_out_of_order_are_hashed_from_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the first range is held, the later ones cannot be hashed from memory: the
    digest follower reads them back once the gap is filled, and the MD5 still matches."""
    slot = 64 * 1024
    source, data = make_source(tmp_path, 4 * slot)
    destination = tmp_path / "copy.bin"
    read_back = spy_read_backs(monkeypatch)
    backend = Md5Tagged(LocalBackend(), hashlib.md5(data).hexdigest())
    hold = backend.before_read = Hold(0)
    events = Events()
    task = asyncio.create_task(download_to_file(
        backend, source, str(destination), options=WindowOptions(window=4, slot_size=slot),
        on_event=events))
    await events.wait_for(lambda: events.done_indices() == {1, 2, 3})
    hold.released.set()
    result = await task
    assert result.verified_md5 and destination.read_bytes() == data
    assert sum(read_back) == 3 * slot  # range 0 from memory, the rest from the file


@pytest.fixture(params=["moto", "rclone"])
async def s3(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Backend]]:
    server: S3Server = request.getfixturevalue(f"{request.param}_s3")
    backend = await connect(server)
    try:
        yield server.name, backend
    finally:
        await backend.aclose()


async def test_s3_bodies_are_read_as_received(s3: tuple[str, Backend],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The pieces aiohttp buffered come out as they are: StreamingBody.read (which
    joins them into larger copies) is never called, and the bytes are exact."""
    _, backend = s3
    bucket = f"/{unique_name('pieces')}"
    await backend.mkdir(bucket)
    data = pattern_bytes(3 * MiB + 5)
    await backend.write(f"{bucket}/o.bin", BytesReader(data), len(data))

    async def no_read(self: StreamingBody, amt: int | None = None) -> bytes:
        raise AssertionError("the body went through StreamingBody.read")

    monkeypatch.setattr(StreamingBody, "read", no_read)
    pieces = [chunk async for chunk in backend.read(f"{bucket}/o.bin")]
    assert b"".join(pieces) == data
    assert all(type(piece) is bytes for piece in pieces)
    ranged = [chunk async for chunk in backend.read(f"{bucket}/o.bin", MiB + 3, MiB)]
    assert b"".join(ranged) == data[MiB + 3 : 2 * MiB + 3]


async def test_multipart_objects_are_verified_where_the_etag_is_their_md5(
        s3: tuple[str, Backend], tmp_path: Path) -> None:
    """rclone's ETag of a multipart upload is the content's MD5 (no ``-N``), so the
    download is checked against it; moto's multipart ETag is not an MD5: no check."""
    name, backend = s3
    bucket = f"/{unique_name('verify')}"
    await backend.mkdir(bucket)
    data = pattern_bytes(12 * MiB + 11)  # above the multipart threshold: two parts
    await backend.write(f"{bucket}/big.bin", BytesReader(data), len(data))
    destination = tmp_path / "big.bin"
    result = await download_to_file(backend, f"{bucket}/big.bin", str(destination),
                                    options=WindowOptions(window=3, write_buffer=300_000))
    assert destination.read_bytes() == data
    assert result.ranges == 2
    assert result.verified_md5 is (name == "rclone")
