"""The folder table of a browser pane, as a drag source and a drop target.

A drop goes into the folder row under the cursor, or into the folder shown
when it lands anywhere else; while dragging, that folder is highlighted (the
row, or the whole table) and :attr:`FileTable.drop_hint` says where it will go.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from ..models.listing_model import Column, ListingModel

__all__ = ["FileTable"]


class FileTable(QTableView):
    drop_hint = Signal(str)
    """The folder a drop would go into now; "" when no drag is over the table."""
    focused = Signal()
    """The table took the keyboard focus (its pane is the one commands act on)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setDragDropOverwriteMode(True)  # drops land on rows, never between them
        self.setDropIndicatorShown(False)  # we paint our own, which knows folders from files
        self._target_row: QPersistentModelIndex | None = None
        self._target_all = False

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.focused.emit()

    def listing(self) -> ListingModel:
        model = self.model()
        assert isinstance(model, ListingModel)
        return model

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        super().dragEnterEvent(event)
        self._update_target(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        super().dragMoveEvent(event)
        self._update_target(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        super().dragLeaveEvent(event)
        self._clear_target()

    def dropEvent(self, event: QDropEvent) -> None:
        super().dropEvent(event)
        self._clear_target()

    def _update_target(self, event: QDragMoveEvent) -> None:
        model = self.listing()
        index = self.indexAt(event.position().toPoint())
        row = model.index(index.row(), Column.NAME) if index.isValid() else QModelIndex()
        on_folder = row.isValid() and model.entry(row).is_dir
        parent = row if on_folder else QModelIndex()
        if not model.canDropMimeData(event.mimeData(), Qt.DropAction.CopyAction, -1, -1,
                                     parent):
            event.ignore()
            self._clear_target()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self._target_row = QPersistentModelIndex(row) if on_folder else None
        self._target_all = not on_folder
        self.drop_hint.emit(model.drop_target(parent) or "")
        self.viewport().update()

    def _clear_target(self) -> None:
        if self._target_row is None and not self._target_all:
            return
        self._target_row = None
        self._target_all = False
        self.drop_hint.emit("")
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._target_row is None and not self._target_all:
            return
        painter = QPainter(self.viewport())
        color = self.palette().color(QPalette.ColorRole.Highlight)
        fill = QColor(color)
        fill.setAlpha(40)
        painter.setPen(QPen(color, 2))
        if self._target_row is not None and self._target_row.isValid():
            index = self.listing().index(self._target_row.row(), Column.NAME)
            rect = self.visualRect(index)
            rect.setLeft(0)
            rect.setRight(self.viewport().width() - 1)
        else:
            rect = self.viewport().rect()
        rect = rect.adjusted(1, 1, -1, -1)
        painter.fillRect(rect, fill)
        painter.drawRect(rect)
        painter.end()
