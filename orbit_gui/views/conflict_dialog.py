"""The question asked when a destination file already exists, and the queue's resolver.

:class:`ConflictDialog` shows the source and the existing destination side by
side with the actions the engine knows (:class:`ConflictPolicy`). :class:`ConflictPrompt`
is the async resolver a :class:`~orbit_gui.engine.transfer.TransferQueue` takes:
it opens the dialog window-modally with ``open()`` and awaits the answer on a
future, so the event loop, and every other transfer, keeps running while the
user thinks.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, QLocale, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..engine.transfer import Conflict, ConflictAnswer, ConflictPolicy
from ..engine.types import Entry
from ..models.formatting import exact_bytes, human_size

__all__ = ["ConflictDialog", "ConflictPrompt"]

_ACTIONS: tuple[tuple[ConflictPolicy, str, str], ...] = (
    (ConflictPolicy.OVERWRITE, "&Overwrite", "Replace the destination with the source."),
    (ConflictPolicy.SKIP, "&Skip", "Leave the destination as it is."),
    (ConflictPolicy.RENAME, "&Keep both", "Give the new file a free name such as “name (1)”."),
    (ConflictPolicy.RESUME, "&Resume", "Continue the partial destination where it stopped."),
    (ConflictPolicy.NEWER, "Overwrite if &newer",
     "Replace the destination only when the source was modified later."),
    (ConflictPolicy.SIZE, "Overwrite if si&ze differs",
     "Replace the destination only when the sizes differ."),
)


def _size(entry: Entry) -> tuple[str, str]:
    if entry.size is None:
        return "unknown", ""
    return human_size(entry.size), exact_bytes(entry.size)


def _modified(entry: Entry) -> tuple[str, str]:
    if entry.mtime is None:
        return "unknown", ""
    when = QDateTime.fromMSecsSinceEpoch(round(entry.mtime * 1000))
    iso = datetime.fromtimestamp(entry.mtime, UTC).astimezone().isoformat(timespec="seconds")
    return QLocale().toString(when, QLocale.FormatType.ShortFormat), iso


def _comparison(source: Entry, destination: Entry) -> str:
    """A sentence on how the two differ, so the user need not compare digits."""
    notes = []
    if source.mtime is not None and destination.mtime is not None:
        if source.mtime > destination.mtime + 1:
            notes.append("the source is newer")
        elif destination.mtime > source.mtime + 1:
            notes.append("the destination is newer")
    if source.size is not None and destination.size is not None:
        if source.size == destination.size:
            notes.append("both have the same size")
        else:
            bigger = "source" if source.size > destination.size else "destination"
            notes.append(f"the {bigger} is larger by "
                         f"{human_size(abs(source.size - destination.size))}")
    return (", ".join(notes) + ".").capitalize() if notes else ""


class ConflictDialog(QDialog):
    """One conflict; :meth:`answer` holds the choice once the dialog finished.

    Closing the dialog (Escape, the window's close button) skips this file.
    """

    answered = Signal(object)
    """The :class:`ConflictAnswer`, when the user chose (or closed the dialog)."""

    def __init__(self, conflict: Conflict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conflict = conflict
        self._answer = ConflictAnswer(ConflictPolicy.SKIP)
        self.setWindowTitle("File already exists")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        layout = QVBoxLayout(self)
        title = QLabel(f"<b>{_escape(conflict.destination.name)}</b> already exists "
                       "at the destination.")
        title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(title)
        layout.addLayout(self._sides(conflict))
        note = QLabel(_comparison(conflict.source, conflict.destination))
        note.setObjectName("comparison")
        layout.addWidget(note)
        self.apply_to_all = QCheckBox("&Apply to all remaining conflicts")
        layout.addWidget(self.apply_to_all)
        self.buttons: dict[ConflictPolicy, QPushButton] = {}
        row = QHBoxLayout()
        for policy, text, tip in _ACTIONS:
            if policy is ConflictPolicy.RESUME and not conflict.can_resume:
                continue
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setAutoDefault(False)
            button.clicked.connect(lambda _=False, p=policy: self.choose(p))
            self.buttons[policy] = button
            row.addWidget(button)
        self.buttons[ConflictPolicy.SKIP].setDefault(True)
        layout.addLayout(row)
        self.finished.connect(self._finished)

    def _sides(self, conflict: Conflict) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        for column, (heading, entry, where) in enumerate(
                (("Source", conflict.source, conflict.source_label),
                 ("Destination", conflict.destination, conflict.destination_label)), start=1):
            header = QLabel(f"<b>{heading}</b>")
            header.setTextFormat(Qt.TextFormat.RichText)
            grid.addWidget(header, 0, column)
            size, size_tip = _size(entry)
            modified, modified_tip = _modified(entry)
            values = ((entry.name, where), (size, size_tip), (modified, modified_tip))
            for line, (text, tip) in enumerate(values, start=1):
                label = QLabel(text)
                label.setToolTip(tip)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                label.setObjectName(f"{heading.lower()}_{('name', 'size', 'modified')[line - 1]}")
                grid.addWidget(label, line, column)
        for line, text in enumerate(("Name", "Size", "Modified"), start=1):
            grid.addWidget(QLabel(text), line, 0)
        return grid

    def choose(self, policy: ConflictPolicy) -> None:
        """Answer with ``policy`` (and the "apply to all" box) and close."""
        self._answer = ConflictAnswer(policy, self.apply_to_all.isChecked())
        self.accept()

    def answer(self) -> ConflictAnswer:
        return self._answer

    def _finished(self, result: int) -> None:
        if result != QDialog.DialogCode.Accepted:
            self._answer = ConflictAnswer(ConflictPolicy.SKIP, self.apply_to_all.isChecked())
        self.answered.emit(self._answer)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ConflictPrompt(QObject):
    """A :data:`~orbit_gui.engine.transfer.ConflictResolver` that asks with a dialog.

    Pass it as ``TransferQueue(resolver=prompt)`` (or let a TransferPanel install
    it). ``window`` is the dialog's parent, settable once the main window exists.
    """

    dialog_opened = Signal(object)
    """The :class:`ConflictDialog` just shown."""

    def __init__(self, window: QWidget | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.dialog: ConflictDialog | None = None
        """The dialog waiting for an answer, if any."""

    async def __call__(self, conflict: Conflict) -> ConflictAnswer:
        future: asyncio.Future[ConflictAnswer] = asyncio.get_running_loop().create_future()
        dialog = ConflictDialog(conflict, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(answer: object) -> None:
            if not future.done():
                assert isinstance(answer, ConflictAnswer)
                future.set_result(answer)

        dialog.answered.connect(answered)
        self.dialog = dialog
        dialog.open()
        self.dialog_opened.emit(dialog)
        try:
            return await future
        finally:
            self.dialog = None
            if not future.done():  # the transfer was paused or cancelled meanwhile
                dialog.answered.disconnect(answered)
                dialog.reject()
