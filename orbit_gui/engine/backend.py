"""The Backend interface every store implements, and async reader adapters.

A backend streams: ``write()`` pulls from an :class:`AsyncReader` chunk by
chunk, ``read()`` and ``list()`` are lazy async iterators, so neither a file
nor a listing is ever held whole in memory.
"""

from __future__ import annotations

import abc
import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from .errors import NotFound, Unsupported
from .types import Entry, Features, ListOptions, WriteOptions

if TYPE_CHECKING:
    from typing import Self

    from .profiles import Profile

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "AsyncReader",
    "Backend",
    "BackendStats",
    "BytesReader",
    "IteratorReader",
    "LocalFileReader",
    "read_into",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024


@runtime_checkable
class AsyncReader(Protocol):
    async def read(self, n: int = -1) -> bytes:
        """Return up to ``n`` bytes (everything left for -1); ``b""`` at the end."""
        ...


async def read_into(reader: AsyncReader, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``reader`` as far as it goes; return how many bytes came.

    Uses the reader's own ``readinto`` when it has one, so a caller that keeps
    one buffer per part or slot never allocates per chunk.
    """
    readinto = getattr(reader, "readinto", None)
    filled = 0
    while filled < len(buffer):
        if readinto is not None:
            got: int = await readinto(buffer[filled:])
        else:
            data = await reader.read(len(buffer) - filled)
            got = len(data)
            buffer[filled : filled + got] = data
        if got == 0:
            break
        filled += got
    return filled


class BytesReader:
    """An AsyncReader over bytes already in memory (small writes, tests)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data)
        self._pos = 0

    async def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else min(len(self._view), self._pos + n)
        chunk = bytes(self._view[self._pos : end])
        self._pos = end
        return chunk

    async def readinto(self, buffer: memoryview) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        buffer[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n


class IteratorReader:
    """An AsyncReader over an async iterator of chunks, such as ``Backend.read()``."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._done = False

    async def _refill(self) -> bool:
        while not self._pending and not self._done:
            try:
                self._pending = memoryview(await anext(self._chunks))
            except StopAsyncIteration:
                self._done = True
        return bool(self._pending)

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            parts = []
            while await self._refill():
                parts.append(bytes(self._pending))
                self._pending = memoryview(b"")
            return b"".join(parts)
        if not await self._refill():
            return b""
        chunk = bytes(self._pending[:n])
        self._pending = self._pending[n:]
        return chunk

    async def readinto(self, buffer: memoryview) -> int:
        if not await self._refill():
            return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class LocalFileReader:
    """An AsyncReader over a local file; blocking reads run in a worker thread.

    ``readinto`` fills the caller's buffer directly; ``read`` reuses one
    internal buffer of ``buffer_size`` bytes for the disk read, made on its first
    call (a reader opened per upload part only ever ``readinto``-s).
    """

    def __init__(self, path: str | os.PathLike[str], *, offset: int = 0,
                 buffer_size: int = DEFAULT_CHUNK_SIZE) -> None:
        try:
            self._file = open(path, "rb", buffering=0)
        except FileNotFoundError:
            raise NotFound(f"{os.fspath(path)} does not exist", path=os.fspath(path)) from None
        if offset:
            self._file.seek(offset)
        self._buffer_size = buffer_size
        self._buffer: bytearray | None = None

    async def readinto(self, buffer: memoryview) -> int:
        return await asyncio.to_thread(self._file.readinto, buffer) or 0

    async def read(self, n: int = -1) -> bytes:
        if n < 0:
            return await asyncio.to_thread(self._file.read)
        if self._buffer is None:
            self._buffer = bytearray(self._buffer_size)
        view = memoryview(self._buffer)[: min(n, len(self._buffer))]
        got = await self.readinto(view)
        return bytes(view[:got])

    async def aclose(self) -> None:
        self._file.close()

    async def __aenter__(self) -> LocalFileReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclass(slots=True)
class BackendStats:
    """Request counters, for tests (listing laziness) and benchmarks."""

    list_pages: int = 0
    requests: int = 0


class Backend(abc.ABC):
    """A file store: local disk, an S3 bucket, an SFTP server or an SMB share.

    Paths are absolute POSIX-style strings ("/bucket/key" for S3, "/share/dir"
    for SMB). Differences between stores are declared in :attr:`features`.
    """

    scheme: ClassVar[str]
    features: Features = Features()
    """Class default; a backend may refine it per connection (what this server supports)."""

    def __init__(self) -> None:
        self.stats = BackendStats()

    @classmethod
    async def from_profile(cls, profile: Profile, secret: str | None = None) -> Self:
        """Build and connect a backend for ``profile``; ``secret`` is its password/key."""
        return cls()

    @classmethod
    def uses_secret(cls, profile: Profile) -> bool:
        """Whether connecting to ``profile`` may use a stored secret. False lets the
        caller skip the keyring (its import, backend discovery and a D-Bus call,
        ~0.2 s): an unencrypted key file, an anonymous or AWS-chain S3 profile. May
        read files: call it off the event loop. When unsure, True."""
        return True

    @property
    def display_name(self) -> str:
        """Short human name for messages and the window title."""
        return self.scheme

    @abc.abstractmethod
    async def stat(self, path: str) -> Entry: ...

    @abc.abstractmethod
    def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        """Stream the entries of a folder; a page is fetched only when needed."""

    @abc.abstractmethod
    def read(self, path: str, offset: int = 0, length: int | None = None, *,
             if_match: str | None = None) -> AsyncIterator[bytes]:
        """Stream a file's bytes from ``offset``; nothing past the end.

        With ``if_match`` (an ``Entry.etag`` seen earlier) the read fails with
        SourceChanged when the file is no longer that version, so a resumed or
        windowed download never splices two different files.
        """

    @abc.abstractmethod
    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        """Store everything ``reader`` yields at ``path``; return the byte count.

        The file appears under its final name only once complete.
        """

    @abc.abstractmethod
    async def mkdir(self, path: str, parents: bool = True) -> None: ...

    @abc.abstractmethod
    async def delete(self, path: str, recursive: bool = False) -> None: ...

    @abc.abstractmethod
    async def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``; fails with AlreadyExists if ``dst`` exists."""

    async def presign(self, path: str, expires_in: int = 3600) -> str:
        """A time-limited link anyone can download ``path`` with (``features.presign``)."""
        raise Unsupported(f"{self.display_name} cannot make links to files", path=path)

    async def aclose(self) -> None:  # noqa: B027 - a store without connections has nothing to do
        """Release connections; the backend is unusable afterwards."""

    async def exists(self, path: str) -> bool:
        try:
            await self.stat(path)
        except NotFound:
            return False
        return True

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
