"""Adapter from a store's numbered multipart API (S3) to :class:`~.parts.PartSession`.

Found structurally (:class:`MultipartWriter`), never by the backend's class. A
session is started with ``open_multipart_session(path, size=, options=)`` or
reopened with ``upload_id=``; a reopened session knows from the store which
parts it holds (ListParts), so parts the journal missed in a crash are not sent
again either. Parts are numbered from 1 there, from 0 here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..backend import Backend
from ..errors import Unsupported
from ..types import WriteOptions
from .parts import ConfirmedPart

__all__ = ["MIN_PART_SIZE", "MultipartSessionLike", "MultipartWriter", "abort_multipart",
           "open_multipart"]

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part (all but the last)."""


class UploadedPartLike(Protocol):
    @property
    def number(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def etag(self) -> str: ...


class MultipartSessionLike(Protocol):
    upload_id: str

    @property
    def part_size(self) -> int: ...

    def confirmed(self) -> Mapping[int, UploadedPartLike]: ...

    async def upload_part(self, number: int, data: bytes | bytearray | memoryview,
                          progress: Callable[[int], None] | None = None) -> UploadedPartLike: ...

    async def complete(self, *, size: int | None = None) -> str: ...

    async def abort(self) -> None: ...


@runtime_checkable
class MultipartWriter(Protocol):
    async def open_multipart_session(self, path: str, *, size: int | None = None,
                                     options: WriteOptions = ...,
                                     upload_id: str | None = None,
                                     part_size: int | None = None) -> MultipartSessionLike: ...


class _Multipart:
    """A numbered multipart session seen as a PartSession."""

    def __init__(self, session: MultipartSessionLike) -> None:
        self.session = session

    @property
    def token(self) -> str:
        return self.session.upload_id

    @property
    def min_part_size(self) -> int:
        return MIN_PART_SIZE

    @property
    def part_size(self) -> int:
        return self.session.part_size

    def confirmed(self) -> Mapping[int, ConfirmedPart]:
        size = self.session.part_size
        return {number - 1: ConfirmedPart(number - 1, (number - 1) * size, part.size, part.etag)
                for number, part in self.session.confirmed().items()}

    async def send(self, part: ConfirmedPart, data: memoryview,
                   progress: Callable[[int], None]) -> str | None:
        uploaded = await self.session.upload_part(part.index + 1, data, progress)
        return uploaded.etag

    async def complete(self, parts: Mapping[int, ConfirmedPart]) -> None:
        await self.session.complete(size=sum(part.length for part in parts.values()))

    async def abort(self, *, keep: bool = False) -> None:
        if not keep:
            await self.session.abort()


async def open_multipart(backend: Backend, path: str, size: int, *, part_size: int,
                         options: WriteOptions, upload_id: str | None) -> _Multipart:
    if not isinstance(backend, MultipartWriter):
        raise Unsupported(f"{backend.display_name} has no multipart uploads", path=path)
    session = await backend.open_multipart_session(path, size=size, options=options,
                                                   upload_id=upload_id,
                                                   part_size=max(part_size, MIN_PART_SIZE))
    return _Multipart(session)


async def abort_multipart(backend: Backend, path: str, upload_id: str) -> None:
    """Abort an upload left by an earlier run (NotFound if it is gone already)."""
    abort: Any = getattr(backend, "abort_multipart_upload", None)
    if callable(abort):
        await abort(path, upload_id)
        return
    if not isinstance(backend, MultipartWriter):
        raise Unsupported(f"{backend.display_name} has no multipart uploads", path=path)
    session = await backend.open_multipart_session(path, upload_id=upload_id)
    await session.abort()
