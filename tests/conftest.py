"""Fixtures every test shares: the Qt event loop for async GUI tests, and a log
guard that fails a test on any warning it did not announce."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest_plugins = ["tests.servers.fixtures"]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Async tests marked ``qt`` run on a qasync loop; the rest on plain asyncio."""
    if item.get_closest_marker("qt") is None:
        return {"asyncio": asyncio.new_event_loop}

    def qt_loop() -> Any:
        import qasync
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([])
        assert isinstance(app, QApplication)
        app.setQuitOnLastWindowClosed(False)  # as in the app: closing a window ends no loop
        return qasync.QEventLoop(app)

    return {"qt": qt_loop}


class LogGuard(logging.Handler):
    """Collects WARNING and worse records; the test fails on any not expected."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.expected: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self) -> list[str]:
        """One line per distinct unexpected warning, with its logger and count."""
        seen: Counter[str] = Counter()
        for record in self.records:
            message = record.getMessage()
            if not any(p.search(message) for p in self.expected):
                seen[f"{record.name}: {message}"] += 1
        return [line if count == 1 else f"{line} ({count} times)" for line, count in seen.items()]


@pytest.fixture(autouse=True)
def qt_garbage_on_the_main_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a Qt test, collect its cycles here, so a later collection started in a
    worker thread never destroys Qt objects there (the app does the same with
    orbit_gui.gc_timer)."""
    yield
    uses_qt = request.node.get_closest_marker("qt") is not None or any(
        name in request.fixturenames for name in ("qtbot", "qapp", "qtmodeltester"))
    if uses_qt:
        gc.collect()


@pytest.fixture(autouse=True)
def log_guard() -> Iterator[LogGuard]:
    guard = LogGuard()
    root = logging.getLogger()
    root.addHandler(guard)
    try:
        yield guard
    finally:
        root.removeHandler(guard)
    bad = guard.unexpected()
    if bad:
        pytest.fail("unexpected warnings were logged:\n" + "\n".join(bad), pytrace=False)


@pytest.fixture
def expect_log(log_guard: LogGuard) -> Callable[[str], None]:
    """Call with a regular expression for each warning the test provokes on purpose."""

    def expect(pattern: str) -> None:
        log_guard.expected.append(re.compile(pattern))

    return expect
