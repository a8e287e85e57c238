"""One browser side: history, path bar, filter, the folder table and its status."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QFont, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..engine import Entry
from ..models.formatting import listing_status
from ..models.listing_model import Column, ListingModel, ListingState
from .file_table import FileTable
from .path_bar import PathBar

__all__ = ["BrowserPane"]

_ERROR_STYLE = "color: #c62828;"


class BrowserPane(QWidget):
    """Browses one backend through a :class:`ListingModel`; any backend will do.

    The child widgets are public attributes so the window and tests can reach
    them; everything the pane does goes through the model.
    """

    def __init__(self, title: str, model: ListingModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._back: list[str] = []
        self._forward: list[str] = []
        self._reveal: str | None = None
        """A path to select once its folder is listed (where "up" came from)."""

        self.title_label = QLabel(title, self)
        font = QFont(self.title_label.font())
        font.setBold(True)
        self.title_label.setFont(font)

        self.back_button = self._tool_button("go-previous", QStyle.StandardPixmap.SP_ArrowBack,
                                             "Back (Alt+Left)", self.go_back)
        self.forward_button = self._tool_button("go-next", QStyle.StandardPixmap.SP_ArrowForward,
                                                "Forward (Alt+Right)", self.go_forward)
        self.up_button = self._tool_button("go-up", QStyle.StandardPixmap.SP_ArrowUp,
                                           "Up to the parent folder (Alt+Up)", self.go_up)
        self.path_bar = PathBar(self)
        self.path_bar.path_activated.connect(self.navigate)
        self.refresh_button = self._tool_button("view-refresh",
                                                QStyle.StandardPixmap.SP_BrowserReload,
                                                "Refresh (F5)", self.refresh)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by name…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(model.set_filter)

        self.view = FileTable(self)
        self._setup_view()
        self.view.drop_hint.connect(self._show_drop_hint)
        self.idle_text = "No folder open"
        """What the status line says before anything is listed."""
        self.path_bar.editing_done.connect(self.view.setFocus)

        self.status_label = QLabel(self)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.clicked.connect(self.refresh)
        self.retry_button.hide()

        nav = QHBoxLayout()
        nav.setSpacing(2)
        for widget in (self.back_button, self.forward_button, self.up_button):
            nav.addWidget(widget)
        nav.addWidget(self.path_bar, 1)
        nav.addWidget(self.refresh_button)
        status = QHBoxLayout()
        status.addWidget(self.status_label, 1)
        status.addWidget(self.retry_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title_label)
        layout.addLayout(nav)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.view, 1)
        layout.addLayout(status)

        self._shortcut(QKeySequence("Ctrl+L"), self.edit_path)
        self._shortcut(QKeySequence("Alt+Up"), self.go_up)
        self._shortcut(QKeySequence(QKeySequence.StandardKey.Back), self.go_back)
        self._shortcut(QKeySequence(QKeySequence.StandardKey.Forward), self.go_forward)
        self._shortcut(QKeySequence(QKeySequence.StandardKey.Find), self._focus_filter)
        # On the table only: in the filter or path line Backspace deletes text.
        backspace = QShortcut(QKeySequence(Qt.Key.Key_Backspace), self.view, self.go_up)
        backspace.setContext(Qt.ShortcutContext.WidgetShortcut)

        model.state_changed.connect(self._on_state_changed)
        model.count_changed.connect(self._update_status)
        self._follow_current = False
        model.layoutAboutToBeChanged.connect(self._note_current_row)
        model.layoutChanged.connect(self._follow_current_row)
        self._update_buttons()
        self._update_status()

    # -- navigation ------------------------------------------------------------

    @property
    def current_path(self) -> str | None:
        return self.model.path

    def set_title(self, text: str) -> None:
        self.title_label.setText(text)

    def selected_entries(self) -> list[Entry]:
        """The selected rows' entries, in the order shown."""
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.entry(self.model.index(row, Column.NAME)) for row in rows]

    def navigate(self, path: str) -> None:
        """Open ``path``, remembering the current folder for Back."""
        if self.model.backend is None:
            return
        current = self.model.path
        if current is not None and current != path:
            self._back.append(current)
            self._forward.clear()
        self._open(path)

    def go_back(self) -> None:
        if self._back and (current := self.model.path) is not None:
            self._forward.append(current)
            self._open(self._back.pop())

    def go_forward(self) -> None:
        if self._forward and (current := self.model.path) is not None:
            self._back.append(current)
            self._open(self._forward.pop())

    def go_up(self) -> None:
        current = self.model.path
        if current is None or current == "/":
            return
        self.navigate(posixpath.dirname(current.rstrip("/")) or "/")
        self._reveal = current

    def refresh(self) -> None:
        self.model.refresh()

    def forget_history(self) -> None:
        """Back and Forward start over (the pane now shows another store)."""
        self._back.clear()
        self._forward.clear()
        self.path_bar.set_path(self.model.path or "")
        self._update_buttons()

    def edit_path(self) -> None:
        self.path_bar.edit()

    def _open(self, path: str) -> None:
        self._reveal = None
        self.filter_edit.clear()  # a filter belongs to the folder it was typed in
        self.model.set_path(path)
        self.path_bar.set_path(path)
        self._update_buttons()

    def _on_activated(self, index: QModelIndex) -> None:
        entry = self.model.entry(index)
        if entry.is_dir:
            self.navigate(entry.path)

    # -- display ---------------------------------------------------------------

    def _setup_view(self) -> None:
        view = self.view
        view.setModel(self.model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.setAlternatingRowColors(True)
        view.setTabKeyNavigation(False)
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        view.setIconSize(QSize(16, 16))
        metrics = view.fontMetrics()
        rows = view.verticalHeader()
        rows.hide()
        # Fixed row heights: the view never measures rows, whatever their number.
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(max(metrics.height(), 16) + 6)
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        padding = 3 * metrics.averageCharWidth()
        header.resizeSection(Column.SIZE, metrics.horizontalAdvance("999.9 MB") + padding)
        header.resizeSection(Column.MODIFIED,
                             metrics.horizontalAdvance("2026-12-31 23:59") + padding)
        header.resizeSection(Column.KIND,
                             metrics.horizontalAdvance("Excel 2007 spreadsheet") + padding)
        header.setSortIndicator(Column.NAME, Qt.SortOrder.AscendingOrder)
        view.setSortingEnabled(True)
        view.activated.connect(self._on_activated)

    def _on_state_changed(self) -> None:
        state = self.model.state
        if state in (ListingState.DONE, ListingState.PAUSED) and self._reveal is not None:
            self._select_path(self._reveal)
        self._update_status()

    def _select_path(self, path: str) -> None:
        for row in range(self.model.rowCount()):
            index = self.model.index(row, Column.NAME)
            if self.model.entry(index).path == path:
                self._reveal = None
                self.view.setCurrentIndex(index)
                self.view.scrollTo(index)
                return

    def _show_drop_hint(self, folder: str) -> None:
        if folder:
            self.status_label.setText(f"Drop to copy into {folder}")
            self.status_label.setStyleSheet("font-weight: bold;")
        else:
            self._update_status()

    def _update_status(self) -> None:
        model = self.model
        failed = model.state == ListingState.FAILED
        if model.state == ListingState.IDLE:
            self.status_label.setText(self.idle_text)
        elif failed:
            self.status_label.setText(model.error)
        else:
            self.status_label.setText(listing_status(
                model.rowCount(), model.loaded_count,
                listing=model.state == ListingState.LISTING,
                more=model.state == ListingState.PAUSED))
        self.status_label.setStyleSheet(_ERROR_STYLE if failed else "")
        self.retry_button.setVisible(failed)

    def _note_current_row(self) -> None:
        current = self.view.currentIndex()
        self._follow_current = current.isValid() and self.view.viewport().rect().intersects(
            self.view.visualRect(current))

    def _follow_current_row(self) -> None:
        """After the model sorted its rows, show the row that was in view where it went."""
        if self._follow_current:
            # Rows inserted since the last paint have not grown the scroll range yet.
            self.view.executeDelayedItemsLayout()
            self.view.scrollTo(self.view.currentIndex())

    def _update_buttons(self) -> None:
        self.back_button.setEnabled(bool(self._back))
        self.forward_button.setEnabled(bool(self._forward))
        self.up_button.setEnabled(self.model.path not in (None, "/"))

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    # -- helpers ---------------------------------------------------------------

    def _tool_button(self, theme: str, fallback: QStyle.StandardPixmap, tip: str,
                     slot: Callable[[], object]) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(QIcon.fromTheme(theme, self.style().standardIcon(fallback)))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _shortcut(self, keys: QKeySequence, slot: Callable[[], object]) -> None:
        shortcut = QShortcut(keys, self, slot)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
