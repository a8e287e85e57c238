"""The main window: the local and the remote browser side by side, the
transfer queue docked below, menus, toolbar and shortcuts.

The window renders and asks; what the user wants done leaves as a signal
(an *intent*) for the controller, which does the work and calls back with
:meth:`MainWindow.report_error` and friends.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..engine import Entry
from ..models.drag import DraggedItems
from ..models.listing_model import ListingModel, ListingState
from ..models.profile_model import ProfileListModel
from ..models.remote_session import ConnectionState, RemoteSession
from .browser_pane import BrowserPane
from .connection_bar import ConnectionBar
from .dialogs import NameDialog, confirm_delete, link_dialog, properties_dialog

__all__ = ["MainWindow"]


class MainWindow(QMainWindow):
    """Two panes: ``local_pane`` on this computer, ``remote_pane`` on a saved connection.

    ``closed`` tells the application to shut down: the window never quits by
    itself, so transfers, listings and connections can be closed in order.
    """

    closed = Signal()
    copy_requested = Signal(object, object, object, str)
    """(from pane, paths, to pane, into folder): upload, download, or a drop."""
    new_folder_requested = Signal(object, str)
    rename_requested = Signal(object, object, str)
    """(pane, Entry, new name)"""
    delete_requested = Signal(object, object)
    """(pane, list of Entry), after the user confirmed."""
    properties_requested = Signal(object, object)
    link_requested = Signal(object, object, int)
    """(pane, Entry, seconds the link lives)"""
    manage_connections_requested = Signal()
    settings_requested = Signal()

    def __init__(self, local_model: ListingModel, remote_model: ListingModel,
                 profiles: ProfileListModel, session: RemoteSession,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Orbit")
        self.resize(1280, 800)
        self.session = session
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("panes")
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.local_pane = BrowserPane("Local", local_model)
        self.remote_pane = BrowserPane("Remote", remote_model)
        self.remote_pane.idle_text = "Choose a saved connection and connect."
        self.connection_bar = ConnectionBar(profiles, session, self.remote_pane)
        self.remote_pane.title_label.hide()
        layout = self.remote_pane.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(0, self.connection_bar)
        self.panes = [self.local_pane, self.remote_pane]
        for index, pane in enumerate(self.panes):
            self.splitter.addWidget(pane)
            self.splitter.setStretchFactor(index, 1)
        self.splitter.setSizes([self.width() // 2] * 2)  # side by side, equal (until restored)
        self._active_pane = self.local_pane
        self._error_details = ""
        self._link_url: Callable[[str], None] | None = None
        self.transfer_dock = QDockWidget("Transfers", self)
        self.transfer_dock.setObjectName("transfers")
        self.transfer_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                                       | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.transfer_dock.hide()
        self._setup_actions()
        self._setup_status_bar()
        self.connection_bar.manage_requested.connect(self.manage_connections_requested)
        session.state_changed.connect(self._on_session_changed)
        session.model.listing_started.connect(self._update_actions)
        for pane in self.panes:
            pane.model.drop_requested.connect(
                lambda items, folder, target=pane: self._on_drop(target, items, folder))
            pane.view.selectionModel().selectionChanged.connect(self._update_actions)
            pane.view.focused.connect(lambda target=pane: self._focus_moved_to(target))
            pane.model.state_changed.connect(self._update_actions)
        self._on_session_changed()

    # -- what the controller calls -------------------------------------------------------

    def set_transfer_panel(self, panel: QWidget) -> None:
        """Dock the transfer queue below the panes."""
        self.transfer_dock.setWidget(panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.transfer_dock)
        self.transfer_dock.show()
        # The browsers get most of the height until the user (or saved state) says otherwise.
        self.resizeDocks([self.transfer_dock], [self.height() // 3], Qt.Orientation.Vertical)
        self.view_menu.addAction(self.transfer_dock.toggleViewAction())
        self.transfer_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+T"))

    def pane_of(self, model: ListingModel) -> BrowserPane:
        return next(pane for pane in self.panes if pane.model is model)

    def other_pane(self, pane: BrowserPane) -> BrowserPane:
        return self.remote_pane if pane is self.local_pane else self.local_pane

    def active_pane(self) -> BrowserPane:
        """The pane holding the keyboard focus, else the one that held it last."""
        focus = QApplication.focusWidget()
        for pane in self.panes:
            if focus is not None and pane.isAncestorOf(focus):
                self._active_pane = pane
        return self._active_pane

    def report_error(self, summary: str, details: str = "") -> None:
        """Show an error in the status bar; its details open on request."""
        self._error_label.setText(summary)
        self._error_label.setToolTip(summary)
        self._error_details = details or summary
        self._error_label.show()
        self._details_button.show()

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_properties(self, entry: Entry, kind: str) -> None:
        dialog = properties_dialog(self, entry, kind)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_link(self, url: str) -> None:
        if self._link_url is not None:
            self._link_url(url)

    def closeEvent(self, event: QCloseEvent) -> None:
        event.accept()
        self.closed.emit()

    # -- actions ---------------------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], object], *, shortcut: str | None = None,
                standard: QKeySequence.StandardKey | None = None, theme: str = "",
                fallback: QStyle.StandardPixmap | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        elif standard is not None:
            action.setShortcut(QKeySequence(standard))
        if theme or fallback is not None:
            backup = self.style().standardIcon(fallback) if fallback is not None else QIcon()
            action.setIcon(QIcon.fromTheme(theme, backup))
        if tip:
            shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip} ({shown})" if shown else tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _setup_actions(self) -> None:
        pixmap = QStyle.StandardPixmap
        self.upload_action = self._action(
            "&Upload", self.upload, shortcut="Ctrl+U", theme="go-up", fallback=pixmap.SP_ArrowUp,
            tip="Copy the selected local files into the remote folder")
        self.download_action = self._action(
            "&Download", self.download, shortcut="Ctrl+D", theme="go-down",
            fallback=pixmap.SP_ArrowDown, tip="Copy the selected remote files into the local "
            "folder")
        self.new_folder_action = self._action(
            "&New folder…", self.new_folder, shortcut="Ctrl+Shift+N", theme="folder-new",
            fallback=pixmap.SP_FileDialogNewFolder, tip="Create a folder here")
        self.rename_action = self._action("&Rename…", self.rename, shortcut="F2",
                                          theme="edit-rename", tip="Rename the selected item")
        self.delete_action = self._action(
            "De&lete…", self.delete, standard=QKeySequence.StandardKey.Delete,
            theme="edit-delete", fallback=pixmap.SP_TrashIcon, tip="Delete the selection")
        self.refresh_action = self._action(
            "&Refresh", self._refresh, shortcut="F5", theme="view-refresh",
            fallback=pixmap.SP_BrowserReload, tip="List the current folder again")
        self.copy_path_action = self._action("Copy &path", self.copy_path,
                                             shortcut="Ctrl+Shift+C", theme="edit-copy")
        self.copy_link_action = self._action("Copy &link…", self.copy_link, theme="insert-link",
                                             tip="A time-limited download link (S3)")
        self.properties_action = self._action("Propert&ies", self.properties,
                                              shortcut="Alt+Return", theme="document-properties")
        self.connections_action = self._action(
            "&Connections…", self.manage_connections_requested.emit, shortcut="Ctrl+K",
            theme="network-server", fallback=pixmap.SP_DriveNetIcon,
            tip="Add, edit or remove saved connections")
        self.settings_action = self._action("&Settings…", self.settings_requested.emit,
                                            shortcut="Ctrl+,", theme="preferences-system")
        quit_action = self._action("&Quit", self.close, shortcut="Ctrl+Q",
                                   theme="application-exit")
        about = self._action("&About Orbit", self._about)

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for action in (self.connections_action, self.settings_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit = menus.addMenu("&Edit")
        for action in (self.new_folder_action, self.rename_action, self.delete_action):
            edit.addAction(action)
        edit.addSeparator()
        for action in (self.copy_path_action, self.copy_link_action, self.properties_action):
            edit.addAction(action)
        self.view_menu = menus.addMenu("&View")
        self.view_menu.addAction(self.refresh_action)
        transfer = menus.addMenu("&Transfer")
        transfer.addAction(self.upload_action)
        transfer.addAction(self.download_action)
        menus.addMenu("&Help").addAction(about)

        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for tool in (self.upload_action, self.download_action, None, self.new_folder_action,
                     self.delete_action, self.refresh_action, None, self.connections_action):
            if tool is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(tool)
        self.addToolBar(toolbar)

        # Keys that act on the selected files work only with the focus in a file table:
        # Delete in the filter box deletes text, and the queue panel has its own Delete.
        for action in (self.new_folder_action, self.rename_action, self.delete_action,
                       self.copy_path_action, self.copy_link_action, self.properties_action):
            self.removeAction(action)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        context = (self.upload_action, self.download_action, None, self.new_folder_action,
                   self.rename_action, self.delete_action, None, self.copy_path_action,
                   self.copy_link_action, self.properties_action, None, self.refresh_action)
        for pane in self.panes:
            pane.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
            for item in context:
                if item is None:
                    separator = QAction(pane.view)
                    separator.setSeparator(True)
                    pane.view.addAction(separator)
                else:
                    pane.view.addAction(item)

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

    # -- intents ---------------------------------------------------------------------------

    def upload(self) -> None:
        self._copy_selection(self.local_pane)

    def download(self) -> None:
        self._copy_selection(self.remote_pane)

    def _copy_selection(self, source: BrowserPane) -> None:
        target = self.other_pane(source)
        entries = source.selected_entries()
        if not entries:
            self.show_message("Select the files or folders to copy first.")
            return
        if target.current_path is None:
            self.show_message("Connect and open a remote folder first.")
            return
        self.copy_requested.emit(source, [e.path for e in entries], target, target.current_path)

    def _on_drop(self, target: BrowserPane, items: DraggedItems, folder: str) -> None:
        if items.source is None:
            source = self.local_pane  # files from the desktop are local files
        else:
            matches = [pane for pane in self.panes if pane.model.token == items.source]
            if not matches:
                return  # dragged from a pane that no longer shows those files
            source = matches[0]
        self.copy_requested.emit(source, list(items.paths), target, folder)

    def new_folder(self) -> None:
        pane = self.active_pane()
        if pane.current_path is None:
            return
        dialog = NameDialog("New folder", f"Name of the new folder in {pane.current_path}:",
                            "New folder", self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.new_folder_requested.emit(pane, dialog.name()))
        dialog.open()

    def rename(self) -> None:
        pane = self.active_pane()
        entries = pane.selected_entries()
        if len(entries) != 1:
            self.show_message("Select one item to rename.")
            return
        entry = entries[0]
        dialog = NameDialog("Rename", f"New name for {entry.name}:", entry.name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(
            lambda: self.rename_requested.emit(pane, entry, dialog.name()))
        dialog.open()

    def delete(self) -> None:
        pane = self.active_pane()
        entries = pane.selected_entries()
        if not entries:
            return
        where = self.session.ref if pane is self.remote_pane else "this computer"
        box = confirm_delete(self, where or "the store", entries)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: int) -> None:
            if button == QMessageBox.StandardButton.Yes:
                self.delete_requested.emit(pane, entries)

        box.finished.connect(answered)
        box.open()

    def copy_path(self) -> None:
        pane = self.active_pane()
        entries = pane.selected_entries()
        paths = [e.path for e in entries] or [pane.current_path or ""]
        prefix = f"{self.session.ref}:" if pane is self.remote_pane and self.session.ref else ""
        QGuiApplication.clipboard().setText("\n".join(prefix + path for path in paths))
        self.show_message("Copied the path" + ("s" if len(paths) > 1 else ""))

    def copy_link(self) -> None:
        pane = self.active_pane()
        entries = [e for e in pane.selected_entries() if not e.is_dir]
        backend = pane.model.backend
        if len(entries) != 1 or backend is None or not backend.features.presign:
            self.show_message("Select one file on a store that makes links (S3).")
            return
        entry = entries[0]
        dialog, expiry, url = link_dialog(self, entry)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def ask() -> None:
            url.clear()
            self.link_requested.emit(pane, entry, int(expiry.currentData()))

        def shown(text: str) -> None:
            url.setText(text)
            url.selectAll()

        self._link_url = shown
        dialog.finished.connect(lambda _: setattr(self, "_link_url", None))
        expiry.currentIndexChanged.connect(ask)
        dialog.open()
        ask()

    def properties(self) -> None:
        pane = self.active_pane()
        entries = pane.selected_entries()
        if len(entries) == 1:
            self.properties_requested.emit(pane, entries[0])

    def _refresh(self) -> None:
        self.active_pane().refresh()

    # -- display ---------------------------------------------------------------------------

    def _on_session_changed(self) -> None:
        session = self.session
        pane = self.remote_pane
        if session.state is ConnectionState.FAILED:
            pane.idle_text = session.message
            pane.status_label.setStyleSheet("color: #c62828;")
        elif session.state is ConnectionState.CONNECTING:
            pane.idle_text = session.message
        elif session.state is ConnectionState.DISCONNECTED:
            pane.idle_text = "Choose a saved connection and connect."
        if session.state is not ConnectionState.CONNECTED and \
                pane.model.state is ListingState.IDLE:
            pane.status_label.setText(pane.idle_text)
        if session.state is ConnectionState.CONNECTED:
            pane.forget_history()
        title = f"{session.ref} — Orbit" if session.ref and \
            session.state is ConnectionState.CONNECTED else "Orbit"
        self.setWindowTitle(title)
        self._update_actions()

    def _focus_moved_to(self, pane: BrowserPane) -> None:
        self._active_pane = pane
        self._update_actions()

    def _update_actions(self) -> None:
        connected = self.remote_pane.current_path is not None
        self.upload_action.setEnabled(connected)
        self.download_action.setEnabled(connected)
        pane = self.active_pane()
        has_folder = pane.current_path is not None
        self.new_folder_action.setEnabled(has_folder)
        self.refresh_action.setEnabled(has_folder)
        selected = bool(has_folder and pane.view.selectionModel().hasSelection())
        for action in (self.rename_action, self.delete_action, self.properties_action,
                       self.copy_path_action):
            action.setEnabled(selected or action is self.copy_path_action)
        backend = pane.model.backend
        self.copy_link_action.setEnabled(selected and backend is not None
                                         and backend.features.presign)

    def _show_error_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Orbit: something went wrong",
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

