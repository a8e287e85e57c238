"""Shared pieces of the transfer model and panel tests: an S3 bucket on moto, a
delaying proxy in front of it, hand-made snapshots published through a real
ProgressHub, and waits on the model's ticks.

Import the fixtures into a test module (``from tests.models.transfer_fixtures
import bucket, ...``) to use them there, with ``s3`` (moto) that they run on.
``proxy`` and ``proxied`` come from tests/engine/s3_helpers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from orbit_gui.engine import Backend
from orbit_gui.engine.retry import RetryPolicy
from orbit_gui.engine.transfer import (
    ConflictPolicy,
    Direction,
    PartProgress,
    PartState,
    ProgressHub,
    TransferOptions,
    TransferSnapshot,
    TransferState,
)
from orbit_gui.models.transfer_model import TransferModel
from tests.engine.s3_helpers import connect, pending_uploads, proxied, proxy, s3_bucket
from tests.models.qt_waits import wait_until
from tests.servers.info import S3Server

__all__ = [
    "GUARD",
    "MiB",
    "Published",
    "bucket",
    "connect",
    "options",
    "part",
    "pending_uploads",
    "proxied",
    "proxy",
    "s3",
    "snapshot",
    "until",
]

MiB = 1024 * 1024
GUARD = 90.0
"""Seconds after which a hung wait fails the test (never reached when it passes)."""
QUICK = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


def options(**kwargs: Any) -> TransferOptions:
    kwargs.setdefault("conflict", ConflictPolicy.OVERWRITE)
    kwargs.setdefault("retry", QUICK)
    kwargs.setdefault("part_size", 5 * MiB)
    kwargs.setdefault("multipart_threshold", 5 * MiB)
    return TransferOptions(**kwargs)


@pytest.fixture
def s3(moto_s3: S3Server) -> S3Server:
    """The server the fixtures from tests/engine/s3_helpers.py use here: moto only."""
    return moto_s3


@pytest.fixture
async def bucket(s3: S3Server) -> AsyncIterator[tuple[Backend, str]]:
    """A connected moto backend and a fresh bucket ("/name"), deleted afterwards."""
    async with s3_bucket(s3, "queue") as made:
        yield made


async def until(model: TransferModel, predicate: Callable[[], object]) -> None:
    """Wait (at most GUARD seconds) until ``predicate()`` holds after a model tick."""
    await asyncio.wait_for(wait_until(predicate, model.flushed), GUARD)


def part(index: int, state: PartState = PartState.PENDING, *, size: int = 100,
         done: int | None = None, slot: int | None = None, file: str = "",
         attempt: int = 1) -> PartProgress:
    if done is None:
        done = size if state is PartState.DONE else 0
    return PartProgress(index, index * size, size, done, state, attempt, slot, file)


def snapshot(key: str, state: TransferState = TransferState.TRANSFERRING,
             **fields: Any) -> TransferSnapshot:
    fields.setdefault("direction", Direction.UPLOAD)
    fields.setdefault("source", f"/home/ana/{key}.bin")
    fields.setdefault("destination", f"prod:/bucket/{key}.bin")
    return TransferSnapshot(id=key, state=state, **fields)


@dataclass
class Published:
    """A hand-made transfer published through a real ProgressHub (SnapshotSource)."""

    hub: ProgressHub
    current: TransferSnapshot

    @property
    def id(self) -> str:
        return self.current.id

    def snapshot(self) -> TransferSnapshot:
        return self.current

    def publish(self, **changes: Any) -> None:
        self.current = replace(self.current, seq=self.current.seq + 1, **changes)
        self.hub.changed(self)
        self.hub.flush(self.id)
