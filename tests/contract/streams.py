"""Deterministic byte streams of any length that never sit whole in memory."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

__all__ = ["PatternReader", "digest_of", "pattern_bytes"]

_BLOCK = 64 * 1024


def _block(index: int) -> bytes:
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return seed * (_BLOCK // len(seed))


def pattern_bytes(size: int) -> bytes:
    """The first ``size`` bytes of the pattern, for small files compared whole."""
    blocks = (size + _BLOCK - 1) // _BLOCK
    return b"".join(_block(i) for i in range(blocks))[:size]


class PatternReader:
    """An AsyncReader yielding ``size`` pattern bytes in chunks; hashes what it gave."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.sha256 = hashlib.sha256()

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.size - self.position
        n = min(n, self.size - self.position)
        out = bytearray()
        while len(out) < n:
            index, offset = divmod(self.position + len(out), _BLOCK)
            out += _block(index)[offset : offset + n - len(out)]
        self.position += n
        self.sha256.update(out)
        return bytes(out)


async def digest_of(chunks: AsyncIterator[bytes]) -> tuple[int, str]:
    """Consume a byte stream; return its length and sha256 hex digest."""
    sha = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest()
