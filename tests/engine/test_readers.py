from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orbit_gui.engine import BytesReader, IteratorReader, LocalFileReader, NotFound, read_into


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_bytes_reader_reads_in_pieces() -> None:
    reader = BytesReader(b"abcdefgh")
    assert await reader.read(3) == b"abc"
    assert await reader.read() == b"defgh"
    assert await reader.read(1) == b""


async def test_iterator_reader_splits_and_joins_chunks() -> None:
    reader = IteratorReader(chunks(b"ab", b"", b"cdef", b"g"))
    assert await reader.read(3) == b"ab"  # never waits to fill: returns what one chunk has
    assert await reader.read(3) == b"cde"
    assert await reader.read() == b"fg"
    assert await reader.read() == b""


async def test_read_into_fills_a_reused_buffer_across_chunks() -> None:
    buffer = memoryview(bytearray(5))
    reader = IteratorReader(chunks(b"ab", b"cd", b"efg"))
    assert await read_into(reader, buffer) == 5
    assert bytes(buffer) == b"abcde"
    assert await read_into(reader, buffer) == 2
    assert bytes(buffer[:2]) == b"fg"


async def test_read_into_works_with_plain_readers() -> None:
    class Plain:
        def __init__(self) -> None:
            self.data = b"0123456789"

        async def read(self, n: int = -1) -> bytes:
            out, self.data = self.data[:min(n, 4)], self.data[min(n, 4):]
            return out

    buffer = memoryview(bytearray(8))
    assert await read_into(Plain(), buffer) == 8
    assert bytes(buffer) == b"01234567"


async def test_local_file_reader(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 100)
    async with LocalFileReader(path, offset=10, buffer_size=64) as reader:
        first = await reader.read(100)
        assert first == (bytes(range(256)) * 100)[10:74]  # capped by the reused buffer
        buffer = memoryview(bytearray(1000))
        assert await read_into(reader, buffer) == 1000
        assert bytes(buffer) == (bytes(range(256)) * 100)[74:1074]


def test_local_file_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        LocalFileReader(tmp_path / "missing")
