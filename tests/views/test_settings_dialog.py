"""App settings persisted with QSettings, and the dialog that edits them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMainWindow, QSplitter, QTextEdit
from pytestqt.qtbot import QtBot

from orbit_gui.engine.transfer import ConflictPolicy
from orbit_gui.models.settings import AppSettings
from orbit_gui.views.settings_dialog import SettingsDialog

MiB = 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppSettings:
    monkeypatch.setenv("ORBIT_CONFIG_DIR", str(tmp_path / "orbit"))
    return AppSettings()


def reopened() -> AppSettings:
    """A new AppSettings on the same file: what the next app start reads."""
    return AppSettings(QSettings(str(AppSettings.default_path()), QSettings.Format.IniFormat))


def test_defaults_typed_setters_and_persistence(qtbot: QtBot, settings: AppSettings) -> None:
    assert settings.default_path().parent.parent.name == "orbit"
    assert (settings.concurrent_transfers, settings.parts_in_flight, settings.part_size,
            settings.download_window, settings.bandwidth_limit, settings.conflict_policy) == \
        (3, 4, 8 * MiB, 4, 0, ConflictPolicy.ASK)
    changed: list[str] = []
    settings.changed.connect(changed.append)
    settings.concurrent_transfers = 5
    settings.conflict_policy = ConflictPolicy.RENAME
    assert changed == ["concurrent_transfers", "conflict_policy"]
    with qtbot.assertNotEmitted(settings.changed):
        settings.concurrent_transfers = 5  # unchanged: no signal
    with pytest.raises(ValueError, match="between 1 and 32"):
        settings.concurrent_transfers = 0
    with pytest.raises(ValueError, match="part_size"):
        settings.part_size = MiB
    settings.qsettings.sync()
    again = reopened()
    assert again.concurrent_transfers == 5 and again.conflict_policy is ConflictPolicy.RENAME
    settings.parts_in_flight, settings.download_window = 6, 12
    options = settings.transfer_options(download=True)
    assert (options.window, options.part_size, options.conflict) == \
        (12, 8 * MiB, ConflictPolicy.RENAME)
    assert settings.transfer_options(download=False).window == 6


def test_a_damaged_value_falls_back_to_the_default(settings: AppSettings) -> None:
    settings.qsettings.setValue("transfers/concurrent_transfers", "lots")
    settings.qsettings.setValue("transfers/conflict_policy", "explode")
    assert settings.concurrent_transfers == 3
    assert settings.conflict_policy is ConflictPolicy.ASK


def test_window_geometry_and_splitter_state_are_restored(
        qtbot: QtBot, settings: AppSettings) -> None:
    def window() -> tuple[QMainWindow, QSplitter]:
        main = QMainWindow()
        main.setObjectName("main")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("panes")
        splitter.addWidget(QTextEdit())
        splitter.addWidget(QTextEdit())
        main.setCentralWidget(splitter)
        qtbot.addWidget(main)
        return main, splitter

    first, splitter = window()
    first.resize(640, 420)  # inside the offscreen screen (800x600): not clamped
    first.show()
    splitter.setSizes([200, 400])
    assert not settings.restore_window(window()[0]), "nothing saved yet"
    settings.save_window(first)
    assert settings.layout_state("main/geometry") is not None
    second, second_splitter = window()
    assert reopened().restore_window(second)
    second.show()
    assert second.size() == first.size()
    assert second_splitter.sizes() == splitter.sizes()


def test_the_dialog_edits_validates_and_persists(qtbot: QtBot, settings: AppSettings) -> None:
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.concurrent_box.value() == 3 and dialog.bandwidth_edit.text() == ""
    assert dialog.conflict_combo.currentData() == ConflictPolicy.ASK
    dialog.concurrent_box.setValue(6)
    dialog.part_size_box.setValue(16)
    dialog.parts_box.setValue(8)
    dialog.window_box.setValue(10)
    dialog.conflict_combo.setCurrentIndex(dialog.conflict_combo.findData(ConflictPolicy.SKIP))
    assert dialog.memory_label.text() == "Up to about 1.0 GB of buffers in use."

    dialog.bandwidth_edit.setText("fast please")
    dialog.accept()
    assert dialog.isVisible(), "an invalid rate keeps the dialog open"
    assert "such as 500k" in dialog.queue_form.error_text(dialog.bandwidth_edit)
    assert settings.concurrent_transfers == 3, "nothing saved while invalid"

    dialog.bandwidth_edit.setText("10M")
    with qtbot.waitSignal(dialog.accepted):
        dialog.accept()
    again = reopened()
    assert (again.concurrent_transfers, again.part_size, again.parts_in_flight,
            again.download_window, again.bandwidth_limit, again.conflict_policy) == \
        (6, 16 * MiB, 8, 10, 10 * MiB, ConflictPolicy.SKIP)

    shown = SettingsDialog(again)
    qtbot.addWidget(shown)
    assert shown.bandwidth_edit.text() == "10M" and shown.part_size_box.value() == 16
    shown.restore_defaults()
    assert shown.concurrent_box.value() == 3 and shown.bandwidth_edit.text() == ""
    shown.reject()
    assert reopened().concurrent_transfers == 6, "Cancel saves nothing"
