"""A backend of generated entries, for listings that must stream slowly or fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from orbit_gui.engine import (
    AsyncReader,
    Backend,
    Entry,
    ListOptions,
    NotFound,
    OrbitError,
    Unsupported,
    WriteOptions,
)

__all__ = ["GeneratedBackend"]


class GeneratedBackend(Backend):
    """Folders ``/name`` hold ``sizes[name]`` generated files each.

    Every page yields to the event loop first, like a network request would.
    After ``fail_after`` pages the listing raises ``error``; after
    ``hold_after`` pages the next page request waits (``holding`` is set) for
    ``release``, like a slow server. ``closed`` records the folders whose
    listing was closed, in order.
    """

    scheme = "generated"

    def __init__(self, sizes: dict[str, int], *, page_size: int = 100,
                 fail_after: int | None = None, error: BaseException | None = None,
                 hold_after: int | None = None) -> None:
        super().__init__()
        self.sizes = sizes
        self.page_size = page_size
        self.fail_after = fail_after
        self.error = error
        self.hold_after = hold_after
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.closed: list[str] = []

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        name = path.strip("/")
        if name not in self.sizes:
            raise NotFound(f"{path}: no such folder", path=path)
        try:
            for start in range(0, self.sizes[name], self.page_size):
                await asyncio.sleep(0)
                if self.hold_after is not None and self.stats.list_pages >= self.hold_after:
                    self.holding.set()
                    await self.release.wait()
                if self.fail_after is not None and self.stats.list_pages >= self.fail_after:
                    raise self.error or OrbitError("failed")
                self.stats.list_pages += 1
                for i in range(start, min(start + self.page_size, self.sizes[name])):
                    yield Entry(name=f"f{i}", path=f"{path}/f{i}", is_dir=False, size=i)
        finally:
            self.closed.append(path)

    async def stat(self, path: str) -> Entry:
        raise Unsupported("stat")

    def read(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        raise Unsupported("read")

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        raise Unsupported("write")

    async def mkdir(self, path: str, parents: bool = True) -> None:
        raise Unsupported("mkdir")

    async def delete(self, path: str, recursive: bool = False) -> None:
        raise Unsupported("delete")

    async def rename(self, src: str, dst: str) -> None:
        raise Unsupported("rename")
