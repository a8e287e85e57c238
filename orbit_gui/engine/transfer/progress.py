"""What a transfer is doing, as one immutable snapshot, and how snapshots reach front ends.

Every transfer publishes :class:`TransferSnapshot` values through a
:class:`ProgressHub`. The hub coalesces: a transfer that changes a thousand
times a second still produces at most ``max_rate`` events per second (the
latest state always arrives, at the trailing edge), so neither the CLI nor a Qt
model is flooded. Front ends either iterate a :class:`Subscription`
(``async for event in hub.subscribe()``) or register a callback with
:meth:`ProgressHub.add_listener`; both see the same events.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Direction",
    "EventListeners",
    "FileFailure",
    "PartProgress",
    "PartState",
    "ProgressHub",
    "SnapshotSource",
    "SpeedMeter",
    "Subscription",
    "TransferEvent",
    "TransferRemoved",
    "TransferSnapshot",
    "TransferState",
]

log = logging.getLogger(__name__)


class TransferState(enum.StrEnum):
    QUEUED = "queued"
    PREPARING = "preparing"
    TRANSFERRING = "transferring"
    PAUSED = "paused"
    RETRYING = "retrying"
    """A part or range waits out a backoff; ``attempt``/``max_attempts`` say which try."""
    VERIFYING = "verifying"
    ASSEMBLING = "assembling"
    """Multipart complete / rename into place."""
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """Left unfinished by an earlier run (crash, kill); can be resumed or discarded."""

    @property
    def finished(self) -> bool:
        return self in (TransferState.DONE, TransferState.FAILED, TransferState.CANCELLED)

    @property
    def active(self) -> bool:
        return self in _ACTIVE


_ACTIVE = frozenset({TransferState.QUEUED, TransferState.PREPARING, TransferState.TRANSFERRING,
                     TransferState.RETRYING, TransferState.VERIFYING, TransferState.ASSEMBLING})


class PartState(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in-flight"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"


class Direction(enum.StrEnum):
    UPLOAD = "upload"
    """This computer to a remote store."""
    DOWNLOAD = "download"
    """A remote store to this computer."""
    COPY = "copy"
    """Between two remote stores (or two local folders)."""


@dataclass(frozen=True, slots=True)
class PartProgress:
    """One multipart part, positional part, or download range of a file."""

    index: int
    offset: int
    length: int
    bytes_done: int
    state: PartState
    attempt: int = 1
    slot: int | None = None
    """The download-window slot fetching this range, while in flight."""
    file: str = ""
    """The file it belongs to, relative to the transfer's source (folder transfers)."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "offset": self.offset,
                                "length": self.length, "bytes_done": self.bytes_done,
                                "state": self.state.value, "attempt": self.attempt}
        if self.slot is not None:
            data["slot"] = self.slot
        if self.file:
            data["file"] = self.file
        return data


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file of a folder transfer that failed (the transfer went on with the others)."""

    path: str
    error: str


@dataclass(frozen=True, slots=True)
class TransferSnapshot:
    """Everything a front end shows about one transfer, at one moment."""

    id: str
    direction: Direction
    source: str
    destination: str
    state: TransferState
    bytes_done: int = 0
    total: int | None = None
    """Bytes to move; None while unknown (a stream of unknown size)."""
    counting: bool = False
    """A folder walk is still discovering files: ``total`` will grow."""
    speed: float = 0.0
    """Bytes per second over the last few seconds."""
    eta: float | None = None
    """Seconds left at the current speed (None when unknown)."""
    files_done: int = 0
    files_total: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    current: tuple[str, ...] = ()
    """Files in flight (relative paths; "" for a single-file transfer)."""
    parts: tuple[PartProgress, ...] = ()
    """Parts or ranges of the files in flight."""
    error: str | None = None
    """Why it failed (state FAILED), or the last error being retried."""
    attempt: int = 0
    max_attempts: int = 0
    failures: tuple[FileFailure, ...] = ()
    """The first few files that failed in a folder transfer."""
    priority: int = 0
    position: int = 0
    """Place in the queue (0 first)."""
    seq: int = 0
    """Increases with every snapshot of this transfer."""
    resumed_bytes: int = 0
    """Bytes that were already in place when this run started (not sent again)."""

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None if self.total is None else 1.0
        return min(1.0, self.bytes_done / self.total)

    def state_text(self) -> str:
        """"retrying 2/5", "failed: reason", "transferring"..."""
        if self.state is TransferState.RETRYING and self.max_attempts:
            return f"retrying {self.attempt}/{self.max_attempts}"
        if self.state is TransferState.FAILED and self.error:
            return f"failed: {self.error}"
        return self.state.value

    def to_json(self) -> dict[str, Any]:
        return {
            "transfer": self.id,
            "direction": self.direction.value,
            "source": self.source,
            "destination": self.destination,
            "state": self.state.value,
            "bytes_done": self.bytes_done,
            "total": self.total,
            "counting": self.counting,
            "speed": round(self.speed, 1),
            "eta": None if self.eta is None else round(self.eta, 1),
            "files_done": self.files_done,
            "files_total": self.files_total,
            "files_failed": self.files_failed,
            "files_skipped": self.files_skipped,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "error": self.error,
            "resumed_bytes": self.resumed_bytes,
            "parts": [part.to_json() for part in self.parts],
        }


@dataclass(frozen=True, slots=True)
class TransferRemoved:
    """The transfer left the queue (removed or cleared): forget its row."""

    id: str


TransferEvent = TransferSnapshot | TransferRemoved


class SpeedMeter:
    """Bytes per second over a moving window of recent samples."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, total_bytes: int) -> None:
        samples = self._samples
        if samples and total_bytes < samples[-1][1]:
            samples.clear()  # the count went back (a restart): old samples mean nothing
        samples.append((now, total_bytes))
        while len(samples) > 2 and samples[1][0] <= now - self.window:
            samples.popleft()

    def speed(self, now: float) -> float:
        samples = self._samples
        if len(samples) < 2:
            return 0.0
        first_t, first_b = samples[0]
        last_t, last_b = samples[-1]
        span = max(now, last_t) - first_t
        if span <= 0:
            return 0.0
        return (last_b - first_b) / span

    def reset(self) -> None:
        self._samples.clear()


