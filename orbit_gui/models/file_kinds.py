"""Kind names ("JPEG image") and icons for entries, from the MIME database."""

from __future__ import annotations

import posixpath

from PySide6.QtCore import QMimeDatabase, QMimeType
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFileIconProvider

__all__ = ["FileKinds"]

_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", ""})
"""Content types that say nothing (S3's default): the file name tells more."""


class FileKinds:
    """Looks up and caches a kind name and icon per MIME type.

    Needs a QApplication (icons come from the style and the icon theme).
    """

    def __init__(self) -> None:
        self._db = QMimeDatabase()
        provider = QFileIconProvider()
        self._folder = ("Folder", provider.icon(QFileIconProvider.IconType.Folder))
        self._file_icon = provider.icon(QFileIconProvider.IconType.File)
        self._by_key: dict[str, tuple[str, QIcon]] = {}

    def kind(self, name: str, is_dir: bool, content_type: str | None = None) -> str:
        """A kind name for an entry ("Folder", "PNG image", "File")."""
        return self._lookup(name, is_dir, content_type)[0]

    def icon(self, name: str, is_dir: bool, content_type: str | None = None) -> QIcon:
        return self._lookup(name, is_dir, content_type)[1]

    def _lookup(self, name: str, is_dir: bool, content_type: str | None) -> tuple[str, QIcon]:
        if is_dir:
            return self._folder
        content_type = (content_type or "").lower()
        if content_type in _GENERIC_TYPES:
            key = "." + posixpath.splitext(name)[1].lower()
        else:
            key = content_type
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = self._describe(self._mime_type(key))
        return found

    def _mime_type(self, key: str) -> QMimeType:
        if key.startswith("."):
            return self._db.mimeTypeForFile("x" + key, QMimeDatabase.MatchMode.MatchExtension)
        return self._db.mimeTypeForName(key)

    def _describe(self, mime: QMimeType) -> tuple[str, QIcon]:
        if not mime.isValid() or mime.isDefault():
            return "File", self._file_icon
        comment = mime.comment() or mime.name()
        fallback = QIcon.fromTheme(mime.genericIconName(), self._file_icon)
        return comment[:1].upper() + comment[1:], QIcon.fromTheme(mime.iconName(), fallback)
