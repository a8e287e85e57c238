"""Preferences: how many transfers and parts run at once, part size, bandwidth, conflicts."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..engine.transfer import ConflictPolicy, parse_rate
from ..models.formatting import human_size
from ..models.settings import LIMITS, AppSettings
from .profile_forms import ValidatedForm

__all__ = ["CONFLICT_LABELS", "SettingsDialog"]

MiB = 1024 * 1024

CONFLICT_LABELS = {
    ConflictPolicy.ASK: "Ask each time",
    ConflictPolicy.OVERWRITE: "Overwrite",
    ConflictPolicy.SKIP: "Skip",
    ConflictPolicy.RENAME: "Keep both (rename the new file)",
    ConflictPolicy.RESUME: "Resume a partial file",
    ConflictPolicy.NEWER: "Overwrite if the source is newer",
    ConflictPolicy.SIZE: "Overwrite if the sizes differ",
}


def _spin(key: str, scale: int = 1, suffix: str = "") -> QSpinBox:
    limit = LIMITS[key]
    box = QSpinBox()
    box.setRange(max(1, limit.minimum // scale), limit.maximum // scale)
    box.setSuffix(suffix)
    box.setAccelerated(True)
    return box


def _rate_text(rate: int) -> str:
    """Bytes per second as parse_rate reads them back: "", "10M", "512k" or "1234"."""
    if rate == 0:
        return ""
    if rate % MiB == 0:
        return f"{rate // MiB}M"
    return f"{rate // 1024}k" if rate % 1024 == 0 else str(rate)


class SettingsDialog(QDialog):
    """Edits an :class:`AppSettings`; OK validates and writes, Cancel leaves it alone."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        self.setMinimumWidth(480)
        self.concurrent_box = _spin("concurrent_transfers")
        self.parts_box = _spin("parts_in_flight")
        self.part_size_box = _spin("part_size", MiB, " MiB")
        self.window_box = _spin("download_window")
        self.bandwidth_edit = QLineEdit()
        self.bandwidth_edit.setPlaceholderText("unlimited")
        self.conflict_combo = QComboBox()
        for policy, label in CONFLICT_LABELS.items():
            self.conflict_combo.addItem(label, policy)
        self.memory_label = QLabel()
        self.memory_label.setEnabled(False)

        self.queue_form = ValidatedForm()
        self.queue_form.add_field("Transfers at once:", self.concurrent_box)
        self.queue_form.add_field("Bandwidth limit:", self.bandwidth_edit,
                                  "Bytes per second for all transfers, such as 500k or 10M; "
                                  "empty for no limit.")
        self.queue_form.add_field("When a file exists:", self.conflict_combo)
        self.parts_form = ValidatedForm()
        self.parts_form.add_field("Part size:", self.part_size_box)
        self.parts_form.add_field("Upload parts at once:", self.parts_box)
        self.parts_form.add_field("Download ranges at once:", self.window_box)
        self.parts_form.form.addRow("", self.memory_label)

        queue_group, parts_group = QGroupBox("Transfers"), QGroupBox("Large files")
        QVBoxLayout(queue_group).addWidget(self.queue_form)
        QVBoxLayout(parts_group).addWidget(self.parts_form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addWidget(queue_group)
        layout.addWidget(parts_group)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        for box in (self.concurrent_box, self.parts_box, self.part_size_box, self.window_box):
            box.valueChanged.connect(self._update_memory)
        self._show(settings.concurrent_transfers, settings.parts_in_flight, settings.part_size,
                   settings.download_window, settings.bandwidth_limit, settings.conflict_policy)

    def _show(self, concurrent: int, parts: int, part_size: int, window: int, rate: int,
              conflict: ConflictPolicy) -> None:
        self.concurrent_box.setValue(concurrent)
        self.parts_box.setValue(parts)
        self.part_size_box.setValue(part_size // MiB)
        self.window_box.setValue(window)
        self.bandwidth_edit.setText(_rate_text(rate))
        self.conflict_combo.setCurrentIndex(self.conflict_combo.findData(conflict))
        self._update_memory()

    def restore_defaults(self) -> None:
        """Show the defaults in the form (saved only on OK)."""
        default = {key: limit.default for key, limit in LIMITS.items()}
        self._show(default["concurrent_transfers"], default["parts_in_flight"],
                   default["part_size"], default["download_window"],
                   default["bandwidth_limit"], ConflictPolicy.ASK)

    def _update_memory(self) -> None:
        worst = (self.concurrent_box.value() * self.part_size_box.value() * MiB
                 * max(self.parts_box.value(), self.window_box.value()))
        self.memory_label.setText(f"Up to about {human_size(worst)} of buffers in use.")

    def validate(self) -> int | None:
        """The bandwidth limit in bytes per second (0: none), or None when it is invalid."""
        try:
            rate = parse_rate(self.bandwidth_edit.text() or "0")
        except ValueError:
            self.queue_form.show_errors({self.bandwidth_edit: (
                "Enter a rate such as 500k, 10M or 1.5G (bytes per second), "
                "or leave it empty for no limit.")})
            return None
        self.queue_form.show_errors({})
        return int(rate or 0)

    def accept(self) -> None:
        rate = self.validate()
        if rate is None:
            self.bandwidth_edit.setFocus()
            return
        settings = self.settings
        settings.concurrent_transfers = self.concurrent_box.value()
        settings.parts_in_flight = self.parts_box.value()
        settings.part_size = self.part_size_box.value() * MiB
        settings.download_window = self.window_box.value()
        settings.bandwidth_limit = rate
        settings.conflict_policy = ConflictPolicy(self.conflict_combo.currentData())
        settings.qsettings.sync()
        super().accept()
