"""Waiting, in async GUI tests, for a dialog that a coroutine opens."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from tests.models.qt_waits import wait_until

__all__ = ["wait_for_child"]

W = TypeVar("W", bound=QWidget)


async def wait_for_child(parent: QWidget, cls: type[W]) -> W:
    """The visible child dialog of type ``cls`` once ``parent`` shows one.

    Checked when the focus window changes, and on a 20 ms heartbeat in case the
    platform does not move focus (offscreen may not).
    """
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    heartbeat = QTimer()
    heartbeat.setInterval(20)
    heartbeat.start()
    found: list[W] = []

    def visible() -> bool:
        found[:] = [w for w in parent.findChildren(cls) if w.isVisible()]
        return bool(found)

    try:
        await wait_until(visible, app.focusWindowChanged, heartbeat.timeout)
    finally:
        heartbeat.stop()
    return found[0]
