"""The app's real wiring (a Workbench) on temporary folders, for window tests.

Profiles go to a temporary file, secrets to the real Secret Service under a
service name of the test's own, settings to a temporary INI file, the
journal to a temporary SQLite file.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from orbit_gui.engine.profiles import ProfileStore, SecretStore
from orbit_gui.gc_timer import GarbageCollector
from orbit_gui.models.listing_model import Column, ListingState
from orbit_gui.models.settings import AppSettings
from orbit_gui.views.browser_pane import BrowserPane
from orbit_gui.workbench import Workbench
from tests.models.qt_waits import wait_until

__all__ = ["open_workbench", "rows", "settled"]


@asynccontextmanager
async def open_workbench(qtbot: QtBot, root: Path, folder: Path | None = None, *,
                         fetch_size: int = 5000) -> AsyncIterator[Workbench]:
    """A shown, active window whose local pane lists ``folder`` (if given).

    As in the app, garbage is collected on the Qt thread only (from a Qt timer), never
    by whichever thread allocates, the transfers' engine thread included."""
    service = f"orbit-test-{uuid.uuid4().hex[:8]}"
    store = ProfileStore(root / "config" / "profiles.json", SecretStore(service))
    settings = AppSettings(QSettings(str(root / "config" / "settings.ini"),
                                     QSettings.Format.IniFormat))
    bench = await Workbench.open(store=store, settings=settings,
                                 journal_path=root / "journal.sqlite", fetch_size=fetch_size)
    window = bench.window
    qtbot.addWidget(window)
    collector = GarbageCollector(window)
    collector.start()
    try:
        window.show()
        window.activateWindow()
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        await wait_until(window.isActiveWindow, app.focusWindowChanged)
        if folder is not None:
            window.local_pane.navigate(str(folder))
            window.local_pane.view.setFocus()
            model = bench.local_model
            await wait_until(lambda: model.state != ListingState.LISTING, model.state_changed)
        yield bench
    finally:
        await bench.aclose()
        collector.stop()
        for profile in store.load():
            with suppress(Exception):
                store.secrets.delete(profile.name)


async def settled(pane: BrowserPane) -> None:
    model = pane.model
    await wait_until(lambda: model.state in (ListingState.DONE, ListingState.FAILED),
                     model.state_changed)


def rows(pane: BrowserPane) -> list[str]:
    model = pane.model
    return [model.index(row, Column.NAME).data() for row in range(model.rowCount())]

