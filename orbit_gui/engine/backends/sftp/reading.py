"""Pipelined reads: several block requests in flight, their data yielded in order.

SFTP answers each read request separately, so one request at a time leaves the
link idle for a round trip per block. Here up to ``depth`` requests are out at
once; memory is bounded by ``depth x block`` whatever the file size.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable

import asyncssh

__all__ = ["pipelined_read"]


async def pipelined_read(
    file: asyncssh.SFTPClientFile,
    start: int,
    end: int | None,
    *,
    block: int,
    depth: int,
    known_size: int | None = None,
    on_request: Callable[[], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield the bytes of ``file`` from ``start`` up to ``end`` (None: to its end).

    ``known_size`` (from a stat) lets the whole window run up to that size;
    past it only one request probes at a time, so a file that grew since is
    still read to its end without flooding the server with requests past EOF.
    ``file`` must have been opened with ``block_size=0`` (one request per call).
    """
    queue: deque[tuple[int, int, asyncio.Future[bytes]]] = deque()
    next_offset = start

    def request(offset: int, size: int) -> asyncio.Future[bytes]:
        if on_request is not None:
            on_request()
        return asyncio.ensure_future(file.read(size, offset))

    def fill() -> None:
        nonlocal next_offset
        while len(queue) < depth:
            if end is not None and next_offset >= end:
                return
            if known_size is not None and next_offset >= known_size and any(
                offset >= known_size for offset, _, _ in queue
            ):
                return  # one probe past the known end at a time
            size = block if end is None else min(block, end - next_offset)
            queue.append((next_offset, size, request(next_offset, size)))
            next_offset += size

    try:
        fill()
        while queue:
            offset, size, pending = queue.popleft()
            data: bytes = await pending
            if not data:
                return  # end of file
            if len(data) < size:
                # A short answer: fetch the rest of this block before anything later.
                rest = offset + len(data)
                queue.appendleft((rest, size - len(data), request(rest, size - len(data))))
            yield data
            fill()
    finally:
        for _, _, pending in queue:
            pending.cancel()
        if queue:
            await asyncio.gather(*(pending for _, _, pending in queue), return_exceptions=True)
