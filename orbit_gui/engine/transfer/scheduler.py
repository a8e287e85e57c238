"""File slots: how many files move at once, overall and per connection.

One arbiter hands out slots. A waiter names the connections it will use
(source and destination backends); it gets a slot when the global limit and
each of its connections' limits have room. Waiters are served in queue order
(:attr:`SlotOwner.order`: priority, then position), but one blocked only by a
busy connection does not hold up a later one that uses other connections.
Limits can change at any time; raising one serves waiters at once.

A small file of a folder (one that moves in one request) takes a quarter of a
slot: a large file keeps a window of ranges or parts in flight, a small one a
single request, so four of them keep the connection as busy as one large file
does. A folder of small files then moves with twelve requests in flight (the
aws CLI keeps ten) instead of three; what a slot costs in memory stays the same.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["DEFAULT_CONCURRENCY", "SMALL_PER_SLOT", "Scheduler", "Slot", "SlotOwner"]

DEFAULT_CONCURRENCY = 3
SMALL_PER_SLOT = 4
"""Small files that share one slot (the engine's default window is 4 ranges)."""


class SlotOwner(Protocol):
    @property
    def order(self) -> tuple[int, int]:
        """Sort key: lower goes first (e.g. ``(-priority, position)``)."""
        ...


@dataclass(eq=False)
class _Waiter:
    owner: SlotOwner
    keys: tuple[Hashable, ...]
    units: int
    future: asyncio.Future[None]
    seq: int


@dataclass(eq=False)
class Slot:
    """A granted place; give it back with :meth:`release` (idempotent) or ``async with``."""

    scheduler: Scheduler
    keys: tuple[Hashable, ...]
    units: int
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.scheduler._release(self.keys, self.units)

    async def __aenter__(self) -> Slot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Scheduler:
    def __init__(self, limit: int = DEFAULT_CONCURRENCY,
                 per_connection: int | None = None) -> None:
        self._check(limit)
        if per_connection is not None:
            self._check(per_connection)
        self._limit = limit
        self._per_connection = per_connection
        self._active = 0
        self._units = 0
        """Quarter slots in use (a large file takes SMALL_PER_SLOT, a small one 1)."""
        self._by_key: Counter[Hashable] = Counter()
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()

    @staticmethod
    def _check(limit: int) -> None:
        if limit < 1:
            raise ValueError("a concurrency limit must be at least 1")

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def per_connection(self) -> int | None:
        return self._per_connection

    @property
    def active(self) -> int:
        """Files that hold a slot or a share of one."""
        return self._active

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def set_limit(self, limit: int) -> None:
        """Change how many files move at once; running ones are never interrupted."""
        self._check(limit)
        self._limit = limit
        self._grant()

    def set_per_connection(self, limit: int | None) -> None:
        if limit is not None:
            self._check(limit)
        self._per_connection = limit
        self._grant()

    async def acquire(self, owner: SlotOwner, keys: tuple[Hashable, ...] = (), *,
                      small: bool = False) -> Slot:
        """Wait for a slot for ``owner`` using connections ``keys``; a ``small`` file
        (one request) waits for a quarter of one."""
        keys = tuple(dict.fromkeys(keys))
        units = 1 if small else SMALL_PER_SLOT
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(owner, keys, units, future, next(self._seq))
        self._waiters.append(waiter)
        self._grant()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(keys, units)  # granted in the same instant we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        return Slot(self, keys, units)

    def reorder(self) -> None:
        """Owners' order changed: serve waiters by the new order."""
        self._grant()

    def _connections_fit(self, waiter: _Waiter) -> bool:
        limit = self._per_connection
        return limit is None or all(self._by_key[key] + waiter.units <= limit * SMALL_PER_SLOT
                                    for key in waiter.keys)

    def _grant(self) -> None:
        capacity = self._limit * SMALL_PER_SLOT
        if not self._waiters or self._units >= capacity:
            return
        self._waiters = [w for w in self._waiters if not w.future.done()]
        for waiter in sorted(self._waiters, key=lambda w: (w.owner.order, w.seq)):
            if self._units + waiter.units > capacity:
                break  # no overtaking on the overall limit: a large file is not starved
            if not self._connections_fit(waiter):
                continue
            self._waiters.remove(waiter)
            self._active += 1
            self._units += waiter.units
            self._by_key.update({key: waiter.units for key in waiter.keys})
            waiter.future.set_result(None)

    def _release(self, keys: tuple[Hashable, ...], units: int) -> None:
        self._active -= 1
        self._units -= units
        self._by_key.subtract({key: units for key in keys})
        for key in keys:
            if self._by_key[key] <= 0:
                del self._by_key[key]
        self._grant()
