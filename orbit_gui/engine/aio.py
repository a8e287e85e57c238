"""asyncio helpers for work that must not be cut short by a cancellation.

Cancelling a task that awaits ``asyncio.to_thread`` (or a request already on
the wire) does not stop the work: the thread still creates its file, the server
still opens its handle. The caller has gone, so nobody closes or removes what
that work made, and a pause leaves an empty ``.orbit-partial-*`` file behind.
:func:`to_the_end` waits for such work to finish before the cancellation goes
on, and hands what it made to an ``undo`` step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["to_the_end"]

T = TypeVar("T")


async def to_the_end(work: Awaitable[T],
                     undo: Callable[[T], Awaitable[object]] | None = None, *,
                     grace: float | None = None) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile.

    Without a cancellation this is ``await work``. If the caller is cancelled
    (once or many times) while ``work`` runs, ``work`` still runs to its end; then
    ``undo(result)`` runs (also to its end) when ``work`` succeeded, and the
    cancellation is raised. Only short, bounded work belongs here: it delays the
    cancellation by as long as it takes; ``grace`` bounds that (seconds after the
    first cancellation; then the work is cancelled too and nothing is undone),
    for work that waits on a network which may hang.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    deadline: float | None = None
    while not task.done():
        try:
            if deadline is None:
                await asyncio.shield(task)
            else:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    task.cancel()
                    await asyncio.wait({task})
                else:
                    await asyncio.wait({task}, timeout=left)
        except asyncio.CancelledError as exc:
            if cancelled is None and grace is not None:
                deadline = asyncio.get_running_loop().time() + grace
            cancelled = cancelled or exc  # the caller's (or the work's own) cancellation
        except BaseException:
            pass  # the work failed: read below
    if cancelled is None:
        return task.result()
    failed = task.cancelled() or task.exception() is not None  # (retrieved: not logged)
    if undo is not None and not failed:
        await to_the_end(undo(task.result()), grace=grace)
    raise cancelled
