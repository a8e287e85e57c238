"""The Qt side of the GUI benchmarks' child processes: a QApplication (offscreen
unless a display is asked for) on a qasync loop, and a heartbeat timer that
measures how long the event loop went without running it (the worst stall).

Imported only inside the child processes: the parent never loads Qt.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Heartbeat", "run_on_qt"]


class Heartbeat:
    """A QTimer every ``interval_ms``; ``worst`` is the longest gap between two ticks
    beyond the interval, in seconds (what a user sees as a frozen window)."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.worst = 0.0
        self.worst_at = 0.0
        """When the worst stall ended, in seconds after the heartbeat started."""
        self.ticks = 0
        self.started = self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self._last - self.interval
        if gap > self.worst:
            self.worst, self.worst_at = gap, now - self.started
        self._last = now
        self.ticks += 1

    def stop(self) -> None:
        self._timer.stop()


def run_on_qt(main: Callable[[], Coroutine[Any, Any, dict[str, Any]]]) -> int:
    """Run ``main()`` on a qasync loop; print its result as one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(main())
    print(json.dumps(result), flush=True)
    return 0
