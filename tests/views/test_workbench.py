"""Quitting the app with a transfer running: it stops, stays in the journal, and the
next start shows it as interrupted, ready to resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from orbit_gui.engine.transfer import TransferState
from tests.models.qt_waits import wait_until
from tests.transfer_support import sha256_file, write_pattern
from tests.views.workbench_support import open_workbench, rows

pytestmark = [pytest.mark.qt]

MiB = 1024 * 1024


async def test_quit_mid_transfer_leaves_it_resumable_on_the_next_start(
        qtbot: QtBot, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    write_pattern(source / "big.bin", 24 * MiB, seed=9)
    target = tmp_path / "dst"
    target.mkdir()
    app = tmp_path / "app"
    async with open_workbench(qtbot, app, source) as bench:
        bench.queue.set_bwlimit(4 * MiB)  # slow enough to quit in the middle
        local = bench.window.local_pane
        [transfer] = await bench.controller.copy(local, [str(source / "big.bin")], local,
                                                 str(target))
        await wait_until(lambda: transfer.snapshot().bytes_done > 2 * MiB,
                         bench.panel.model.flushed)
        transfer_id = transfer.id
    # The window closed its parts in order: the transfer stopped, the file is not there.
    assert not (target / "big.bin").exists()
    async with open_workbench(qtbot, app, target) as bench:
        await bench.panel.show_interrupted()
        snapshot = bench.panel.model.snapshot(transfer_id)
        assert snapshot is not None and snapshot.state is TransferState.INTERRUPTED
        bench.panel.select(transfer_id)
        assert bench.panel.resume_action.isEnabled()
        bench.panel.resume_action.trigger()
        await bench.panel.wait_actions()
        snapshot = await bench.queue.get(transfer_id).wait()
        assert snapshot.state is TransferState.DONE
        assert snapshot.resumed_bytes > 0  # continued, not started over
        assert sha256_file(target / "big.bin") == sha256_file(source / "big.bin")
        bench.window.local_pane.refresh()
        await wait_until(lambda: "big.bin" in rows(bench.window.local_pane),
                         bench.local_model.state_changed)
