"""Bandwidth limits: a token bucket per limit, global and per transfer.

Data paths call :meth:`BandwidthLimiter.consume` with each chunk's size before
passing it on; every bucket in the limiter takes its share, so a transfer is
held to the lower of its own limit and the whole queue's. A bucket may go into
debt for a chunk larger than its burst; the consumer then sleeps the debt off,
so the long-run rate holds whatever the chunk sizes. A rate of None means
unlimited and costs nothing; rates can change while transfers run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["BandwidthLimiter", "TokenBucket", "parse_rate"]

MIN_BURST = 16 * 1024


class TokenBucket:
    """``rate`` bytes per second with a burst of ``burst`` bytes (default rate / 4)."""

    def __init__(self, rate: float | None = None, burst: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._rate: float | None = None
        self._burst_setting = burst
        self._burst = 0.0
        self._tokens = 0.0
        self._stamp = clock()
        self.set_rate(rate)
        self._tokens = self._burst  # a fresh bucket allows one burst at once

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None, burst: float | None = None) -> None:
        """Change the limit (None or 0: unlimited); takes effect for the next chunk."""
        if rate is not None and rate < 0:
            raise ValueError("a bandwidth limit cannot be negative")
        self._refill()
        self._rate = rate or None
        if burst is not None:
            self._burst_setting = burst
        if self._rate is None:
            self._burst = 0.0
            self._tokens = 0.0
            return
        self._burst = self._burst_setting or max(self._rate / 4, MIN_BURST)
        self._tokens = min(self._tokens, self._burst)

    def _refill(self) -> None:
        now = self._clock()
        if self._rate is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def reserve(self, amount: int) -> float:
        """Take ``amount`` tokens now; return how long the caller must wait (seconds)."""
        if self._rate is None or amount <= 0:
            return 0.0
        self._refill()
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def consume(self, amount: int) -> None:
        wait = self.reserve(amount)
        if wait > 0:
            await self._sleep(wait)


class BandwidthLimiter:
    """Several buckets that all must allow a chunk (transfer limit + global limit)."""

    def __init__(self, buckets: Iterable[TokenBucket | None] = ()) -> None:
        self.buckets = [bucket for bucket in buckets if bucket is not None]

    @property
    def unlimited(self) -> bool:
        return all(bucket.rate is None for bucket in self.buckets)

    async def consume(self, amount: int) -> None:
        wait = 0.0
        for bucket in self.buckets:
            wait = max(wait, bucket.reserve(amount))
        if wait > 0:
            await self.buckets[0]._sleep(wait)


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_rate(text: str) -> float | None:
    """``"10M"`` -> 10 MiB/s, ``"512k"``, ``"1.5G"``, ``"0"``/``"off"`` -> None (unlimited)."""
    value = text.strip().lower().removesuffix("/s").removesuffix("ib").removesuffix("b")
    if value in ("", "0", "off", "none", "unlimited"):
        return None
    unit = value[-1] if value[-1] in _UNITS else ""
    number = value[: len(value) - len(unit)] if unit else value
    try:
        rate = float(number) * _UNITS[unit]
    except ValueError:
        raise ValueError(
            f"{text!r} is not a rate: use bytes per second like 500k, 10M, 1G") from None
    if rate < 0:
        raise ValueError(f"{text!r}: a rate cannot be negative")
    return rate or None
