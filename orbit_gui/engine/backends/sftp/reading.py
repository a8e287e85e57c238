"""Pipelined reads: several block requests in flight, their data yielded in order.

SFTP answers each read request separately, so one request at a time leaves the
link idle for a round trip per block. Here up to ``depth`` requests are out at
once; memory is bounded by ``depth x block`` whatever the file size. Reads
running side by side on one connection (the ranges of a window download) share
one :class:`RequestBudget`, so together they hold about what one read holds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Callable

import asyncssh

__all__ = ["RequestBudget", "pipelined_read"]


class RequestBudget:
    """Read requests the reads of one connection may have in flight together."""

    def __init__(self, size: int) -> None:
        self.free = size

    def take(self) -> bool:
        if self.free <= 0:
            return False
        self.free -= 1
        return True

    def give(self) -> None:
        self.free += 1


async def pipelined_read(
    file: asyncssh.SFTPClientFile,
    start: int,
    end: int | None,
    *,
    block: int,
    depth: int,
    known_size: int | None = None,
    on_request: Callable[[], None] | None = None,
    budget: RequestBudget | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield the bytes of ``file`` from ``start`` up to ``end`` (None: to its end).

    ``known_size`` (from a stat) lets the whole window run up to that size;
    past it only one request probes at a time, so a file that grew since is
    still read to its end without flooding the server with requests past EOF.
    ``file`` must have been opened with ``block_size=0`` (one request per call).
    With the ``budget`` spent, a read with nothing in flight still sends one
    request: reads never wait for each other (whatever their consumers wait for).
    """
    queue: deque[tuple[int, int, asyncio.Future[bytes], bool]] = deque()
    next_offset = start

    def request(offset: int, size: int) -> asyncio.Future[bytes]:
        if on_request is not None:
            on_request()
        return asyncio.ensure_future(file.read(size, offset))

    def enqueue(offset: int, size: int, *, first: bool) -> bool:
        """Send a request for the block unless the budget says wait (False then);
        ``first``: the rest of a short answer, sent whatever the budget says."""
        budgeted = budget is not None and budget.take()
        if budget is not None and not budgeted and queue and not first:
            return False
        entry = (offset, size, request(offset, size), budgeted)
        queue.appendleft(entry) if first else queue.append(entry)
        return True

    def fill() -> None:
        nonlocal next_offset
        while len(queue) < depth:
            if end is not None and next_offset >= end:
                return
            if known_size is not None and next_offset >= known_size and any(
                offset >= known_size for offset, _, _, _ in queue
            ):
                return  # one probe past the known end at a time
            size = block if end is None else min(block, end - next_offset)
            if not enqueue(next_offset, size, first=False):
                return
            next_offset += size

    try:
        fill()
        while queue:
            offset, size, pending, budgeted = queue.popleft()
            try:
                data: bytes = await pending
            finally:
                if budgeted:
                    assert budget is not None
                    budget.give()
            if not data:
                return  # end of file
            if len(data) < size:
                # A short answer: fetch the rest of this block before anything later.
                rest = offset + len(data)
                enqueue(rest, size - len(data), first=True)
            yield data
            fill()
    finally:
        for _, _, pending, budgeted in queue:
            pending.cancel()
            if budgeted:
                assert budget is not None
                budget.give()
        if queue:
            await asyncio.gather(*(entry[2] for entry in queue), return_exceptions=True)
