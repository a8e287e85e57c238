"""The main window on a temporary folder: browsing by mouse and keyboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from orbit_gui import __version__
from orbit_gui.models.listing_model import Column, ListingState
from orbit_gui.views.browser_pane import BrowserPane
from orbit_gui.views.main_window import MainWindow
from tests.models.qt_waits import wait_until
from tests.views.dialog_waits import wait_for_child
from tests.views.workbench_support import open_workbench, rows, settled

pytestmark = [pytest.mark.qt]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "alpha" / "inner").mkdir(parents=True)
    (root / "beta").mkdir()
    (root / "notes.txt").write_text("notes")
    (root / "photo.jpg").write_bytes(b"\xff\xd8" * 1000)
    (root / "alpha" / "a1.txt").write_text("a1")
    return root


@asynccontextmanager
async def open_window(qtbot: QtBot, folder: Path,
                      fetch_size: int = 5000) -> AsyncIterator[MainWindow]:
    """The window, active and listing ``folder``; everything is closed afterwards."""
    async with open_workbench(qtbot, folder.parent / f".bench-{folder.name}", folder,
                              fetch_size=fetch_size) as bench:
        yield bench.window


def row_of(pane: BrowserPane, name: str) -> QModelIndex:
    return pane.model.index(rows(pane).index(name), Column.NAME)


async def test_opens_on_a_folder_and_shows_its_entries(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        pane = window.local_pane
        assert window.windowTitle() == "Orbit"
        assert pane.title_label.text() == "Local"
        assert window.remote_pane.status_label.text() == "Choose a saved connection and connect."
        assert rows(pane) == ["alpha", "beta", "notes.txt", "photo.jpg"]
        assert pane.status_label.text() == "4 entries"
        assert not pane.retry_button.isVisible()
        assert pane.path_bar.path() == str(tree)
        assert pane.up_button.isEnabled()
        assert not pane.back_button.isEnabled()
        assert pane.view.horizontalHeader().isSortIndicatorShown()


async def test_double_click_and_enter_open_folders(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        pane = window.local_pane
        view = pane.view
        rect = view.visualRect(row_of(pane, "alpha"))
        # QTest's double click lacks the press before it that the view checks for.
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        await settled(pane)
        assert pane.current_path == str(tree / "alpha")
        assert rows(pane) == ["inner", "a1.txt"]

        view.setCurrentIndex(row_of(pane, "inner"))
        qtbot.keyClick(view, Qt.Key.Key_Return)
        await settled(pane)
        assert pane.current_path == str(tree / "alpha" / "inner")
        assert rows(pane) == []
        assert pane.status_label.text() == "0 entries"

        # A file is not a folder: Enter leaves the listing alone.
        pane.navigate(str(tree))
        await settled(pane)
        view.setCurrentIndex(row_of(pane, "notes.txt"))
        qtbot.keyClick(view, Qt.Key.Key_Enter)
        assert pane.current_path == str(tree)


async def test_up_back_and_forward(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree / "alpha" / "inner") as window:
        pane = window.local_pane
        qtbot.keyClick(pane.view, Qt.Key.Key_Backspace)
        await settled(pane)
        assert pane.current_path == str(tree / "alpha")
        assert pane.view.currentIndex().data() == "inner"  # we came from there

        qtbot.keyClick(pane.view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
        await settled(pane)
        assert pane.current_path == str(tree)
        assert pane.view.currentIndex().data() == "alpha"

        pane.back_button.click()
        await settled(pane)
        assert pane.current_path == str(tree / "alpha")
        assert pane.forward_button.isEnabled()
        qtbot.keyClick(pane.view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
        await settled(pane)
        assert pane.current_path == str(tree / "alpha" / "inner")

        pane.forward_button.click()
        await settled(pane)
        assert pane.current_path == str(tree / "alpha")
        pane.forward_button.click()
        await settled(pane)
        assert pane.current_path == str(tree)
        assert not pane.forward_button.isEnabled()

        pane.up_button.click()
        await settled(pane)
        assert pane.current_path == str(tree.parent)
        assert rows(pane) == ["root"]


async def test_breadcrumbs_and_ctrl_l(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree / "alpha") as window:
        pane = window.local_pane
        bar = pane.path_bar
        assert not bar.is_editing()

        qtbot.keyClick(pane.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
        assert bar.is_editing()
        assert bar.line_edit.text() == str(tree / "alpha")
        assert bar.line_edit.hasFocus()
        qtbot.keyClick(bar.line_edit, Qt.Key.Key_Escape)
        assert not bar.is_editing()
        assert pane.view.hasFocus()
        assert pane.current_path == str(tree / "alpha")

        bar.edit()
        bar.line_edit.clear()
        qtbot.keyClicks(bar.line_edit, str(tree / "beta"))
        qtbot.keyClick(bar.line_edit, Qt.Key.Key_Return)
        assert not bar.is_editing()
        await settled(pane)
        assert pane.current_path == str(tree / "beta")
        assert pane.back_button.isEnabled()

        bar.edit()
        bar.line_edit.setText("../alpha/inner")  # relative to the current folder
        qtbot.keyClick(bar.line_edit, Qt.Key.Key_Return)
        await settled(pane)
        assert pane.current_path == str(tree / "alpha" / "inner")

        crumb = next(b for b in bar.findChildren(type(pane.up_button)) if b.text() == "root")
        crumb.click()
        await settled(pane)
        assert pane.current_path == str(tree)


async def test_filter_narrows_rows(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        pane = window.local_pane
        qtbot.keyClicks(pane.filter_edit, "PHO")
        assert rows(pane) == ["photo.jpg"]
        assert pane.status_label.text() == "1 of 4 entries match the filter"
        pane.filter_edit.clear()
        assert len(rows(pane)) == 4
        assert pane.status_label.text() == "4 entries"

        qtbot.keyClicks(pane.filter_edit, "alp")
        pane.navigate(str(tree / "alpha"))
        assert pane.filter_edit.text() == ""
        await settled(pane)
        assert rows(pane) == ["inner", "a1.txt"]


async def test_f5_refresh_picks_up_a_new_file(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        pane = window.local_pane
        (tree / "fresh.txt").write_text("new")
        qtbot.keyClick(pane.view, Qt.Key.Key_F5)
        assert pane.model.state == ListingState.LISTING
        await settled(pane)
        assert "fresh.txt" in rows(pane)
        assert pane.status_label.text() == "5 entries"


async def test_error_shows_a_sentence_and_retry(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        pane = window.local_pane
        missing = tree / "later"
        pane.navigate(str(missing))
        await settled(pane)
        assert pane.status_label.text() == f"{missing} does not exist."
        assert "color" in pane.status_label.styleSheet()
        assert pane.retry_button.isVisible()

        missing.mkdir()
        (missing / "x").touch()
        pane.retry_button.click()
        await settled(pane)
        assert rows(pane) == ["x"]
        assert not pane.retry_button.isVisible()
        assert pane.status_label.styleSheet() == ""


async def test_status_bar_reports_errors_with_details(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        window.report_error("Something went wrong: boom", "Traceback ...\nValueError: boom")
        labels = [w for w in window.statusBar().findChildren(type(window.local_pane.title_label))
                  if w.text() == "Something went wrong: boom"]
        assert labels and labels[0].isVisible()
        details = next(b for b in window.statusBar().findChildren(
            type(window.local_pane.retry_button)) if b.text() == "Details…")
        details.click()
        box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
        assert box.detailedText().endswith("ValueError: boom")
        assert not labels[0].isVisible()
        box.close()


async def test_menus_about_and_quit(qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
        assert list(menus) == ["File", "Edit", "View", "Transfer", "Help"]
        about = menus["Help"].actions()[0]
        about.trigger()
        box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
        assert __version__ in box.text()
        box.close()

        closed: list[bool] = []
        window.closed.connect(lambda: closed.append(True))
        qtbot.keyClick(window.local_pane.view, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
        assert closed == [True]
        assert not window.isVisible()


async def test_scrolling_to_the_bottom_fetches_more(qtbot: QtBot, tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"f{i:03d}").touch()
    async with open_window(qtbot, tmp_path, fetch_size=100) as window:
        pane = window.local_pane
        model = pane.model
        assert model.state == ListingState.PAUSED
        assert pane.status_label.text() == "100 entries so far, more as you scroll"
        pane.view.scrollToBottom()
        await wait_until(lambda: model.rowCount() > 100, model.rowsInserted)
        while model.state != ListingState.DONE:
            await wait_until(lambda: model.state != ListingState.LISTING, model.state_changed)
            if model.state == ListingState.PAUSED:
                pane.view.scrollToTop()  # the user scrolls back down for more
                pane.view.scrollToBottom()
        assert model.rowCount() == 300
        assert pane.status_label.text() == "300 entries"


async def test_delete_key_asks_first_and_only_in_the_file_table(
        qtbot: QtBot, tree: Path) -> None:
    async with open_window(qtbot, tree) as window:
        pane = window.local_pane
        qtbot.keyClick(pane.filter_edit, Qt.Key.Key_X)
        qtbot.keyClick(pane.filter_edit, Qt.Key.Key_Delete)  # edits the filter text
        assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]
        pane.filter_edit.clear()
        await settled(pane)
        pane.view.setFocus()
        pane.view.selectRow(rows(pane).index("notes.txt"))
        qtbot.keyClick(pane.view, Qt.Key.Key_Delete)
        box = await wait_for_child(window, QMessageBox)
        assert "notes.txt" in box.informativeText()
        box.button(QMessageBox.StandardButton.Cancel).click()
        assert (tree / "notes.txt").exists()
