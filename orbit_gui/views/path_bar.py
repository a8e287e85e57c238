"""The path bar: clickable breadcrumbs that turn into an editable line."""

from __future__ import annotations

import posixpath

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QWidget,
)

__all__ = ["PathBar"]


class _PathEdit(QLineEdit):
    """A line that tells when Escape is pressed and when the focus leaves it."""

    escaped = Signal()
    focus_lost = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.focus_lost.emit()


class _Crumbs(QWidget):
    """One button per folder of the path; leading ones hide when space runs out."""

    path_clicked = Signal(str)
    edit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setToolTip("Click a folder to go there; click here or press Ctrl+L to type a path")
        self.setCursor(Qt.CursorShape.IBeamCursor)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        # The widget may be narrower than all crumbs: _fit() hides what does not fit.
        self._layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._ellipsis = QLabel("…", self)
        self._groups: list[list[QWidget]] = []

    def set_path(self, path: str) -> None:
        while (item := self._layout.takeAt(0)) is not None:
            widget = item.widget()
            if widget is not None and widget is not self._ellipsis:
                widget.deleteLater()
        self._layout.addWidget(self._ellipsis)
        parts = [p for p in path.split("/") if p]
        self._groups = [[self._button("/", "/", current=not parts)]]
        for i, part in enumerate(parts):
            group: list[QWidget] = [] if i == 0 else [QLabel("/", self)]
            target = "/" + "/".join(parts[: i + 1])
            group.append(self._button(part, target, current=i == len(parts) - 1))
            self._groups.append(group)
        for group in self._groups:
            for widget in group:
                self._layout.addWidget(widget)
        self._layout.addStretch(1)
        self._fit()

    def _button(self, text: str, target: str, *, current: bool) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setAutoRaise(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setToolTip(target)
        if current:
            font = button.font()
            font.setBold(True)
            button.setFont(font)
        button.clicked.connect(lambda: self.path_clicked.emit(target))
        return button

    def _fit(self) -> None:
        room = self.width() - self._ellipsis.sizeHint().width()
        fits = True
        for index, group in enumerate(reversed(self._groups)):
            room -= sum(w.sizeHint().width() for w in group)
            fits = fits and (index == 0 or room >= 0)  # the current folder always shows
            for widget in group:
                widget.setVisible(fits)
        self._ellipsis.setVisible(not fits)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.edit_requested.emit()
        super().mousePressEvent(event)


class PathBar(QStackedWidget):
    """Shows a path as breadcrumbs; :meth:`edit` swaps in a line to type one.

    ``path_activated`` carries a clicked crumb's path or the typed path (made
    absolute against the current one) once Enter confirms it; Escape cancels.
    ``editing_done`` follows Enter or Escape (not a click elsewhere), so the
    owner can take the keyboard focus back.
    """

    path_activated = Signal(str)
    editing_done = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = "/"
        self._crumbs = _Crumbs(self)
        self._edit = _PathEdit(self)
        self._edit.setClearButtonEnabled(True)
        self.addWidget(self._crumbs)
        self.addWidget(self._edit)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._crumbs.path_clicked.connect(self.path_activated)
        self._crumbs.edit_requested.connect(self.edit)
        self._edit.returnPressed.connect(self._confirm)
        self._edit.escaped.connect(self._cancel)
        self._edit.focus_lost.connect(self._show_crumbs)

    @property
    def line_edit(self) -> QLineEdit:
        return self._edit

    def path(self) -> str:
        return self._path

    def set_path(self, path: str) -> None:
        self._path = path
        self._crumbs.set_path(path)
        self._edit.setText(path)

    def is_editing(self) -> bool:
        return self.currentWidget() is self._edit

    def edit(self) -> None:
        """Show the path as editable text, all selected, with the keyboard focus."""
        self._edit.setText(self._path)
        self.setCurrentWidget(self._edit)
        self._edit.selectAll()
        self._edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _confirm(self) -> None:
        text = self._edit.text().strip()
        self._show_crumbs()
        self.editing_done.emit()
        if text:
            self.path_activated.emit(posixpath.normpath(posixpath.join(self._path, text)))

    def _cancel(self) -> None:
        self._show_crumbs()
        self.editing_done.emit()

    def _show_crumbs(self) -> None:
        if self.is_editing():
            self.setCurrentWidget(self._crumbs)
            self._edit.setText(self._path)
