"""The transfer queue panel: what every transfer is doing, and the controls over it.

The panel renders a :class:`~orbit_gui.models.transfer_model.TransferModel`
and forwards the user's intent to the :class:`TransferQueue` (in the app, the
:class:`~orbit_gui.models.queue_bridge.QueueBridge` to the queue on the engine's
thread): each control starts an asyncio task on the (qasync) loop and returns
at once, so the window never waits on the engine. A failed action becomes one sentence in the
panel's notice line and in the log tab, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QSpinBox,
    QStackedWidget,
    QStyle,
    QTabBar,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..engine.errors import OrbitError
from ..engine.transfer import TransferQueue, TransferRecord, TransferSnapshot, TransferState
from ..engine.transfer.request import is_local
from ..models.queue_bridge import QueueBridge
from ..models.transfer_model import Column, Role, Tab, TransferFilter, TransferModel
from ..models.transfer_text import human_speed, transfer_name
from .conflict_dialog import ConflictPrompt
from .delegates import ProgressDelegate, SegmentMapDelegate

__all__ = ["TransferPanel"]

log = logging.getLogger(__name__)

_LOG_TAB = 3
_TABS = (("&Queue", Tab.QUEUE), ("&Finished", Tab.FINISHED), ("Fai&led", Tab.FAILED))
_WIDTHS = {Column.NAME: 360, Column.PROGRESS: 120, Column.PARTS: 220, Column.BYTES: 170,
           Column.SPEED: 90, Column.ETA: 90, Column.STATE: 160}
_PAUSABLE = frozenset({TransferState.QUEUED, TransferState.PREPARING,
                       TransferState.TRANSFERRING, TransferState.RETRYING,
                       TransferState.VERIFYING, TransferState.ASSEMBLING})
_RESUMABLE = frozenset({TransferState.PAUSED, TransferState.INTERRUPTED,
                        TransferState.FAILED, TransferState.CANCELLED})
_RETRYABLE = frozenset({TransferState.FAILED, TransferState.CANCELLED})


class TransferPanel(QWidget):
    """The queue: summary, tabs (queue, finished, failed, log), tree and controls."""

    notice_changed = Signal(str)
    """A sentence about an action that failed ("" when cleared), also shown in the panel."""

    def __init__(self, queue: TransferQueue | QueueBridge,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.model = TransferModel(queue, self)
        self.filter = TransferFilter(self.model, Tab.QUEUE, self)
        self.conflict_prompt = ConflictPrompt(self, self)
        if queue.conflicts.resolver is None:
            queue.conflicts.resolver = self.conflict_prompt
        self._tasks: set[asyncio.Future[Any]] = set()
        self._build()
        self.model.summary_changed.connect(self._refresh)
        self.model.state_changed.connect(self._log_state)
        self._refresh()

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        style = self.style()
        icon = style.standardIcon
        pixmap = QStyle.StandardPixmap
        self.pause_action = self._action("&Pause", icon(pixmap.SP_MediaPause),
                                         "Ctrl+Shift+P", self.pause_selected)
        self.resume_action = self._action("Res&ume", icon(pixmap.SP_MediaPlay),
                                          "Ctrl+Shift+R", self.resume_selected)
        self.cancel_action = self._action("&Cancel", icon(pixmap.SP_DialogCancelButton),
                                          "Ctrl+Shift+X", self.cancel_selected)
        self.retry_action = self._action("Re&try", icon(pixmap.SP_BrowserReload),
                                         "Ctrl+R", self.retry_selected)
        self.remove_action = self._action("Re&move", icon(pixmap.SP_TrashIcon),
                                          QKeySequence.StandardKey.Delete, self.remove_selected)
        self.discard_action = self._action("&Discard", icon(pixmap.SP_DialogDiscardButton),
                                           "Ctrl+Shift+D", self.discard_selected)
        self.up_action = self._action("Move u&p", icon(pixmap.SP_ArrowUp), "Ctrl+Up",
                                      lambda: self.move_selected(-1))
        self.down_action = self._action("Move do&wn", icon(pixmap.SP_ArrowDown), "Ctrl+Down",
                                        lambda: self.move_selected(1))
        self.open_action = self._action("&Open folder", icon(pixmap.SP_DirOpenIcon),
                                        "Ctrl+Shift+O", self.open_destination)
        self.details_action = self._action("Error d&etails",
                                           icon(pixmap.SP_MessageBoxInformation), "Ctrl+I",
                                           self.show_details)
        self.pause_all_action = self._action("Pause &all", icon(pixmap.SP_MediaPause), None,
                                             self.pause_all)
        self.resume_all_action = self._action("Resume a&ll", icon(pixmap.SP_MediaPlay), None,
                                              self.resume_all)
        self.clear_action = self._action("Clear fi&nished", icon(pixmap.SP_DialogResetButton),
                                         None, self.clear_finished)
        self.copy_log_action = self._action("Cop&y log", icon(pixmap.SP_FileIcon), None,
                                            self.copy_log)
        self.selection_actions = [self.pause_action, self.resume_action, self.cancel_action,
                                  self.retry_action, self.remove_action, self.discard_action,
                                  self.up_action, self.down_action, self.open_action,
                                  self.details_action]

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summary")
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(self.queue.scheduler.limit)
        self.concurrency.setToolTip("How many files move at once (applies immediately)")
        self.concurrency.setAccessibleName("Parallel transfers")
        self.concurrency.valueChanged.connect(self.queue.set_concurrency)
        parallel = QLabel("Pa&rallel:")
        parallel.setBuddy(self.concurrency)
        header = QHBoxLayout()
        header.addWidget(self.summary_label, 1)
        header.addWidget(parallel)
        header.addWidget(self.concurrency)
        for action in (self.pause_all_action, self.resume_all_action, self.clear_action):
            header.addWidget(self._button(action))

        controls = QHBoxLayout()
        for action in self.selection_actions:
            controls.addWidget(self._button(action))
        controls.addStretch(1)

        self.view = QTreeView()
        self.view.setModel(self.filter)
        self.view.setUniformRowHeights(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAllColumnsShowFocus(True)
        self.view.setAlternatingRowColors(True)
        self.view.setExpandsOnDoubleClick(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.view))
        self.view.setItemDelegateForColumn(Column.PARTS, SegmentMapDelegate(self.view))
        head = self.view.header()
        head.setStretchLastSection(False)
        for column, width in _WIDTHS.items():
            head.resizeSection(column, width)
        head.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        self.view.selectionModel().selectionChanged.connect(self._refresh_actions)
        self.view.activated.connect(self._activated)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(10_000)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                              | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        log_page = QWidget()
        log_layout = QVBoxLayout(log_page)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.addWidget(self.log_view)
        copy_row = QHBoxLayout()
        copy_row.addStretch(1)
        copy_row.addWidget(self._button(self.copy_log_action))
        log_layout.addLayout(copy_row)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.view)
        self.pages.addWidget(log_page)
        self.tabs = QTabBar()
        self.tabs.setShape(QTabBar.Shape.RoundedSouth)
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        for text, _ in _TABS:
            self.tabs.addTab(text)
        self.tabs.addTab("Lo&g")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.notice = QLabel()
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addLayout(controls)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs)

    def _action(self, text: str, icon: Any, shortcut: str | QKeySequence.StandardKey | None,
                slot: Callable[[], None]) -> QAction:
        action = QAction(icon, text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{text.replace('&', '')} "
                              f"({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return button

    # -- what is selected ---------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        """Transfers whose row (or one of whose part rows) is selected, in view order."""
        ids: dict[str, None] = {}
        for index in sorted(self.view.selectionModel().selectedRows(Column.NAME),
                            key=lambda i: (i.parent().row() if i.parent().isValid() else i.row(),
                                           i.row())):
            key = index.data(Role.ID)
            if isinstance(key, str):
                ids[key] = None
        return list(ids)

    def select(self, *transfer_ids: str) -> None:
        """Select these transfers' rows (for keyboard-free callers and tests)."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for key in transfer_ids:
            index = self.filter.mapFromSource(self.model.row_of(key))
            if index.isValid():
                selection.select(index, flags)
                # Not view.setCurrentIndex: with Ctrl held it would toggle the row off.
                selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
        self._refresh_actions()

    def _snapshots(self) -> list[TransferSnapshot]:
        found = (self.model.snapshot(key) for key in self.selected_ids())
        return [s for s in found if s is not None]

    def _records(self) -> list[TransferRecord]:
        found = (self.model.record(key) for key in self.selected_ids())
        return [r for r in found if r is not None]

    def _live(self) -> list[TransferSnapshot]:
        """Selected transfers that are in the queue (not journal records or history)."""
        return [s for s in self._snapshots() if self.model.record(s.id) is None
                and not self.model.is_history(s.id)]

    # -- controls -----------------------------------------------------------------------------

    def pause_selected(self) -> None:
        for snapshot in self._live():
            if snapshot.state in _PAUSABLE:
                self._spawn(f"pause {transfer_name(snapshot)}", self.queue.pause(snapshot.id))

    def resume_selected(self) -> None:
        for record in self._records():
            self._spawn(f"resume {record.source}", self.queue.resume_record(record))
        for snapshot in self._live():
            if snapshot.state in _RESUMABLE:
                self._spawn(f"resume {transfer_name(snapshot)}", self.queue.resume(snapshot.id))

    def retry_selected(self) -> None:
        for snapshot in self._live():
            if snapshot.state in _RETRYABLE:
                self._spawn(f"retry {transfer_name(snapshot)}", self.queue.retry(snapshot.id))

    def cancel_selected(self) -> None:
        for snapshot in self._live():
            if not snapshot.finished:
                self._spawn(f"cancel {transfer_name(snapshot)}", self.queue.cancel(snapshot.id))

    def remove_selected(self) -> None:
        history = [key for key in self.selected_ids() if self.model.is_history(key)]
        if history:
            self.model.forget(*history)
        for snapshot in self._live():
            self._spawn(f"remove {transfer_name(snapshot)}", self.queue.remove(snapshot.id))

    def discard_selected(self) -> None:
        for record in self._records():
            self._spawn(f"discard {record.source}", self._discard(record))

    async def _discard(self, record: TransferRecord) -> None:
        await self.queue.discard_record(record)
        self.model.forget(record.id)
        self._log(f"{record.source}: discarded (partial uploads and files removed)")

    def move_selected(self, step: int) -> None:
        """Move the selected transfers one place up (-1) or down (+1), keeping their order."""
        chosen = sorted(self._live(), key=lambda s: s.position, reverse=step > 0)
        last = len(self.queue.transfers) - 1
        taken: set[int] = set()
        for snapshot in chosen:
            target = snapshot.position + step
            if not 0 <= target <= last or target in taken:
                taken.add(snapshot.position)  # blocked: the ones behind it stay too
                continue
            try:
                self.queue.move(snapshot.id, target)
            except OrbitError as exc:
                self._report(f"Could not move {transfer_name(snapshot)}: {exc.message}")
            taken.add(target)

    def pause_all(self) -> None:
        self._spawn("pause all transfers", self.queue.pause_all())

    def resume_all(self) -> None:
        self._spawn("resume all transfers", self.queue.resume_all())

    def clear_finished(self) -> None:
        self.model.forget(*self.model.history_ids())
        self._spawn("clear the finished transfers", self.queue.clear_finished())

    def open_destination(self) -> None:
        """Open the folder of each selected transfer's local destination."""
        for snapshot in self._snapshots():
            folder = self._local_folder(snapshot)
            if folder is not None:
                QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def _local_folder(self, snapshot: TransferSnapshot) -> str | None:
        record = self.model.record(snapshot.id)
        if record is not None:
            destination = record.spec.get("destination") or {}
            if destination.get("ref") is not None:
                return None
            path = str(destination.get("path", ""))
            return path if record.spec.get("recursive") else posixpath.dirname(path)
        try:
            request = self.queue.get(snapshot.id).request
        except OrbitError:
            return None
        if not is_local(request.destination.backend):
            return None
        path = request.destination.path
        return path if request.recursive else posixpath.dirname(path)

    def show_details(self) -> None:
        """A window with the errors of the selected transfers, in full."""
        texts = [self._details(s) for s in self._snapshots() if s.error or s.failures]
        if not texts:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Transfer errors",
                          "\n\n".join(texts), QMessageBox.StandardButton.Close, self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.details_box = box
        box.open()

    @staticmethod
    def _details(snapshot: TransferSnapshot) -> str:
        lines = [f"{snapshot.source} → {snapshot.destination}"]
        if snapshot.error:
            lines.append(snapshot.error)
        lines += [f"• {failure.path}: {failure.error}" for failure in snapshot.failures]
        if snapshot.files_failed > len(snapshot.failures):
            lines.append(f"… and {snapshot.files_failed - len(snapshot.failures)} more")
        return "\n".join(lines)

    def copy_log(self) -> None:
        QApplication.clipboard().setText(self.log_view.toPlainText())

    # -- the journal: transfers left by an earlier run ---------------------------------------

    async def show_interrupted(self) -> None:
        """Show the transfers an earlier run left unfinished, as "interrupted" rows that
        Resume continues and Discard cleans up."""
        try:
            records = await self.queue.interrupted()
        except OrbitError as exc:
            self._report(f"Could not read the transfer journal: {exc.message}")
            return
        self.model.add_interrupted(records)
        try:
            self.model.add_history(await self.queue.history())
        except OrbitError as exc:
            self._report(f"Could not read the transfer history: {exc.message}")
        if records:
            count = len(records)
            noun = "transfer was" if count == 1 else "transfers were"
            self._log(f"{count} {noun} left unfinished by an earlier run: "
                      "select and resume or discard.")

    # -- running actions ----------------------------------------------------------------------

    def _spawn(self, what: str, action: Coroutine[Any, Any, Any] | Awaitable[Any]) -> None:
        task = asyncio.ensure_future(action)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(what, done))

    def _finished(self, what: str, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, OrbitError):
            self._report(f"Could not {what}: {error.message}")
        elif error is not None:
            log.error("could not %s", what, exc_info=error)
            self._report(f"Could not {what}: an internal error occurred "
                         f"({type(error).__name__}); the application log has the details.")

    async def wait_actions(self) -> None:
        """Wait for the actions started so far (and those they lead to) to end."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _report(self, sentence: str) -> None:
        self.notice.setText(sentence)
        self.notice.show()
        self._log(sentence)
        self.notice_changed.emit(sentence)

    # -- keeping the view current -------------------------------------------------------------

    def _log(self, text: str) -> None:
        self.log_view.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")

    def _log_state(self, snapshot: TransferSnapshot, previous: str) -> None:
        text = "interrupted" if snapshot.state is TransferState.INTERRUPTED \
            else snapshot.state_text()
        self._log(f"{transfer_name(snapshot)}: {text}")
        if snapshot.state is TransferState.FAILED:
            for failure in snapshot.failures:
                self._log(f"    {failure.path}: {failure.error}")

    def _refresh(self) -> None:
        summary = self.model.summary()
        parts = [f"{summary.active} active", f"{summary.queued} queued"]
        if summary.paused:
            parts.append(f"{summary.paused} paused")
        if summary.interrupted:
            parts.append(f"{summary.interrupted} interrupted")
        parts.append(f"{summary.failed} failed")
        self.summary_label.setText(f"Transfers ({', '.join(parts)})   "
                                   f"↑ {human_speed(summary.up)}   ↓ {human_speed(summary.down)}")
        unfinished = summary.active + summary.queued + summary.paused + summary.interrupted
        for tab, count in ((0, unfinished), (1, summary.finished), (2, summary.failed)):
            self.tabs.setTabText(tab, f"{_TABS[tab][0]} ({count:,})")
        self.pause_all_action.setEnabled(bool(summary.active or summary.queued))
        self.resume_all_action.setEnabled(bool(summary.paused))
        self.clear_action.setEnabled(bool(summary.finished or summary.failed))
        self._refresh_actions()

    def _refresh_actions(self) -> None:
        snapshots = self._snapshots()
        live = [s for s in snapshots if self.model.record(s.id) is None
                and not self.model.is_history(s.id)]
        states = {s.state for s in live}
        has_records = any(self.model.record(s.id) is not None for s in snapshots)
        self.pause_action.setEnabled(bool(states & _PAUSABLE))
        self.resume_action.setEnabled(bool(states & _RESUMABLE) or has_records)
        self.retry_action.setEnabled(bool(states & _RETRYABLE))
        self.cancel_action.setEnabled(any(not s.finished for s in live))
        self.remove_action.setEnabled(
            bool(live) or any(self.model.is_history(s.id) for s in snapshots))
        self.discard_action.setEnabled(has_records)
        self.up_action.setEnabled(bool(live))
        self.down_action.setEnabled(bool(live))
        self.open_action.setEnabled(any(self._local_folder(s) is not None for s in snapshots))
        self.details_action.setEnabled(any(s.error or s.failures for s in snapshots))

    def _tab_changed(self, number: int) -> None:
        if number == _LOG_TAB:
            self.pages.setCurrentIndex(1)
            return
        self.pages.setCurrentIndex(0)
        self.filter.set_tab(_TABS[number][1])
        self._refresh_actions()

    def _activated(self, index: QModelIndex) -> None:
        snapshot = self.model.snapshot(index.data(Role.ID))
        if snapshot is not None and (snapshot.error or snapshot.failures):
            self.show_details()

    def _context_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        for action in self.selection_actions:
            menu.addAction(action)
            if action is self.discard_action:
                menu.addSeparator()
        menu.addSeparator()
        for action in (self.pause_all_action, self.resume_all_action, self.clear_action):
            menu.addAction(action)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.context_menu = menu
        menu.popup(self.view.viewport().mapToGlobal(position))
