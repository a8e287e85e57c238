"""The small dialogs of the browser: name a folder, confirm a delete, show
properties, make a link. They only ask and show; the window acts."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..engine import Entry, InvalidPath
from ..engine.paths import check_name
from ..models.formatting import exact_bytes, human_size, iso_time

__all__ = ["LINK_EXPIRIES", "NameDialog", "confirm_delete", "link_dialog", "properties_dialog"]

LINK_EXPIRIES = (("1 hour", 3600), ("1 day", 86400), ("7 days", 7 * 86400))
"""Choices for a file link's lifetime (S3 allows at most 7 days)."""


class NameDialog(QDialog):
    """Asks for a file or folder name; OK stays disabled while the name is unusable."""

    def __init__(self, title: str, label: str, text: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.edit = QLineEdit(text, self)
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #c62828;")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(label, self))
        layout.addWidget(self.edit)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        stem = text.rfind(".")
        self.edit.setSelection(0, stem if stem > 0 else len(text))
        self._check()
        self.resize(420, self.sizeHint().height())

    def name(self) -> str:
        return self.edit.text().strip()

    def _check(self) -> None:
        problem = ""
        if self.name():
            try:
                check_name(self.name())
            except InvalidPath as exc:
                problem = exc.message
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.name()) and not problem)


def confirm_delete(parent: QWidget, where: str, entries: Sequence[Entry]) -> QMessageBox:
    """A question listing what will be deleted; open() it and act on Yes."""
    folders = sum(1 for e in entries if e.is_dir)
    what = f"{len(entries)} item{'s' if len(entries) != 1 else ''}"
    box = QMessageBox(QMessageBox.Icon.Warning, "Delete",
                      f"Delete {what} from {where}? This cannot be undone.",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    lines = [f"{e.name}/  (folder and everything in it)" if e.is_dir else
             f"{e.name}  ({human_size(e.size) if e.size is not None else 'size unknown'})"
             for e in entries]
    box.setInformativeText("\n".join(lines[:12]) + (f"\n… and {len(lines) - 12} more"
                                                    if len(lines) > 12 else ""))
    if folders:
        box.setDetailedText("\n".join(lines))
    box.button(QMessageBox.StandardButton.Yes).setText("Delete")
    return box


def properties_dialog(parent: QWidget, entry: Entry, kind: str) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Properties of {entry.name}")
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

    def row(label: str, value: str) -> None:
        field = QLabel(value, dialog)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        field.setWordWrap(True)
        form.addRow(label, field)

    row("Name:", entry.name)
    row("Path:", entry.path)
    row("Kind:", kind)
    if entry.size is not None and not entry.is_dir:
        row("Size:", f"{human_size(entry.size)} ({exact_bytes(entry.size)})")
    if entry.mtime is not None:
        row("Modified:", iso_time(entry.mtime))
    if entry.etag:
        row("ETag:", entry.etag)
    if entry.content_type:
        row("Content type:", entry.content_type)
    for key, value in sorted(entry.extra.items()):
        row(f"{key.replace('_', ' ').capitalize()}:", str(value))
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addLayout(form)
    layout.addWidget(buttons)
    dialog.resize(520, dialog.sizeHint().height())
    return dialog


def link_dialog(parent: QWidget, entry: Entry) -> tuple[QDialog, QComboBox, QLineEdit]:
    """Choose how long a link lives; the window fills in the URL once it is made."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Link to {entry.name}")
    expiry = QComboBox(dialog)
    for label, seconds in LINK_EXPIRIES:
        expiry.addItem(label, seconds)
    url = QLineEdit(dialog)
    url.setReadOnly(True)
    url.setPlaceholderText("Making the link…")
    copy = QPushButton("Copy", dialog)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(url.text()))
    form = QFormLayout()
    form.addRow("Valid for:", expiry)
    form.addRow("Link:", url)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(QLabel("Anyone with this link can download the file until it expires.",
                            dialog))
    layout.addLayout(form)
    layout.addWidget(buttons)
    dialog.resize(640, dialog.sizeHint().height())
    return dialog, expiry, url
