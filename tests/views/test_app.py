"""The app shell: start-up, orderly exit on signals, error reporting, logging."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from orbit_gui import log as orbit_log
from orbit_gui.app import ICON_PATH, ErrorReporter
from orbit_gui.views.main_window import MainWindow
from tests.views.workbench_support import open_workbench

PROJECT = Path(__file__).resolve().parents[2]


def test_icon_is_found_and_renders(qapp: QApplication) -> None:
    assert ICON_PATH == PROJECT / "resources" / "icons" / "orbit-gui.svg"
    assert not QIcon(str(ICON_PATH)).pixmap(64, 64).isNull()


@pytest.mark.parametrize(("number", "open_file"), [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_app_starts_and_exits_cleanly_on_signal(tmp_path: Path, number: int,
                                                open_file: bool) -> None:
    folder = tmp_path / "start"
    folder.mkdir()
    (folder / "hello.txt").write_text("hi")
    argument = folder / "hello.txt" if open_file else folder  # a file opens its folder
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ORBIT_LOG_LEVEL": "INFO",
           "ORBIT_CONFIG_DIR": str(tmp_path / "config")}
    process = subprocess.Popen([sys.executable, "-m", "orbit_gui", str(argument)], cwd=PROJECT,
                               env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "window shown on" in line:
            break
    assert f"window shown on {folder}\n" in "".join(seen)
    process.send_signal(number)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 0, "".join(seen) + rest
    assert "shut down cleanly" in rest
    assert "Traceback" not in rest
    log_file = tmp_path / "config" / "logs" / orbit_log.LOG_FILE
    assert "window shown on" in log_file.read_text()


@pytest.mark.qt
async def test_unhandled_errors_are_logged_and_shown(
        qtbot: QtBot, tmp_path: Path, expect_log: Callable[[str], None]) -> None:
    async with open_workbench(qtbot, tmp_path) as bench:
        await _errors_are_logged_and_shown(bench.window, expect_log)


@pytest.mark.qt
async def test_errors_on_the_engine_thread_are_shown_too(
        qtbot: QtBot, tmp_path: Path, expect_log: Callable[[str], None]) -> None:
    async with open_workbench(qtbot, tmp_path) as bench:
        loop = asyncio.get_running_loop()
        reporter = ErrorReporter(bench.window)
        reported = asyncio.Event()

        def handler(on: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            reporter.loop_exception(on, context)
            reported.set()

        loop.set_exception_handler(handler)
        bench.engine.report_errors_to(loop)
        expect_log("on the orbit-transfers thread")

        def broken() -> None:
            raise KeyError("transfer bookkeeping")

        try:
            bench.engine.loop.call_soon_threadsafe(broken)
            await asyncio.wait_for(reported.wait(), 10)
        finally:
            loop.set_exception_handler(None)
        labels = [w.text() for w in bench.window.statusBar().findChildren(QLabel) if w.text()]
        assert labels == ["Something went wrong: 'transfer bookkeeping'"]


async def _errors_are_logged_and_shown(window: MainWindow,
                                       expect_log: Callable[[str], None]) -> None:
    reporter = ErrorReporter(window)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(reporter.loop_exception)
    expect_log("Task exception was never retrieved")

    async def broken() -> None:
        raise ValueError("password=hunter2 went wrong")

    task = loop.create_task(broken())
    await asyncio.wait([task])
    del task  # unretrieved: the loop reports it when the task is collected
    try:
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    labels = [w.text() for w in window.statusBar().findChildren(QLabel) if w.text()]
    assert labels == ["Something went wrong: password=*** went wrong"]
    next(b for b in window.statusBar().findChildren(QPushButton) if b.text() == "Details…").click()
    box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
    assert "ValueError: password=*** went wrong" in box.detailedText()
    assert "hunter2" not in box.detailedText()
    box.close()

    expect_log("Unhandled error in a Qt callback")
    try:
        raise RuntimeError("in a slot")
    except RuntimeError as error:
        reporter.excepthook(RuntimeError, error, error.__traceback__)
    labels = [w.text() for w in window.statusBar().findChildren(QLabel) if w.text()]
    assert labels == ["Something went wrong: in a slot"]


@pytest.mark.parametrize(("text", "redacted"), [
    ("password=hunter2 user=ana", "password=*** user=ana"),
    ('{"aws_secret_access_key": "AKIAxyz"}', '{"aws_secret_access_key": "***"}'),
    ("X-Amz-Signature=abc123&X-Amz-Date=1", "X-Amz-Signature=***&X-Amz-Date=1"),
    ("Authorization: Bearer abc.def", "Authorization: ***"),
    ("sftp://ana:s3cret@host/path", "sftp://ana:***@host/path"),
    ("listing /home/ana/passwords done", "listing /home/ana/passwords done"),
])
def test_redact(text: str, redacted: str) -> None:
    assert orbit_log.redact(text) == redacted


@pytest.fixture
def clean_root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
            root.removeHandler(handler)
    root.setLevel(level)


def test_log_file_goes_to_config_dir_and_hides_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        clean_root_logger: logging.Logger) -> None:
    monkeypatch.setenv("ORBIT_CONFIG_DIR", str(tmp_path))
    assert orbit_log.log_dir() == tmp_path / "logs"
    path = orbit_log.setup_logging()
    assert path == tmp_path / "logs" / orbit_log.LOG_FILE
    logging.getLogger("orbit_gui.test").info("connecting with password=hunter2")
    for handler in clean_root_logger.handlers:
        handler.flush()
    text = path.read_text()
    assert "connecting with password=***" in text
    assert "hunter2" not in text


def test_log_dir_defaults_to_the_platform_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORBIT_CONFIG_DIR", raising=False)
    assert orbit_log.log_dir().parts[-2:] in (("orbit-gui", "log"), ("orbit-gui", "logs"))


def test_garbage_is_collected_on_the_qt_thread_only(qapp: QApplication) -> None:
    from orbit_gui.gc_timer import GarbageCollector

    collector = GarbageCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()
        for _ in range(gc.get_threshold()[0] + 10):
            cycle: list[object] = []
            cycle.append(cycle)
        assert gc.get_count()[0] > gc.get_threshold()[0]  # nothing collected by itself
        collector.check()
        assert gc.get_count()[0] < gc.get_threshold()[0]
    finally:
        collector.stop()
    assert gc.isenabled()


class _Node:
    """A weak-referenceable object to hold in a reference cycle."""

    def __init__(self) -> None:
        self.me = self


def test_settling_keeps_long_lived_objects_out_of_later_collections(
        qapp: QApplication) -> None:
    from orbit_gui.gc_timer import GarbageCollector

    collector = GarbageCollector()
    collector.start()
    try:
        kept = [_Node() for _ in range(1000)]
        collector.settle()
        assert gc.get_freeze_count() >= len(kept)  # a full collection no longer walks them
        dropped = weakref.ref(kept[0])
        kept.clear()  # a cycle that became garbage while frozen...
        assert dropped() is not None
        collector.settle()  # ...is reclaimed by the next settle (a connection closed)
        assert dropped() is None
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0

