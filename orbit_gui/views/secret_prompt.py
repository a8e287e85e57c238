"""Asking for a profile's secret when none is stored (or the stored one was refused).

With ``store`` given, the answer is kept as the user chose: in the keyring
("Remember" checked, also saved as the profile's remember choice) or not at
all. Keyring calls here are single quick D-Bus round trips on the UI thread.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..engine import Profile
from ..engine.profiles import ProfileStore
from ..models.profile_model import describe_location
from ..models.profile_secrets import REMEMBER_OPTION, remembers_secret, secret_label
from .async_dialog import run_dialog

__all__ = ["SESSION_ONLY_NOTICE", "SecretPrompt", "ask_secret", "ask_secret_async"]

SESSION_ONLY_NOTICE = ("No keyring is available on this computer: passwords and keys are "
                       "kept for this session only and asked for again next time.")


class SecretPrompt(QDialog):
    """A password field and a Remember checkbox for one profile."""

    def __init__(self, profile: Profile, *, keyring_available: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        label = secret_label(profile) or "Password"
        self.setWindowTitle(f"{label} for {profile.name}")
        self.setMinimumWidth(420)
        intro = QLabel(f"Enter the {label.lower()} for <b>{profile.name}</b> "
                       f"({describe_location(profile)}).")
        intro.setWordWrap(True)
        self.secret_edit = QLineEdit()
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember_box = QCheckBox("Remember in the keyring")
        self.remember_box.setChecked(keyring_available and remembers_secret(profile))
        self.remember_box.setEnabled(keyring_available)
        self.notice_label = QLabel(SESSION_ONLY_NOTICE)
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(not keyring_available)
        form = QFormLayout()
        form.addRow(f"{label}:", self.secret_edit)
        form.addRow("", self.remember_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Connect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.notice_label)
        layout.addWidget(buttons)

    def answer(self, store: ProfileStore | None) -> str | None:
        """The secret if the dialog was accepted (kept as chosen when ``store`` is given)."""
        if self.result() != QDialog.DialogCode.Accepted:
            return None
        secret = self.secret_edit.text()
        if store is not None:
            remember = self.remember_box.isChecked()
            if remember:
                store.secrets.set(self.profile.name, secret)
            if remember != remembers_secret(self.profile):
                if not remember:
                    store.secrets.delete(self.profile.name)
                options = {**self.profile.options, REMEMBER_OPTION: remember}
                store.save(dataclasses.replace(self.profile, options=options))
        return secret


def _prompt(parent: QWidget | None, profile: Profile, store: ProfileStore | None) -> SecretPrompt:
    available = store.secrets.persistent if store is not None else True
    return SecretPrompt(profile, keyring_available=available, parent=parent)


def ask_secret(parent: QWidget | None, profile: Profile, *,
               store: ProfileStore | None = None) -> str | None:
    """Modal prompt (nested event loop: not from inside a coroutine); None if cancelled."""
    dialog = _prompt(parent, profile, store)
    try:
        dialog.exec()
        return dialog.answer(store)
    finally:
        dialog.deleteLater()


async def ask_secret_async(parent: QWidget | None, profile: Profile, *,
                           store: ProfileStore | None = None) -> str | None:
    """The same prompt, awaited (for coroutines on the qasync loop)."""
    dialog = _prompt(parent, profile, store)
    try:
        await run_dialog(dialog)
        return dialog.answer(store)
    finally:
        dialog.deleteLater()
