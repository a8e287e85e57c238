"""The app's preferences and window layout, persisted with QSettings.

Values live in ``settings.ini`` in the config folder (so ORBIT_CONFIG_DIR moves
them too). Setters check their range and emit ``changed(key)`` only when the
value really changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QSettings, Signal
from PySide6.QtWidgets import QMainWindow, QSplitter, QWidget

from ..engine.locations import config_dir
from ..engine.transfer import ConflictPolicy, TransferOptions
from ..engine.transfer.request import DEFAULT_PART_SIZE, DEFAULT_WINDOW, MIN_PART_SIZE
from ..engine.transfer.scheduler import DEFAULT_CONCURRENCY

__all__ = ["LIMITS", "AppSettings", "Limit"]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limit:
    """The allowed range of an integer setting, and its default."""

    default: int
    minimum: int
    maximum: int

    def check(self, name: str, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer, not {value!r}")
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{name} must be between {self.minimum} and {self.maximum}")
        return value


LIMITS: dict[str, Limit] = {
    "concurrent_transfers": Limit(DEFAULT_CONCURRENCY, 1, 32),
    "parts_in_flight": Limit(DEFAULT_WINDOW, 1, 64),
    "part_size": Limit(DEFAULT_PART_SIZE, MIN_PART_SIZE, 5 * 1024 * MiB),
    "download_window": Limit(DEFAULT_WINDOW, 1, 64),
    "bandwidth_limit": Limit(0, 0, 1 << 40),
}
"""Integer settings: part_size in bytes, bandwidth_limit in bytes/s (0: unlimited)."""


class AppSettings(QObject):
    """Typed preferences over QSettings; ``changed`` carries the key that changed."""

    changed = Signal(str)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.qsettings = settings or QSettings(str(self.default_path()),
                                               QSettings.Format.IniFormat)

    @staticmethod
    def default_path() -> Path:
        return config_dir() / "settings.ini"

    # -- integers ------------------------------------------------------------------------

    def _int(self, key: str) -> int:
        limit = LIMITS[key]
        raw = self.qsettings.value(f"transfers/{key}", limit.default)
        try:
            value = int(raw)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return limit.default
        return value if limit.minimum <= value <= limit.maximum else limit.default

    def _set_int(self, key: str, value: int) -> None:
        LIMITS[key].check(key, value)
        if value != self._int(key):
            self.qsettings.setValue(f"transfers/{key}", value)
            self.changed.emit(key)

    @property
    def concurrent_transfers(self) -> int:
        """Files transferred at once across the queue."""
        return self._int("concurrent_transfers")

    @concurrent_transfers.setter
    def concurrent_transfers(self, value: int) -> None:
        self._set_int("concurrent_transfers", value)

    @property
    def parts_in_flight(self) -> int:
        """Upload parts of one file sent at once."""
        return self._int("parts_in_flight")

    @parts_in_flight.setter
    def parts_in_flight(self, value: int) -> None:
        self._set_int("parts_in_flight", value)

    @property
    def part_size(self) -> int:
        """Bytes per upload part and per download range."""
        return self._int("part_size")

    @part_size.setter
    def part_size(self, value: int) -> None:
        self._set_int("part_size", value)

    @property
    def download_window(self) -> int:
        """Ranges of one file downloaded at once."""
        return self._int("download_window")

    @download_window.setter
    def download_window(self, value: int) -> None:
        self._set_int("download_window", value)

    @property
    def bandwidth_limit(self) -> int:
        """Bytes per second for the whole queue; 0 is unlimited."""
        return self._int("bandwidth_limit")

    @bandwidth_limit.setter
    def bandwidth_limit(self, value: int) -> None:
        self._set_int("bandwidth_limit", value)

    @property
    def conflict_policy(self) -> ConflictPolicy:
        """What to do when a destination file exists (ASK shows the conflict dialog)."""
        raw = self.qsettings.value("transfers/conflict_policy", ConflictPolicy.ASK.value)
        try:
            return ConflictPolicy(str(raw))
        except ValueError:
            return ConflictPolicy.ASK

    @conflict_policy.setter
    def conflict_policy(self, value: ConflictPolicy) -> None:
        policy = ConflictPolicy(value)
        if policy != self.conflict_policy:
            self.qsettings.setValue("transfers/conflict_policy", policy.value)
            self.changed.emit("conflict_policy")

    def reset_transfers(self) -> None:
        """Every transfer setting back to its default."""
        for key, limit in LIMITS.items():
            self._set_int(key, limit.default)
        self.conflict_policy = ConflictPolicy.ASK

    def transfer_options(self, *, download: bool) -> TransferOptions:
        """Options for a new transfer: the download window or the parts in flight."""
        return TransferOptions(
            part_size=self.part_size,
            window=self.download_window if download else self.parts_in_flight,
            conflict=self.conflict_policy,
        )

    # -- window layout ---------------------------------------------------------------------

    def layout_state(self, key: str) -> bytes | None:
        """Saved bytes (geometry or splitter/window state) under ``key``, or None."""
        value = self.qsettings.value(f"layout/{key}")
        if isinstance(value, QByteArray) and not value.isEmpty():
            return bytes(value.data())
        return None

    def set_layout_state(self, key: str, state: bytes) -> None:
        self.qsettings.setValue(f"layout/{key}", QByteArray(state))

    def save_window(self, window: QWidget) -> None:
        """Save ``window``'s geometry, its dock/toolbar state (a QMainWindow) and the
        state of each of its named splitters."""
        name = window.objectName() or "main"
        self.set_layout_state(f"{name}/geometry", bytes(window.saveGeometry().data()))
        if isinstance(window, QMainWindow):
            self.set_layout_state(f"{name}/state", bytes(window.saveState().data()))
        for splitter in window.findChildren(QSplitter):
            if splitter.objectName():
                self.set_layout_state(f"{name}/{splitter.objectName()}",
                                      bytes(splitter.saveState().data()))
        self.qsettings.sync()

    def restore_window(self, window: QWidget) -> bool:
        """Restore what :meth:`save_window` saved; False if there was no saved geometry."""
        name = window.objectName() or "main"
        geometry = self.layout_state(f"{name}/geometry")
        if geometry is not None:
            window.restoreGeometry(QByteArray(geometry))
        state = self.layout_state(f"{name}/state")
        if state is not None and isinstance(window, QMainWindow):
            window.restoreState(QByteArray(state))
        for splitter in window.findChildren(QSplitter):
            saved = self.layout_state(f"{name}/{splitter.objectName()}")
            if splitter.objectName() and saved is not None:
                splitter.restoreState(QByteArray(saved))
        return geometry is not None