class SnapshotSource(Protocol):
    """What the hub needs of a transfer: its id and a way to take a snapshot."""

    @property
    def id(self) -> str: ...

    def snapshot(self) -> TransferSnapshot: ...


class Subscription:
    """An async iterator of events that never falls behind by more than one event
    per transfer: a transfer's newer snapshot replaces its older undelivered one."""

    def __init__(self, hub: ProgressHub) -> None:
        self._hub = hub
        self._pending: dict[str, TransferEvent] = {}
        self._wakeup = asyncio.Event()
        self._closed = False

    def _push(self, event: TransferEvent) -> None:
        if self._closed:
            return
        self._pending.pop(event.id, None)  # move to the end: order of last change
        self._pending[event.id] = event
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[TransferEvent]:
        return self

    async def __anext__(self) -> TransferEvent:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        key = next(iter(self._pending))
        return self._pending.pop(key)

    def drain(self) -> list[TransferEvent]:
        """Everything pending now, without waiting."""
        events = list(self._pending.values())
        self._pending.clear()
        return events

    def close(self) -> None:
        """End the iteration once the pending events are consumed."""
        self._closed = True
        self._hub._subscriptions.discard(self)
        self._wakeup.set()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventListeners:
    """Callbacks that each get every transfer event, added and removed at any time."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[TransferEvent], None]] = []

    def add_listener(self, callback: Callable[[TransferEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a remover."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def deliver(self, event: TransferEvent) -> None:
        """Call every listener; one that fails is logged and the others still run."""
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("a progress listener failed on %r", event.id)


class ProgressHub:
    """Rate-limited fan-out of transfer snapshots to listeners and subscriptions."""

    def __init__(self, max_rate: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.interval = 1.0 / max_rate
        self._clock = clock
        self._listeners = EventListeners()
        self._subscriptions: set[Subscription] = set()
        self._last: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._sources: dict[str, SnapshotSource] = {}

    def add_listener(self, callback: Callable[[TransferEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on the event loop for every event; returns a remover."""
        return self._listeners.add_listener(callback)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        self._subscriptions.add(subscription)
        return subscription

    def changed(self, source: SnapshotSource) -> None:
        """``source`` changed: publish now, or at the end of its rate interval."""
        key = source.id
        self._sources[key] = source
        if key in self._timers:
            return  # a trailing publish is already scheduled and will see this change
        now = self._clock()
        wait = self._last.get(key, -1e18) + self.interval - now
        if wait <= 0:
            self._publish(key)
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(wait, self._publish, key)

    def flush(self, key: str | None = None) -> None:
        """Publish now what is waiting for the trailing edge (one transfer or all)."""
        keys = [key] if key is not None else list(self._timers)
        for item in keys:
            if item in self._timers:
                self._publish(item)

    def removed(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._sources.pop(key, None)
        self._last.pop(key, None)
        self._deliver(TransferRemoved(key))

    def _publish(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        source = self._sources.get(key)
        if source is None:
            return
        self._last[key] = self._clock()
        self._deliver(source.snapshot())

    def _deliver(self, event: TransferEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription._push(event)
        self._listeners.deliver(event)

    def close(self) -> None:
        """Flush pending events and end every subscription."""
        self.flush()
        for subscription in list(self._subscriptions):
            subscription.close()
