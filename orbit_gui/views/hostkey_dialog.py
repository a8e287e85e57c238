"""SSH host keys: the prompt for an unknown key, the refusal for a changed one.

:func:`open_with_host_key_prompt` is the flow a caller needs: it opens a
backend and, on an unknown SFTP host key, asks the user, trusts the key as
answered (once or always, through the engine) and connects again. A changed
key is never accepted: the refusal is shown and the error raised.
"""

from __future__ import annotations

import asyncio
import enum

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ..engine import Backend, Cancelled, HostKeyChanged, HostKeyError, HostKeyUnknown, Profile
from ..engine import open_backend as engine_open_backend
from ..engine.backends.sftp import trust_host_key
from .async_dialog import run_dialog
from .error_text import sentence

__all__ = [
    "HostKeyChangedDialog",
    "HostKeyChoice",
    "HostKeyDialog",
    "ask_host_key",
    "open_with_host_key_prompt",
    "show_host_key_changed",
]


class HostKeyChoice(enum.Enum):
    CANCEL = "cancel"
    ONCE = "once"
    """Trust the key until the app quits; record it nowhere."""
    ALWAYS = "always"
    """Record the key in the app's known_hosts file."""


def _key_type(error: HostKeyError) -> str:
    public_key = getattr(error, "public_key", "")
    return public_key.split()[0] if public_key else "unknown"


def _where(error: HostKeyError) -> str:
    port = getattr(error, "port", None)
    return f"{error.host}:{port}" if port and f":{port}" not in str(error.host) else str(error.host)


class _HostKeyBase(QDialog):
    """Icon and heading on the left and top, the key's facts in a form."""

    def __init__(self, error: HostKeyError, icon: QStyle.StandardPixmap, heading: str,
                 text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.error = error
        self.setMinimumWidth(520)
        icon_label = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon_label.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        self.heading_label = QLabel(f"<b>{heading}</b>")
        self.text_label = QLabel(text)
        self.text_label.setWordWrap(True)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.host_label = QLabel(_where(error))
        self.key_type_label = QLabel(_key_type(error))
        self.fingerprint_label = QLabel(error.fingerprint)
        self.fingerprint_label.setFont(mono)
        for label in (self.host_label, self.key_type_label, self.fingerprint_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts = QFormLayout()
        self.facts.addRow("Host:", self.host_label)
        self.facts.addRow("Key type:", self.key_type_label)
        self.facts.addRow("SHA-256 fingerprint:", self.fingerprint_label)
        self.buttons = QDialogButtonBox()
        body = QVBoxLayout()
        body.addWidget(self.heading_label)
        body.addWidget(self.text_label)
        body.addLayout(self.facts)
        top = QHBoxLayout()
        top.addWidget(icon_label, 0)
        top.addLayout(body, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.buttons)


class HostKeyDialog(_HostKeyBase):
    """Unknown host key: Accept once / Accept always / Cancel; the answer is ``choice``."""

    def __init__(self, error: HostKeyUnknown, parent: QWidget | None = None) -> None:
        super().__init__(
            error, QStyle.StandardPixmap.SP_MessageBoxQuestion,
            f"The server {_where(error)} is not known yet",
            "Its host key has not been seen before, so Orbit cannot tell whether this is "
            "really the server you mean. Compare the fingerprint below with the one its "
            "administrator gives you before accepting it.", parent)
        self.setWindowTitle("Unknown host key")
        self.choice = HostKeyChoice.CANCEL
        self.once_button = QPushButton("Accept &once")
        self.always_button = QPushButton("Accept &always")
        self.always_button.setToolTip("Remember this key in Orbit's known_hosts file")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.once_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.always_button, QDialogButtonBox.ButtonRole.AcceptRole)
        for button in (self.once_button, self.always_button):
            button.setAutoDefault(False)
        self.once_button.clicked.connect(lambda: self._choose(HostKeyChoice.ONCE))
        self.always_button.clicked.connect(lambda: self._choose(HostKeyChoice.ALWAYS))
        self.buttons.rejected.connect(self.reject)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)  # the button box makes an accept button the default here
        self.cancel_button.setDefault(True)  # Enter must not trust a key by accident

    def _choose(self, choice: HostKeyChoice) -> None:
        self.choice = choice
        self.accept()


class HostKeyChangedDialog(_HostKeyBase):
    """Changed or revoked host key: a warning and a Close button, nothing to accept."""

    def __init__(self, error: HostKeyChanged, parent: QWidget | None = None) -> None:
        recorded = ", ".join(getattr(error, "recorded_in", ()))
        super().__init__(
            error, QStyle.StandardPixmap.SP_MessageBoxCritical,
            f"Warning: the host key of {_where(error)} has changed",
            sentence(error.message) + (f"\n\nThe old key is recorded in {recorded}."
                                       if recorded else ""), parent)
        self.setWindowTitle("Host key changed — connection refused")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)


async def ask_host_key(parent: QWidget | None, profile: Profile,
                       error: HostKeyUnknown) -> HostKeyChoice:
    """Ask about an unknown key and trust it as answered (once, or recorded always)."""
    dialog = HostKeyDialog(error, parent)
    try:
        await run_dialog(dialog)
        choice = dialog.choice
    finally:
        dialog.deleteLater()
    if choice is not HostKeyChoice.CANCEL:
        await asyncio.to_thread(trust_host_key, profile, error,
                                always=choice is HostKeyChoice.ALWAYS)
    return choice


async def show_host_key_changed(parent: QWidget | None, error: HostKeyChanged) -> None:
    dialog = HostKeyChangedDialog(error, parent)
    try:
        await run_dialog(dialog)
    finally:
        dialog.deleteLater()


async def open_with_host_key_prompt(parent: QWidget | None, profile: Profile,
                                    secret: str | None) -> Backend:
    """``open_backend`` with the host-key dialogs in the way.

    Raises Cancelled when the user declined an unknown key, the HostKeyChanged
    (after showing the refusal) for a changed one, and any other OrbitError as is.
    """
    try:
        return await engine_open_backend(profile, secret)
    except HostKeyUnknown as exc:
        choice = await ask_host_key(parent, profile, exc)
        if choice is HostKeyChoice.CANCEL:
            raise Cancelled(f"the host key of {_where(exc)} was not accepted, so Orbit did "
                            "not connect", host=exc.host) from None
    except HostKeyChanged as exc:
        await show_host_key_changed(parent, exc)
        raise
    return await engine_open_backend(profile, secret)
