"""The main window: browser panes side by side, menus, toolbar, status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QToolBar,
    QWidget,
)

from .. import __version__
from ..models.listing_model import ListingModel
from .browser_pane import BrowserPane

__all__ = ["MainWindow"]


class MainWindow(QMainWindow):
    """The Local pane (a remote pane joins it through :meth:`add_pane`).

    ``closed`` tells the application to shut down: the window never quits
    by itself, so listings and connections can be closed in order.
    """

    closed = Signal()

    def __init__(self, local_model: ListingModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Orbit")
        self.resize(1200, 760)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.panes: list[BrowserPane] = []
        self._active_pane: BrowserPane | None = None
        self.local_pane = BrowserPane("Local", local_model)
        self.add_pane(self.local_pane)
        self._error_details = ""
        self._setup_actions()
        self._setup_status_bar()

    def add_pane(self, pane: BrowserPane) -> None:
        """Put ``pane`` to the right of the existing ones."""
        self.splitter.addWidget(pane)
        self.panes.append(pane)
        if self._active_pane is None:
            self._active_pane = pane

    def active_pane(self) -> BrowserPane | None:
        """The pane holding the keyboard focus, else the one that held it last."""
        focus = QApplication.focusWidget()
        for pane in self.panes:
            if focus is not None and pane.isAncestorOf(focus):
                self._active_pane = pane
        return self._active_pane

    def report_error(self, summary: str, details: str) -> None:
        """Show an error in the status bar; its details open on request."""
        self._error_label.setText(summary)
        self._error_label.setToolTip(summary)
        self._error_details = details
        self._error_label.show()
        self._details_button.show()

    def closeEvent(self, event: QCloseEvent) -> None:
        event.accept()
        self.closed.emit()

    def _setup_actions(self) -> None:
        style = self.style()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.setIcon(QIcon.fromTheme("application-exit"))
        quit_action.triggered.connect(self.close)
        refresh = QAction("&Refresh", self)
        refresh.setShortcut(QKeySequence(Qt.Key.Key_F5))
        refresh.setToolTip("List the current folder again (F5)")
        refresh.setIcon(QIcon.fromTheme(
            "view-refresh", style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload)))
        refresh.triggered.connect(self._refresh)
        about = QAction("&About Orbit", self)
        about.triggered.connect(self._about)

        menus = self.menuBar()
        menus.addMenu("&File").addAction(quit_action)
        menus.addMenu("&View").addAction(refresh)
        menus.addMenu("&Help").addAction(about)

        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(refresh)
        self.addToolBar(toolbar)

    def _setup_status_bar(self) -> None:
        bar = self.statusBar()
        self._error_label = QLabel(self)
        self._error_label.setStyleSheet("color: #c62828;")
        self._details_button = QPushButton("Details…", self)
        self._details_button.setFlat(True)
        self._details_button.clicked.connect(self._show_error_details)
        bar.addWidget(self._error_label, 1)
        bar.addPermanentWidget(self._details_button)
        self._error_label.hide()
        self._details_button.hide()

    def _refresh(self) -> None:
        pane = self.active_pane()
        if pane is not None:
            pane.refresh()

    def _show_error_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Orbit: unexpected error",
                          self._error_label.text(), QMessageBox.StandardButton.Close, self)
        box.setDetailedText(self._error_details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self._error_label.hide()
        self._details_button.hide()

    def _about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About Orbit",
                          f"<h3>Orbit {__version__}</h3>"
                          "<p>A transfer client for S3, SFTP and SMB that streams "
                          "everything: no file is held whole in memory, no folder "
                          "listing is collected before it is shown.</p>",
                          QMessageBox.StandardButton.Ok, self)
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
