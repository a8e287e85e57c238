"""The desktop app: a QApplication on a qasync loop, the wiring, an orderly exit.

Every way out (Quit, closing the window, SIGTERM, SIGINT) sets one event;
the main coroutine then cancels listings and closes backends before the loop
stops, so the process exits 0 with nothing left half done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import qasync
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from . import __version__
from .gc_timer import GarbageCollector
from .log import redact, setup_logging
from .views.main_window import MainWindow
from .workbench import Workbench

__all__ = ["ICON_PATH", "ErrorReporter", "main"]

ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icons" / "orbit-gui.svg"
"""The app icon; the PyInstaller bundle keeps ``resources/`` at its root too."""

log = logging.getLogger(__name__)


class ErrorReporter:
    """Sends errors nobody caught to the log and, as a sentence, to the window."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        self._report(context.get("message") or "Unhandled error in the event loop",
                     error if isinstance(error, BaseException) else None)

    def excepthook(self, kind: type[BaseException], error: BaseException,
                   tb: TracebackType | None) -> None:
        self._report("Unhandled error in a Qt callback", error.with_traceback(tb))

    def _report(self, message: str, error: BaseException | None) -> None:
        log.error("%s", message, exc_info=error)
        if error is None:
            summary, details = message, message
        else:
            summary = f"Something went wrong: {error or type(error).__name__}"
            details = f"{message}\n\n" + "".join(traceback.format_exception(error))
        self._window.report_error(redact(summary), redact(details))


def _parse_args(arguments: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="orbit-gui", description="Transfer files between this computer and S3, SFTP "
        "and SMB stores.")
    parser.add_argument("folder", nargs="?", help="local folder to open (default: home)")
    parser.add_argument("--connect", metavar="PROFILE",
                        help="connect the remote pane to this saved connection at start")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(arguments)


def _start_folder(argument: str | None) -> str:
    if not argument:
        return str(Path.home())
    path = os.path.abspath(os.path.expanduser(argument))
    return os.path.dirname(path) if os.path.isfile(path) else path


async def _run(start: str, connect: str | None, quit_requested: asyncio.Event,
               collector: GarbageCollector) -> int:
    loop = asyncio.get_running_loop()
    bench = await Workbench.open()
    window = bench.window
    bench.settings.restore_window(window)
    reporter = ErrorReporter(window)
    loop.set_exception_handler(reporter.loop_exception)
    bench.engine.report_errors_to(loop)  # the transfers' loop thread reports here too
    previous_hook, sys.excepthook = sys.excepthook, reporter.excepthook
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, quit_requested.set)
    window.closed.connect(quit_requested.set)
    try:
        window.local_pane.navigate(start)
        window.show()
        collector.settle()  # what start-up loaded lives as long as the app
        bench.session.backend_changed.connect(collector.settle)
        bench.queue.connection_opened = collector.freeze  # a transfer's own connections
        log.info("window shown on %s", start)
        bench.controller.spawn(bench.panel.show_interrupted())
        if connect:
            bench.controller.spawn(bench.controller.connect_named(connect))
        await quit_requested.wait()
        log.info("shutting down")
        bench.settings.save_window(window)
        window.hide()
        await bench.aclose()
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        sys.excepthook = previous_hook
    log.info("shut down cleanly")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; ``argv`` defaults to the command line (Qt options allowed)."""
    setup_logging()
    app = QApplication([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    app.setApplicationName("orbit-gui")
    app.setOrganizationName("orbit-gui")
    app.setDesktopFileName("io.github.orbitgui.OrbitGUI")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(ICON_PATH)))
    app.setQuitOnLastWindowClosed(False)  # _run decides when the loop ends
    args = _parse_args(app.arguments()[1:])
    collector = GarbageCollector(app)
    collector.start()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    quit_requested = asyncio.Event()
    with loop:
        run = loop.create_task(_run(_start_folder(args.folder), args.connect, quit_requested,
                                    collector))
        run.add_done_callback(lambda _: loop.stop())
        loop.run_forever()
        if not run.done():
            # Qt ended its loop by itself (the display went away): close down if it lets us.
            log.warning("the Qt event loop ended on its own; shutting down")
            quit_requested.set()
            with contextlib.suppress(RuntimeError):  # Qt stopped again before the end
                loop.run_until_complete(run)
        code: int = run.result() if run.done() else 1
    return code
