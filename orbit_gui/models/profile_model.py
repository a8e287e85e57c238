"""Saved connection profiles as a Qt list model (connection selector, connection manager).

The list is read from the :class:`ProfileStore` file only (never the keyring),
so building and reloading the model never blocks on D-Bus.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from ..engine import OrbitError, Profile
from ..engine.profiles import ProfileStore

__all__ = ["KIND_LABELS", "PROFILE_ROLE", "ProfileListModel", "describe_location", "kind_icon"]

PROFILE_ROLE = Qt.ItemDataRole.UserRole + 1
"""data(index, PROFILE_ROLE) is the row's :class:`Profile`."""

KIND_LABELS = {"s3": "S3", "sftp": "SFTP", "smb": "SMB", "local": "Local"}
"""Profile kind -> how the UI names it."""

_BADGES = {"s3": ("S3", "#d9822b"), "sftp": ("SSH", "#2b7bb9"), "smb": ("SMB", "#7a4fb5"),
           "local": ("⌂", "#4a8a4a")}

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


@cache
def kind_icon(kind: str) -> QIcon:
    """A coloured badge per kind (painted: icon themes differ and may lack them)."""
    text, color = _BADGES.get(kind, ("?", "#777777"))
    icon = QIcon()
    for size in (16, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(QColor(0, 0, 0, 0))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(0, 0, size, size, size * 0.22, size * 0.22)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, int(size * (0.62 if len(text) == 1 else 0.36))))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
        icon.addPixmap(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # not the dimmed default
    return icon


def describe_location(profile: Profile) -> str:
    """Where a profile connects to, in one line: endpoint, user@host:port, or folder."""
    options = profile.options
    if profile.kind == "s3":
        endpoint = options.get("endpoint_url") or (
            f"https://{profile.host}" if profile.host else "Amazon S3")
        region = options.get("region")
        return f"{endpoint} ({region})" if region else str(endpoint)
    if profile.kind == "local":
        return profile.root
    where = profile.host + (f":{profile.port}" if profile.port else "")
    who = f"{profile.user}@" if profile.user else ""
    share = options.get("share")
    return f"{who}{where}" + (f"/{share}" if profile.kind == "smb" and share else "")


class ProfileListModel(QAbstractListModel):
    """One row per saved profile, sorted as the store keeps them (by name)."""

    def __init__(self, store: ProfileStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._profiles: list[Profile] = []
        self.load_error: str | None = None
        """Why the profiles file could not be read at the last reload, else None."""
        self.reload()

    def reload(self) -> None:
        """Read the profiles file again (after the connection manager changed it)."""
        try:
            profiles = self.store.load()
            self.load_error = None
        except OrbitError as exc:
            profiles, self.load_error = [], exc.message
        self.beginResetModel()
        self._profiles = profiles
        self.endResetModel()

    def profiles(self) -> list[Profile]:
        return list(self._profiles)

    def profile(self, row: int) -> Profile:
        return self._profiles[row]

    def row_of(self, name: str) -> int:
        """The row of the profile called ``name``, or -1."""
        return next((row for row, p in enumerate(self._profiles) if p.name == name), -1)

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._profiles)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._profiles):
            return None
        profile = self._profiles[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{profile.name} ({KIND_LABELS.get(profile.kind, profile.kind)})"
        if role == Qt.ItemDataRole.DecorationRole:
            return kind_icon(profile.kind)
        if role == Qt.ItemDataRole.ToolTipRole:
            return describe_location(profile)
        if role == PROFILE_ROLE:
            return profile
        return None
