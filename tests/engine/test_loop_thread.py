"""LoopThread: work awaited on another loop's thread, small calls, a clean stop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from orbit_gui.engine.loop_thread import LoopThread, run_on


@pytest.fixture
def engine() -> Iterator[LoopThread]:
    thread = LoopThread("test-engine")
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


async def test_run_awaits_work_on_the_thread_and_raises_its_errors(engine: LoopThread) -> None:
    async def where(tag: str) -> tuple[str, threading.Thread, asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return tag, threading.current_thread(), asyncio.get_running_loop()

    tag, thread, loop = await engine.run(where, "x")
    assert (tag, thread, loop) == ("x", engine.thread, engine.loop)
    assert loop is not asyncio.get_running_loop() and engine.thread.daemon

    async def fails() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        await engine.run(fails)
    assert await run_on(asyncio.get_running_loop(), where, "here") == (
        "here", threading.current_thread(), asyncio.get_running_loop())


async def test_cancelling_the_caller_cancels_the_work_there(engine: LoopThread) -> None:
    started, ended = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    waiting = asyncio.ensure_future(engine.run(forever))
    await asyncio.to_thread(started.wait)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await asyncio.to_thread(ended.wait, 10)


def test_call_runs_on_the_thread_and_returns_or_raises(engine: LoopThread) -> None:
    assert engine.call(threading.current_thread) is engine.thread
    assert engine.call(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        engine.call(lambda: 1 / 0)
    assert engine.call(engine.call, engine.in_thread), "a call from the thread runs at once"


def test_stop_cancels_what_still_runs_and_ends_the_thread() -> None:
    engine = LoopThread("test-stop")
    engine.start()
    thread, loop = engine.thread, engine.loop
    assert thread is not None and thread.is_alive()
    cancelled = threading.Event()

    async def lingering() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    engine.call(lambda: loop.create_task(lingering()))
    engine.stop()
    assert cancelled.is_set()
    assert not thread.is_alive() and loop.is_closed()
    with pytest.raises(RuntimeError):
        engine.loop  # noqa: B018 - the property raises once stopped
    engine.stop()  # stopping twice is harmless


async def test_errors_nobody_saw_reach_the_callers_loop_handler(engine: LoopThread) -> None:
    here = asyncio.get_running_loop()
    got: asyncio.Future[tuple[dict[str, object], threading.Thread]] = here.create_future()
    here.set_exception_handler(
        lambda _, context: got.done() or got.set_result((context, threading.current_thread())))
    try:
        engine.report_errors_to(here)

        def fails() -> None:
            raise LookupError("lost on the engine")

        engine.loop.call_soon_threadsafe(fails)  # asyncio hands it to the loop's handler
        context, thread = await asyncio.wait_for(got, 10)
    finally:
        here.set_exception_handler(None)
    assert isinstance(context["exception"], LookupError)
    assert thread is threading.current_thread(), "reported on the caller's thread"
    assert "test-engine thread" in str(context["message"])
