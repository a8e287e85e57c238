"""An asyncio event loop of its own, in a daemon thread, and calls between two loops.

A front end whose own loop is slow per callback (the GUI's qasync loop costs
about three times plain asyncio per callback) runs the data plane here
instead: :class:`LoopThread` owns a plain asyncio loop in a thread, and
:func:`run_on` awaits work on one loop from another. Objects bound to a loop
(aiohttp sessions, asyncssh connections, asyncio locks and events) must be
made and used on that loop alone; what crosses between loops is a function to
call there and the value it returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

__all__ = ["LoopThread", "run_on"]

T = TypeVar("T")
P = ParamSpec("P")

_STOP_TIMEOUT = 30.0
"""Seconds :meth:`LoopThread.stop` waits for the leftover tasks and worker threads."""


async def _started(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    return await fn(*args, **kwargs)


async def run_on(loop: asyncio.AbstractEventLoop, fn: Callable[P, Awaitable[T]],
                 *args: P.args, **kwargs: P.kwargs) -> T:
    """``await fn(*args, **kwargs)`` on ``loop``, awaited from the running loop.

    ``fn`` is called in ``loop``'s thread, so whatever it creates (a coroutine,
    a dialog, a connection) belongs there. Cancelling the caller cancels the
    work on ``loop``; the work's exception is raised in the caller.
    """
    if loop is asyncio.get_running_loop():
        return await fn(*args, **kwargs)
    if loop.is_closed():
        raise RuntimeError("that event loop is closed")
    future = asyncio.run_coroutine_threadsafe(_started(fn, *args, **kwargs), loop)
    return await asyncio.wrap_future(future)


class LoopThread:
    """A plain asyncio loop running in a daemon thread, from :meth:`start` to :meth:`stop`."""

    def __init__(self, name: str = "orbit-engine") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"the {self.name} loop is not running")
        return self._loop

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def in_thread(self) -> bool:
        """True when called on this loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the thread and its loop; returns once the loop runs."""
        if self._thread is not None:
            raise RuntimeError(f"the {self.name} loop is already started")
        loop = asyncio.new_event_loop()
        running = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(running.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        running.wait()

    async def run(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` on this loop, awaited from the caller's loop."""
        return await run_on(self.loop, fn, *args, **kwargs)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on this loop, waited for by the calling thread.

        For small synchronous calls (a setting, a lookup): the caller blocks
        until the loop gets to it, so nothing that waits on I/O belongs here.
        """
        if self.in_thread():
            return fn(*args, **kwargs)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(call)
        return done.result()

    def report_errors_to(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand what this loop's exception handler gets (a task that failed unseen, a
        callback that raised) to ``loop``'s handler, on ``loop``'s thread: the GUI's
        error reporter then shows engine errors as it shows its own."""

        def forward(own: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            message = f"{context.get('message') or 'Unhandled error'} (on the {self.name} thread)"
            try:
                loop.call_soon_threadsafe(loop.call_exception_handler,
                                          {**context, "message": message})
            except RuntimeError:  # that loop is closed: at least log it here
                own.default_exception_handler(context)

        self.call(self.loop.set_exception_handler, forward)

    def stop(self) -> None:
        """Cancel what still runs on the loop, wait for it and for the loop's worker
        threads, then end the thread and close the loop. Call it from another thread,
        once the work that should end in order (closing transfers) has ended."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self.in_thread():
            raise RuntimeError(f"the {self.name} loop cannot stop itself")
        with contextlib.suppress(concurrent.futures.TimeoutError):
            asyncio.run_coroutine_threadsafe(_wind_down(), loop).result(_STOP_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None


async def _wind_down() -> None:
    """Cancel the loop's other tasks and wait for them, then end its generators and
    its default executor's threads."""
    loop = asyncio.get_running_loop()
    others = [task for task in asyncio.all_tasks(loop) if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    results = await asyncio.gather(*others, return_exceptions=True)
    for task, result in zip(others, results, strict=True):
        if isinstance(result, Exception):
            loop.call_exception_handler({"message": "a task failed while its loop stopped",
                                         "exception": result, "task": task})
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
