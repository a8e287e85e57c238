"""What the loopback HTTP/1.1 proxies of the tests share: reading request heads and
copying bytes from one side to the other until either side goes away.

A side that went away ends the copy at once. Writing on to a lost connection would
make asyncio log ``socket.send() raised exception.`` for every further write, which
the log guard rightly counts as an unexpected warning.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

__all__ = ["COPY_SIZE", "RequestHead", "forward", "pipe"]

COPY_SIZE = 256 * 1024


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    headers: dict[str, str]
    """Header names in lower case."""

    @property
    def range(self) -> str | None:
        return self.headers.get("range")

    @classmethod
    def parse(cls, raw: bytes) -> RequestHead:
        lines = raw.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return cls(method, target, headers)


async def forward(writer: asyncio.StreamWriter, data: bytes) -> bool:
    """Write ``data`` and wait for it to drain; False once the other side is gone."""
    if writer.is_closing():
        return False
    writer.write(data)
    try:
        await writer.drain()
    except ConnectionError:
        return False
    return True


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               count: int | None) -> bool:
    """Copy ``count`` bytes (all, for None) from reader to writer; False if the
    writer's side went away first."""
    left = count
    while left is None or left > 0:
        try:
            data = await reader.read(COPY_SIZE if left is None else min(COPY_SIZE, left))
        except ConnectionError:
            break
        if not data:
            break
        if left is not None:
            left -= len(data)
        if not await forward(writer, data):
            return False
    return True
