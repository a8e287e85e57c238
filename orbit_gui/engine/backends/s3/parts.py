"""Multipart arithmetic and the zero-copy request body of one part.

Pure functions choose part sizes so an object never needs more than 10,000
parts; :class:`PartBody` hands a part's buffer to aiobotocore without copying
it and reports the bytes as they go out; :class:`BufferPool` keeps the few
part buffers an upload reuses; :func:`fill` reads a reader into a buffer in
bounded steps.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

from ...backend import AsyncReader, read_into

__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_THRESHOLD",
    "MAX_COPY_SIZE",
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "PARTS_PER_STEP",
    "BufferPool",
    "PartBody",
    "PartPlan",
    "ProgressCallback",
    "fill",
    "plan_part_size",
]

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
"""S3's smallest part (all parts but the last)."""
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB
"""5 TiB, the largest S3 object."""
MAX_COPY_SIZE = 5 * 1024 * MiB
"""The largest object one CopyObject can copy; bigger ones need UploadPartCopy."""
DEFAULT_PART_SIZE = 5 * MiB
"""Five parts of this size (four in flight, one filling) stay under the contract's
32 MiB bound on a write's memory; raise it per profile for fast links."""
DEFAULT_THRESHOLD = 5 * MiB
PARTS_PER_STEP = 1000
"""Unknown-size streams double their part size every this many parts, so 10,000
parts reach 5 TiB from a 5 MiB start."""

FILL_STEP = MiB
"""Largest single read asked of a reader, so readers that allocate per call stay small."""
BODY_CHUNK = 256 * 1024
"""How much of a part is handed to the socket at a time (and progress granularity)."""

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just sent (increments, never more than the part)."""


def plan_part_size(size: int | None, preferred: int = DEFAULT_PART_SIZE) -> int:
    """The part size for an object of ``size`` bytes (None: unknown).

    ``preferred`` is used unless the object would then need more than 10,000
    parts; the size is then raised to the next whole MiB that fits. Clamped to
    S3's 5 MiB..5 GiB part limits.
    """
    part = min(max(preferred, MIN_PART_SIZE), MAX_PART_SIZE)
    if size is None:
        return part
    if size < 0:
        raise ValueError("size must not be negative")
    if size > MAX_OBJECT_SIZE:
        raise ValueError(f"{size} bytes is more than S3's 5 TiB object limit")
    needed = math.ceil(size / MAX_PARTS)
    if needed > part:
        part = math.ceil(needed / MiB) * MiB
    return min(part, MAX_PART_SIZE)


class PartPlan:
    """Part sizes of one upload: all ``base`` for a known size; for an unknown size
    doubling every :data:`PARTS_PER_STEP` parts so the 10,000 parts go far enough."""

    def __init__(self, base: int, size_known: bool) -> None:
        self.base = base
        self.size_known = size_known

    @classmethod
    def for_size(cls, size: int | None, preferred: int = DEFAULT_PART_SIZE) -> PartPlan:
        return cls(plan_part_size(size, preferred), size is not None)

    def size_of(self, number: int) -> int:
        """The size of part ``number`` (1-based); the last part may be shorter."""
        if not 1 <= number <= MAX_PARTS:
            raise ValueError(f"part numbers run from 1 to {MAX_PARTS}, not {number}")
        if self.size_known:
            return self.base
        return min(MAX_PART_SIZE, self.base << ((number - 1) // PARTS_PER_STEP))

    def capacity(self) -> int:
        """The most bytes 10,000 parts of this plan can hold."""
        if self.size_known:
            return self.base * MAX_PARTS
        return sum(self.size_of(n) for n in range(1, MAX_PARTS + 1, PARTS_PER_STEP)) * \
            PARTS_PER_STEP


async def fill(reader: AsyncReader, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``reader``; fewer bytes than its length means the end.

    Reads at most :data:`FILL_STEP` bytes per call so that readers which
    allocate what they are asked for never allocate a whole part.
    """
    filled = 0
    total = len(buffer)
    while filled < total:
        step = buffer[filled : min(total, filled + FILL_STEP)]
        got = await read_into(reader, step)
        filled += got
        if got < len(step):
            break
    return filled


class BufferPool:
    """Reused part buffers: a buffer given back is handed out again, a too small
    one is dropped. The caller bounds how many are out at once."""

    def __init__(self) -> None:
        self._free: list[bytearray] = []
        self.allocated = 0
        """Buffers made so far (tests check reuse)."""

    def take(self, size: int) -> bytearray:
        while self._free:
            buffer = self._free.pop()
            if len(buffer) >= size:
                return buffer
        self.allocated += 1
        return bytearray(size)

    def give(self, buffer: bytearray) -> None:
        self._free.append(buffer)

    def clear(self) -> None:
        self._free.clear()


class PartBody:
    """A part's bytes as a request body, without copying them.

    botocore sees a seekable file (``read``/``seek``/``tell``/``len``: it hashes
    the payload for the signature and sets Content-Length); aiohttp sees an
    async iterable and sends it in :data:`BODY_CHUNK` slices, each reported to
    ``progress`` once written. A resend (botocore retry) reports only bytes
    beyond those already reported, so progress never exceeds the part.
    """

    def __init__(self, data: bytes | bytearray | memoryview,
                 progress: ProgressCallback | None = None) -> None:
        view = memoryview(data)
        self._data = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        self._pos = 0
        self._reported = 0
        self._progress = progress

    def __len__(self) -> int:
        return len(self._data)

    def read(self, n: int | None = -1) -> memoryview:
        end = len(self._data) if n is None or n < 0 else min(len(self._data), self._pos + n)
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._data)}[whence]
        self._pos = max(0, min(len(self._data), base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def __aiter__(self) -> AsyncIterator[memoryview]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[memoryview]:
        size = len(self._data)
        for start in range(0, size, BODY_CHUNK):
            chunk = self._data[start : start + BODY_CHUNK]
            yield chunk  # resumes once aiohttp has written it
            self._sent(start + len(chunk))

    def _sent(self, end: int) -> None:
        if end > self._reported:
            delta = end - self._reported
            self._reported = end
            if self._progress is not None:
                self._progress(delta)
