"""Awaitable waits on Qt signals for async tests running on the qasync loop.

qtbot.waitSignal spins a nested Qt loop, which cannot run other asyncio tasks
while the test's own task is executing; these waits await instead. They set
no timeout of their own (pytest-timeout ends a hung test): qasync leaves a
cancelled timer registered on the loop's QObject, and when that loop is
garbage collected in a worker thread Qt warns that timers cannot be stopped
from another thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from PySide6.QtCore import SignalInstance

from orbit_gui.engine import Backend
from orbit_gui.models.listing_model import ListingModel

__all__ = ["listing_model", "wait_until"]


async def wait_until(predicate: Callable[[], object], *signals: SignalInstance) -> None:
    """Wait until ``predicate()`` holds, checking it each time one of ``signals`` fires."""
    fired = asyncio.Event()

    def handler(*args: Any) -> None:
        fired.set()

    for signal in signals:
        signal.connect(handler)
    try:
        while True:
            fired.clear()
            if predicate():
                return
            await fired.wait()
    finally:
        for signal in signals:
            signal.disconnect(handler)


@asynccontextmanager
async def listing_model(backend: Backend, **options: Any) -> AsyncIterator[ListingModel]:
    """A ListingModel whose listing is closed (and awaited) when the block ends."""
    model = ListingModel(backend, **options)
    try:
        yield model
    finally:
        await model.aclose()
