"""Regression: PySide6 6.12.0 on CPython 3.11 drops a reference to None in
begin/endInsertRows, processEvents and killTimer, and a qasync loop aborts with
``Fatal Python error: none_dealloc`` within seconds (see DESIGN.md). The loop
runs in a child process, so an abort fails this test with its output instead
of killing pytest."""

from __future__ import annotations

import os
import subprocess
import sys

ITERATIONS = 25_000

SCRIPT = r"""
import asyncio
import sys

import qasync
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QTableView


class Rows(QAbstractTableModel):
    def __init__(self):
        super().__init__()
        self.count = 0

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else self.count

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else 2

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return f"row {index.row()}" if role == Qt.ItemDataRole.DisplayRole else None

    def append(self):
        self.beginInsertRows(QModelIndex(), self.count, self.count)
        self.count += 1
        self.endInsertRows()


class Ticker(QObject):
    fired = 0

    def timerEvent(self, event):
        self.killTimer(event.timerId())
        self.fired += 1


async def main(iterations):
    app = QApplication.instance()
    model = Rows()
    view = QTableView()
    view.setModel(model)  # not shown: painting 25,000 times only costs time
    ticker = Ticker()
    loop = asyncio.get_running_loop()
    done = 0
    for i in range(iterations):
        model.append()
        timer_id = ticker.startTimer(0)
        if i % 2:
            ticker.killTimer(timer_id)
        app.processEvents()
        timer = QTimer()
        timer.start(1000)
        timer.stop()
        loop.call_later(10, print).cancel()
        await asyncio.sleep(0)
        done += 1
    print(f"ran {done} iterations, {model.rowCount()} rows, {ticker.fired} timer events",
          flush=True)


app = QApplication([])
qasync.run(main(int(sys.argv[1])))
"""


def test_qasync_loop_survives_many_model_inserts_and_timers() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SCRIPT, str(ITERATIONS)],
                            capture_output=True, text=True, env=env, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"ran {ITERATIONS} iterations, {ITERATIONS} rows" in result.stdout, output
