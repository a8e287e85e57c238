"""Python's garbage collector, run on the Qt thread only.

Left automatic, a collection can start in whatever thread allocates at the
moment, an asyncio worker thread included; a cycle holding Qt objects then
dies there, and Qt warns (timers) or crashes (widgets). As qutebrowser does,
the app turns automatic collection off and collects from a Qt timer instead,
one generation at a time, as the allocation counts call for it.

A full collection walks every object the collector tracks: with a connection's
client loaded (botocore's models are ~100,000 objects) that froze the window
~150 ms at a time in the middle of a listing. :meth:`GarbageCollector.settle`
moves what is alive at a quiet moment (start-up, a connection opened or closed)
out of the collector's sight (``gc.freeze``), so later collections walk only
what came since; each settle first returns the frozen objects, so what a closed
connection left in cycles is still reclaimed.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["GarbageCollector"]


class GarbageCollector(QObject):
    """Collects on the thread that owns it, every ``interval_ms`` as needed."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()
        gc.enable()

    def settle(self) -> None:
        """Collect everything, then leave what survives out of later collections."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def freeze(self) -> None:
        """Leave what is alive now out of later collections, without a collection
        (cheap): for a burst of long-lived objects, such as a connection's client. Any
        garbage among them is reclaimed at the next :meth:`settle`."""
        gc.freeze()

    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)
                return
