"""The engine's retry policy: bounded attempts, exponential backoff with jitter.

One small value object decides whether a failed attempt is tried again and how
long to wait first. Only errors that say they are worth retrying
(``OrbitError.retriable``: dropped connections, timeouts, throttling, server
errors, damaged data) are retried; everything else fails at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import OrbitError

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently an operation is tried.

    Attempts are numbered from 1. After attempt ``n`` fails, the wait before
    attempt ``n + 1`` is drawn uniformly from the upper half of
    ``min(max_delay, base_delay * multiplier ** (n - 1))`` ("equal jitter"):
    it grows exponentially, never exceeds ``max_delay``, and many clients that
    failed together do not all come back at the same instant.
    """

    max_attempts: int = 5
    """Total tries including the first; 1 means never retry."""
    base_delay: float = 0.25
    """Seconds before the second attempt (before jitter)."""
    max_delay: float = 20.0
    """Upper bound of any single wait, in seconds."""
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    """Source of jitter; pass a seeded ``random.Random`` for reproducible delays."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based), which failed with ``exc``,
        is followed by another one."""
        return isinstance(exc, OrbitError) and exc.retriable and attempt < self.max_attempts

    def delay(self, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` failed, jitter included."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        ceiling = self.base_delay * self.multiplier ** min(attempt - 1, 64)
        ceiling = min(self.max_delay, ceiling)
        return ceiling / 2 + self.rng.random() * ceiling / 2

    def delays(self) -> Iterator[float]:
        """The waits between consecutive attempts: ``max_attempts - 1`` of them."""
        for attempt in range(1, self.max_attempts):
            yield self.delay(attempt)

    async def wait(self, attempt: int) -> None:
        """Sleep out the backoff after attempt ``attempt`` failed (cancellable)."""
        await asyncio.sleep(self.delay(attempt))


NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0)
"""Fail on the first error, whatever it is."""
