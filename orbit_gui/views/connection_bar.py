"""The remote pane's header: which saved connection, its state, connect or disconnect."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from ..engine import Profile
from ..models.profile_model import PROFILE_ROLE, ProfileListModel
from ..models.remote_session import ConnectionState, RemoteSession

__all__ = ["ConnectionBar"]

_DOT = {
    ConnectionState.DISCONNECTED: ("#9e9e9e", "not connected"),
    ConnectionState.CONNECTING: ("#f9a825", "connecting…"),
    ConnectionState.CONNECTED: ("#2e7d32", "connected"),
    ConnectionState.FAILED: ("#c62828", "error"),
}


class ConnectionBar(QWidget):
    """Forwards intent only: the window connects, disconnects and manages profiles."""

    connect_requested = Signal(object)
    """The :class:`Profile` chosen in the selector."""
    disconnect_requested = Signal()
    manage_requested = Signal()

    def __init__(self, profiles: ProfileListModel, session: RemoteSession,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.selector = QComboBox(self)
        self.selector.setModel(profiles)
        self.selector.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.selector.setMinimumContentsLength(16)
        self.selector.setToolTip("Saved connections")
        self.selector.setPlaceholderText("No saved connections")
        self.selector.activated.connect(self._on_activated)
        self.selector.currentIndexChanged.connect(self._update)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.clicked.connect(self._on_connect_clicked)
        self.state_label = QLabel(self)
        self.state_label.setTextFormat(Qt.TextFormat.RichText)
        self.state_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.manage_button = QToolButton(self)
        self.manage_button.setText("Manage…")
        self.manage_button.setToolTip("Add, edit or remove saved connections")
        self.manage_button.clicked.connect(self.manage_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.selector)
        layout.addWidget(self.connect_button)
        layout.addWidget(self.state_label, 1)
        layout.addWidget(self.manage_button)
        session.state_changed.connect(self._update)
        profiles.modelReset.connect(self._update)
        profiles.rowsInserted.connect(self._update)
        profiles.rowsRemoved.connect(self._update)
        self._update()

    def chosen(self) -> Profile | None:
        profile = self.selector.currentData(PROFILE_ROLE)
        return profile if isinstance(profile, Profile) else None

    def choose(self, name: str) -> None:
        for row in range(self.selector.count()):
            profile = self.selector.itemData(row, PROFILE_ROLE)
            if isinstance(profile, Profile) and profile.name == name:
                self.selector.setCurrentIndex(row)
                return

    def _on_activated(self, row: int) -> None:
        profile = self.chosen()
        if profile is not None and (self.session.ref != profile.name
                                    or self.session.state is not ConnectionState.CONNECTED):
            self.connect_requested.emit(profile)

    def _on_connect_clicked(self) -> None:
        state = self.session.state
        chosen = self.chosen()
        same = chosen is not None and chosen.name == self.session.ref
        if state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING) and same:
            self.disconnect_requested.emit()
        elif chosen is not None:
            self.connect_requested.emit(chosen)
        else:
            self.manage_requested.emit()

    def _update(self) -> None:
        session = self.session
        color, word = _DOT[session.state]
        name = session.ref or ""
        text = f"<b>{_escape(name)}</b> " if name else ""
        text += f"<span style='color:{color}'>●</span> {word}"
        self.state_label.setText(text)
        self.state_label.setToolTip(session.message or word)
        chosen = self.chosen()
        same = chosen is not None and chosen.name == session.ref
        if session.state is ConnectionState.FAILED and same:
            self.connect_button.setText("Reconnect")
        elif session.state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING) and same:
            self.connect_button.setText("Disconnect")
        elif self.selector.count() == 0:
            self.connect_button.setText("Add connection…")
        else:
            self.connect_button.setText("Connect")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
