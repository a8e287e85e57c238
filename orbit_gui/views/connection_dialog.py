"""The connection manager: saved profiles on the left, the selected one's form on the right.

Profiles are saved through the :class:`ProfileStore` (a JSON file without
secrets); the secret goes to the keyring only, and only when "Remember" is
checked. Saving and deleting make one quick keyring call on the UI thread;
the Test button reads the keyring in a worker thread and connects on the
event loop (it needs the qasync loop), with the host-key prompts in the way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..engine import InvalidPath, OrbitError, Profile
from ..engine.profiles import ProfileStore
from ..models.profile_model import KIND_LABELS, ProfileListModel, describe_location, kind_icon
from ..models.profile_secrets import REMEMBER_OPTION, needs_secret, remembers_secret, secret_label
from .error_text import sentence
from .hostkey_dialog import open_with_host_key_prompt
from .profile_forms import FORM_CLASSES, KindForm, ValidatedForm
from .secret_prompt import SESSION_ONLY_NOTICE

__all__ = ["ConnectionDialog"]

log = logging.getLogger(__name__)

_LIST_LIMIT = 1000
"""The Test lists at most this many entries of the start folder."""


class ConnectionDialog(QDialog):
    """Add, edit, duplicate, delete and test saved connections.

    ``profiles_changed`` fires after every save or delete (reload the selector).
    """

    profiles_changed = Signal()
    test_finished = Signal(bool, str)
    """(succeeded, the sentence shown) after each connection test."""

    def __init__(self, store: ProfileStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.model = ProfileListModel(store, self)
        self._editing: str | None = None
        """The saved name of the profile in the form; None for a new one."""
        self._secret_from: str | None = None
        """Whose stored secret the form stands for while its secret field is empty."""
        self._test_task: asyncio.Task[bool] | None = None
        self.confirm_box: QMessageBox | None = None
        self.setWindowTitle("Connections")
        self.setMinimumSize(860, 560)
        self._build()
        if self.model.rowCount():
            self.select(self.model.profile(0).name)
        else:
            self.new_profile()
        self._refresh_notice()

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.list_view = QListView()
        self.list_view.setModel(self.model)
        self.list_view.setIconSize(QSize(24, 24))
        self.list_view.setUniformItemSizes(True)
        self.list_view.setSpacing(2)
        self.list_view.selectionModel().currentChanged.connect(self._row_chosen)
        self.add_button = QPushButton("&New")
        self.duplicate_button = QPushButton("D&uplicate")
        self.delete_button = QPushButton("&Delete")
        self.add_button.clicked.connect(self.new_profile)
        self.duplicate_button.clicked.connect(self.duplicate_profile)
        self.delete_button.clicked.connect(self.confirm_delete)
        list_buttons = QHBoxLayout()
        for button in (self.add_button, self.duplicate_button, self.delete_button):
            list_buttons.addWidget(button)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Saved connections</b>"))
        left.addWidget(self.list_view, 1)
        left.addLayout(list_buttons)
        self.load_error_label = QLabel(self.model.load_error or "")
        self.load_error_label.setWordWrap(True)
        self.load_error_label.setVisible(bool(self.model.load_error))
        left.addWidget(self.load_error_label)

        self.heading = QLabel()
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.heading.setFont(font)
        self.header_form = ValidatedForm()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Production bucket")
        self.kind_combo = QComboBox()
        for kind in FORM_CLASSES:
            self.kind_combo.addItem(kind_icon(kind), KIND_LABELS[kind], kind)
        self.header_form.add_field("Name:", self.name_edit)
        self.header_form.add_field("Type:", self.kind_combo)
        self.forms: dict[str, KindForm] = {}
        self.stack = QStackedWidget()
        for kind, form_class in FORM_CLASSES.items():
            form = form_class()
            form.changed.connect(self._form_edited)
            self.forms[kind] = form
            self.stack.addWidget(form)
        self.kind_combo.currentIndexChanged.connect(self._kind_chosen)
        self.name_edit.textChanged.connect(self._form_edited)

        self.secret_form = ValidatedForm()
        self.secret_edit = QLineEdit()
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.textChanged.connect(self._form_edited)
        self.remember_box = QCheckBox("Remember in the system keyring")
        self.secret_form.add_field("Password:", self.secret_edit)
        self.secret_form.add_field("", self.remember_box)
        self.keyring_notice = QLabel(SESSION_ONLY_NOTICE)
        self.keyring_notice.setWordWrap(True)
        self.keyring_notice.setFrameShape(QFrame.Shape.StyledPanel)
        self.keyring_notice.setContentsMargins(8, 6, 8, 6)

        self.test_button = QPushButton("&Test connection")
        self.test_button.clicked.connect(self.start_test)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.status_label, 1)

        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.header_form)
        right.addWidget(_rule())
        right.addWidget(self.stack)
        right.addWidget(_rule())
        right.addWidget(self.secret_form)
        right.addWidget(self.keyring_notice)
        right.addStretch(1)
        right.addLayout(test_row)

        left_box, right_box = QWidget(), QWidget()
        left_box.setLayout(left)
        left_box.setFixedWidth(270)
        right_box.setLayout(right)
        body = QHBoxLayout()
        body.addWidget(left_box)
        body.addWidget(_rule(vertical=True))
        body.addWidget(right_box, 1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Close)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.clicked.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

    # -- what the form shows -------------------------------------------------------------------

    @property
    def form(self) -> KindForm:
        return self.forms[str(self.kind_combo.currentData())]

    def select(self, name: str) -> None:
        """Show the saved profile ``name`` in the form."""
        row = self.model.row_of(name)
        if row < 0:
            return
        self.list_view.selectionModel().setCurrentIndex(
            self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._load(self.model.profile(row), editing=name, secret_from=name)

    def _row_chosen(self) -> None:
        index = self.list_view.currentIndex()
        if index.isValid() and self.model.profile(index.row()).name != self._editing:
            profile = self.model.profile(index.row())
            self._load(profile, editing=profile.name, secret_from=profile.name)

    def new_profile(self) -> None:
        self.list_view.clearSelection()
        self.list_view.selectionModel().clearCurrentIndex()
        kind = str(self.kind_combo.currentData() or "s3")
        for form in self.forms.values():
            form.load(Profile("new", form.kind))
        self._load(Profile("", kind), editing=None, secret_from=None)
        self.name_edit.setFocus()

    def duplicate_profile(self) -> None:
        if self._editing is None:
            return
        source = self.model.profile(self.model.row_of(self._editing))
        names = {p.name for p in self.model.profiles()}
        name = next(n for n in (f"{source.name} copy{'' if i == 1 else f' {i}'}"
                                for i in range(1, 1000)) if n not in names)
        self.list_view.selectionModel().clearCurrentIndex()
        self._load(dataclasses.replace(source, name=name), editing=None,
                   secret_from=source.name)

    def _load(self, profile: Profile, *, editing: str | None, secret_from: str | None) -> None:
        self._editing, self._secret_from = editing, secret_from
        self.name_edit.setText(profile.name)
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(profile.kind)))
        self.forms[profile.kind].load(profile)
        self.secret_edit.clear()
        self.remember_box.setChecked(remembers_secret(profile))
        for form in (self.header_form, self.secret_form, *self.forms.values()):
            form.show_errors({})
        self._update_secret_row()
        self.duplicate_button.setEnabled(editing is not None)
        self.delete_button.setEnabled(editing is not None)
        self.heading.setText(profile.name if editing else
                             f"New copy of {secret_from}" if secret_from else "New connection")
        self._set_status("")

    def _kind_chosen(self) -> None:
        self.stack.setCurrentWidget(self.form)
        self._update_secret_row()

    def _form_edited(self) -> None:
        self._update_secret_row()
        self._set_status("")

    def _draft(self) -> Profile:
        """The profile the form describes (valid or not)."""
        options: dict[str, Any] = {REMEMBER_OPTION: self.remember_box.isChecked()}
        return self.form.build(self.name_edit.text().strip(), options)

    def _update_secret_row(self) -> None:
        label = secret_label(self._draft())
        self.secret_form.setVisible(label is not None)
        if label is None:
            return
        self.secret_form.set_field_label(self.secret_edit, f"{label}:")
        stored = self._secret_from is not None and self.remember_box.isChecked()
        self.secret_edit.setPlaceholderText(
            "unchanged (stored in the keyring)" if stored else
            "optional" if not needs_secret(self._draft()) else "")

    def _refresh_notice(self) -> None:
        persistent = self.store.secrets.persistent
        self.keyring_notice.setVisible(not persistent)
        self.remember_box.setEnabled(persistent)

    def _set_status(self, text: str, ok: bool | None = None) -> None:
        color = {True: "#2e7d32", False: "#c62828", None: ""}[ok]
        self.status_label.setStyleSheet(f"color: {color};" if color else "")
        self.status_label.setText(text)

    # -- validation and saving -----------------------------------------------------------------

    def validate(self) -> Profile | None:
        """The profile if the form is valid; else None, with each problem shown inline."""
        name = self.name_edit.text().strip()
        name_error = ""
        if not name:
            name_error = "Enter a name for this connection."
        elif name != self._editing and self.model.row_of(name) >= 0:
            name_error = f"A connection named {name} already exists: choose another name."
        self.header_form.show_errors({self.name_edit: name_error} if name_error else {})
        form_errors = self.form.validate()
        self.form.show_errors(form_errors)
        if name_error or form_errors:
            self._set_status("Correct the fields marked in red.", ok=False)
            return None
        return self._draft()

    def save(self) -> bool:
        """Validate and save the form's profile (and its secret, as chosen); True if saved."""
        profile = self.validate()
        if profile is None:
            return False
        secrets = self.store.secrets
        # Without a keyring the secret is still kept, for this session.
        keep = self.remember_box.isChecked() or not secrets.persistent
        secret = self.secret_edit.text() or None
        if (secret is None and keep and self._secret_from is not None
                and self._secret_from != profile.name):
            secret = secrets.get(self._secret_from)  # renamed or duplicated: carry it over
        try:
            self.store.save(profile, secret if keep else None)
        except InvalidPath as exc:  # the store's own check of the name
            self.header_form.show_errors({self.name_edit: sentence(exc.message)})
            self._set_status("Correct the fields marked in red.", ok=False)
            return False
        except OrbitError as exc:
            self._set_status(sentence(exc.message), ok=False)
            return False
        if not keep:
            secrets.delete(profile.name)
        if self._editing is not None and self._editing != profile.name:
            self.store.remove(self._editing)
        self.model.reload()
        self.select(profile.name)
        self._refresh_notice()
        self._set_status("Saved." if secrets.persistent or secret is None else
                         "Saved; the secret is kept for this session only.", ok=True)
        self.profiles_changed.emit()
        return True

    # -- deleting ---------------------------------------------------------------------------

    def confirm_delete(self) -> None:
        """Ask (without a nested event loop) and delete the selected profile on Yes."""
        name = self._editing
        if name is None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete connection",
                          f"Delete the connection {name}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setInformativeText("Its saved password is removed from the keyring too. "
                               "Files on the server are not touched.")
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._delete_answered(name, result))
        self.confirm_box = box
        box.open()

    def _delete_answered(self, name: str, result: int) -> None:
        assert self.confirm_box is not None
        self.confirm_box.deleteLater()
        self.confirm_box = None
        if result != QMessageBox.StandardButton.Yes:
            return
        row = self.model.row_of(name)
        try:
            self.store.remove(name)
        except OrbitError as exc:
            self._set_status(sentence(exc.message), ok=False)
            return
        self.model.reload()
        self.profiles_changed.emit()
        if self.model.rowCount():
            self.select(self.model.profile(min(row, self.model.rowCount() - 1)).name)
        else:
            self.new_profile()
        self._set_status(f"Deleted {name}.", ok=True)

    # -- testing ---------------------------------------------------------------------------

    def start_test(self) -> None:
        """The Test button: run :meth:`test_connection` on the event loop."""
        if self._test_task is None or self._test_task.done():
            self._test_task = asyncio.get_event_loop().create_task(self.test_connection())

    async def test_connection(self) -> bool:
        """Connect with the form's profile, stat and list its start folder, disconnect."""
        profile = self.validate()
        if profile is None:
            return False
        secret = self.secret_edit.text() or None
        if secret is None and self._secret_from is not None:
            secret = await asyncio.to_thread(self.store.secrets.get, self._secret_from)
        if secret is None and needs_secret(profile):
            label = secret_label(profile) or "secret"
            self.secret_form.show_errors(
                {self.secret_edit: f"Enter the {label.lower()} to test the connection."})
            return False
        self.test_button.setEnabled(False)
        self._set_status(f"Connecting to {describe_location(profile)}…")
        try:
            count = await self._probe(profile, secret)
        except OrbitError as exc:
            ok, text = False, sentence(exc.message)
        except Exception as exc:  # a bug, not a connection problem: keep the details
            log.exception("testing the connection %s failed", profile.name)
            ok, text = False, sentence(f"the test failed unexpectedly: {exc}")
        else:
            many = f"{_LIST_LIMIT:,} or more" if count >= _LIST_LIMIT else f"{count:,}"
            ok, text = True, (f"Connected to {describe_location(profile)}: {profile.root} "
                              f"has {many} {'entry' if count == 1 else 'entries'}.")
        finally:
            self.test_button.setEnabled(True)
        self._set_status(text, ok=ok)
        self.test_finished.emit(ok, text)
        return ok

    async def _probe(self, profile: Profile, secret: str | None) -> int:
        backend = await open_with_host_key_prompt(self, profile, secret)
        try:
            await backend.stat(profile.root)
            count = 0
            listing = backend.list(profile.root)
            try:
                async for _entry in listing:
                    count += 1
                    if count >= _LIST_LIMIT:
                        break
            finally:
                aclose = getattr(listing, "aclose", None)
                if aclose is not None:
                    await aclose()
            return count
        finally:
            await backend.aclose()

    # -- closing ---------------------------------------------------------------------------

    def done(self, result: int) -> None:
        if self._test_task is not None and not self._test_task.done():
            self._test_task.cancel()
        super().done(result)


def _rule(vertical: bool = False) -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine if vertical else QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
