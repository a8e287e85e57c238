"""The transfer panel driving real transfers to moto: pause, resume, cancel and retry
from the controls, a conflict answered for all, a thousand queued transfers, and a
transfer left unfinished in the journal by an earlier run."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from orbit_gui.engine import Backend, BytesReader
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.engine.transfer import (
    ConflictPolicy,
    Endpoint,
    PartState,
    TransferEvent,
    TransferQueue,
    TransferRequest,
    TransferSnapshot,
    TransferState,
)
from orbit_gui.models.transfer_model import Column, Role
from orbit_gui.views.conflict_dialog import ConflictDialog
from orbit_gui.views.delegates import CellState, pack_segments
from orbit_gui.views.transfer_panel import TransferPanel
from tests.models.qt_waits import wait_until
from tests.models.transfer_fixtures import (
    GUARD,
    MiB,
    Published,
    bucket,
    connect,
    options,
    part,
    pending_uploads,
    s3,
    snapshot,
    until,
)
from tests.servers.info import S3Server
from tests.transfer_support import sha256_file, write_pattern

pytestmark = [pytest.mark.qt]

__all__ = ["bucket", "s3"]  # fixtures used here

SLOW = 6 * MiB
"""Bytes per second for transfers that must still be running when the test acts."""


async def shown(panel: TransferPanel, qtbot: QtBot) -> TransferPanel:
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    panel.activateWindow()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    await asyncio.wait_for(wait_until(panel.isActiveWindow, app.focusWindowChanged), GUARD)
    panel.view.setFocus()
    return panel


def state_of(panel: TransferPanel, key: str) -> TransferState | None:
    snapshot = panel.model.snapshot(key)
    return None if snapshot is None else snapshot.state


def parts_done(panel: TransferPanel, key: str) -> int:
    row = panel.model.row_of(key)
    found = panel.model.index(row.row(), Column.PARTS).data(Role.SEGMENTS) or ()
    return sum(1 for p in found if p.state is PartState.DONE)


def rows_in_view(panel: TransferPanel) -> list[str]:
    proxy = panel.filter
    return [proxy.index(n, 0).data(Role.ID) for n in range(proxy.rowCount())]


async def object_sha256(backend: Backend, path: str) -> str:
    sha = hashlib.sha256()
    async for chunk in backend.read(path):
        sha.update(chunk)
    return sha.hexdigest()


@pytest.fixture
async def queue() -> AsyncIterator[TransferQueue]:
    async with TransferQueue(max_rate=50) as started:
        yield started


async def test_pause_resume_cancel_and_retry_drive_the_engine(
        qtbot: QtBot, queue: TransferQueue, bucket: tuple[Backend, str], tmp_path: Path) -> None:
    backend, name = bucket
    panel = await shown(TransferPanel(queue), qtbot)
    local = LocalBackend()
    source = tmp_path / "video.mov"
    write_pattern(source, 16 * MiB)
    queue.add(TransferRequest(Endpoint(local, str(source)), Endpoint(backend, f"{name}/v.mov"),
                              options=options(window=1, bwlimit=SLOW)), transfer_id="up")
    await until(panel.model, lambda: parts_done(panel, "up") >= 1)
    panel.select("up")
    qtbot.keyClick(panel.view, Qt.Key.Key_P,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    await until(panel.model, lambda: state_of(panel, "up") is TransferState.PAUSED)
    assert queue.get("up").state is TransferState.PAUSED
    assert panel.resume_action.isEnabled() and not panel.pause_action.isEnabled()
    queue.set_bwlimit(None)
    panel.resume_action.trigger()
    final = await asyncio.wait_for(queue.get("up").wait(), GUARD)
    assert final.state is TransferState.DONE, final.error
    assert final.resumed_bytes >= 5 * MiB, "the resumed upload kept the confirmed part"
    assert await object_sha256(backend, f"{name}/v.mov") == sha256_file(source)

    queue.add(TransferRequest(Endpoint(local, str(source)), Endpoint(backend, f"{name}/c.mov"),
                              options=options(window=1, bwlimit=SLOW)), transfer_id="doomed")
    await until(panel.model, lambda: (s := panel.model.snapshot("doomed")) is not None
                and s.bytes_done > 0)
    panel.select("doomed")
    panel.cancel_action.trigger()
    await until(panel.model, lambda: state_of(panel, "doomed") is TransferState.CANCELLED)
    assert queue.get("doomed").state is TransferState.CANCELLED
    assert await pending_uploads(backend, name) == [], "the multipart upload was aborted"

    target = tmp_path / "later.bin"
    queue.add(TransferRequest(Endpoint(backend, f"{name}/later.bin", "s3"),
                              Endpoint(local, str(target)), options=options()),
              transfer_id="later")
    await until(panel.model, lambda: state_of(panel, "later") is TransferState.FAILED)
    panel.tabs.setCurrentIndex(2)
    assert rows_in_view(panel) == ["later"]
    state_text = panel.filter.index(0, Column.STATE).data()
    assert state_text.startswith("failed: ") and "Traceback" not in state_text
    assert "later.bin" in state_text
    await backend.write(f"{name}/later.bin", BytesReader(b"arrived"), 7)
    panel.select("later")
    assert panel.retry_action.isEnabled()
    panel.retry_action.trigger()
    await until(panel.model, lambda: state_of(panel, "later") is TransferState.DONE)
    assert target.read_bytes() == b"arrived"
    assert rows_in_view(panel) == [], "it left the Failed tab"
    log = panel.log_view.toPlainText()
    for expected in (f"↑ video.mov → {name}/: paused", f"↑ video.mov → {name}/: cancelled",
                     f"↓ later.bin ← s3:{name}/: failed: ", f"↓ later.bin ← s3:{name}/: done"):
        assert expected in log


async def test_a_conflict_answered_for_all_applies_to_the_rest(
        qtbot: QtBot, queue: TransferQueue, bucket: tuple[Backend, str], tmp_path: Path) -> None:
    backend, name = bucket
    panel = await shown(TransferPanel(queue), qtbot)
    assert queue.conflicts.resolver is panel.conflict_prompt
    photos = tmp_path / "photos"
    photos.mkdir()
    for file in ("a.jpg", "b.jpg", "c.jpg"):
        (photos / file).write_bytes(b"fresh!")
        await backend.write(f"{name}/photos/{file}", BytesReader(b"old"), 3)
    dialogs: list[ConflictDialog] = []
    panel.conflict_prompt.dialog_opened.connect(dialogs.append)
    local = LocalBackend()
    folder = queue.add(TransferRequest(Endpoint(local, str(photos)),
                                       Endpoint(backend, f"{name}/photos"), recursive=True,
                                       options=options(conflict=ConflictPolicy.ASK)))
    await asyncio.wait_for(wait_until(lambda: bool(dialogs),
                                      panel.conflict_prompt.dialog_opened), GUARD)
    dialog = dialogs[0]
    assert dialog.isVisible()
    sizes = [dialog.findChild(QLabel, f"{side}_size").text() for side in ("source", "destination")]
    assert sizes == ["6 B", "3 B"]
    assert ConflictPolicy.RESUME not in dialog.buttons, "nothing partial to resume"
    assert "larger" in dialog.findChild(QLabel, "comparison").text()
    # While the question waits, another transfer runs to the end.
    other = tmp_path / "other.txt"
    other.write_bytes(b"meanwhile")
    meanwhile = queue.add(TransferRequest(Endpoint(local, str(other)),
                                          Endpoint(backend, f"{name}/other.txt"),
                                          options=options()))
    assert (await asyncio.wait_for(meanwhile.wait(), GUARD)).state is TransferState.DONE
    assert dialog.isVisible() and panel.conflict_prompt.dialog is dialog
    dialog.apply_to_all.setChecked(True)
    qtbot.mouseClick(dialog.buttons[ConflictPolicy.SKIP], Qt.MouseButton.LeftButton)
    final = await asyncio.wait_for(folder.wait(), GUARD)
    assert final.state is TransferState.DONE, final.error
    assert (final.files_skipped, final.files_done) == (3, 0)
    assert len(dialogs) == 1, "one question for three conflicts"
    for file in ("a.jpg", "b.jpg", "c.jpg"):
        assert b"".join([c async for c in backend.read(f"{name}/photos/{file}")]) == b"old"


async def test_a_thousand_queued_transfers_keep_the_panel_current(
        qtbot: QtBot, tmp_path: Path) -> None:
    """A thousand copies, four at a time. The model applies events in ticks (far fewer
    than the events), never resets, keeps up (one tick after the last transfer ends,
    every row says done), and the panel answers the keyboard meanwhile. Disk to disk:
    what is measured is the panel, not a server's cost per object."""
    backend = LocalBackend()
    name = str(tmp_path / "copies")
    files = tmp_path / "many"
    files.mkdir()
    for number in range(1000):
        (files / f"f{number:04}.txt").write_bytes(b"x" * (number % 97 + 1))
    async with TransferQueue(concurrency=4, max_rate=20) as queue:
        panel = await shown(TransferPanel(queue), qtbot)
        events: list[TransferEvent] = []
        queue.hub.add_listener(events.append)
        ticks: list[int] = []
        panel.model.flushed.connect(ticks.append)
        resets: list[None] = []
        panel.model.modelReset.connect(lambda: resets.append(None))
        local = LocalBackend()
        for number in range(1000):
            queue.add(TransferRequest(Endpoint(local, str(files / f"f{number:04}.txt")),
                                      Endpoint(backend, f"{name}/many/f{number:04}.txt"),
                                      options=options()), transfer_id=f"t{number:04}")
        await until(panel.model, lambda: panel.model.rowCount() == 1000)
        await until(panel.model, lambda: panel.model.summary().finished >= 20)
        assert panel.model.summary().finished < 1000, "the test acts while transfers run"
        assert "Transfers (" in panel.summary_label.text()
        # Mid-run the keyboard works: select the last transfer, move it up one place.
        panel.select("t0999")
        qtbot.keyClick(panel.view, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
        assert [t.id for t in queue.transfers][-2:] == ["t0999", "t0998"]
        await until(panel.model, lambda: panel.model.ids()[-2:] == ["t0999", "t0998"])
        await asyncio.wait_for(queue.wait_all(), GUARD * 3)
        done_at = len(ticks)
        await until(panel.model,
                    lambda: all(panel.model.state_at(n) is TransferState.DONE
                                for n in range(1000)))
        assert len(ticks) - done_at <= 2, "no backlog: the model was current"
        assert len(ticks) < len(events) / 3, "events were coalesced into ticks"
        assert resets == []
        assert panel.tabs.tabText(1).endswith("(1,000)")
        panel.model.close()


async def test_an_interrupted_transfer_appears_on_start_and_resumes(
        qtbot: QtBot, moto_s3: S3Server, bucket: tuple[Backend, str], tmp_path: Path) -> None:
    backend, name = bucket
    journal = tmp_path / "journal.sqlite3"
    opened: list[Backend] = []

    async def opener(ref: str | None) -> Backend:
        if ref is None:
            return LocalBackend()
        assert ref == "s3"
        opened.append(await connect(moto_s3))
        return opened[-1]

    source = tmp_path / "video.mov"
    write_pattern(source, 16 * MiB)
    local = LocalBackend()
    confirmed: dict[str, int] = {}
    both_started = asyncio.Event()

    def watch(event: TransferEvent) -> None:
        if isinstance(event, TransferSnapshot):
            confirmed[event.id] = sum(1 for p in event.parts if p.state is PartState.DONE)
            if min(confirmed.get("keep", 0), confirmed.get("drop", 0)) >= 1:
                both_started.set()

    earlier = await TransferQueue.open(journal, opener=opener)
    earlier.hub.add_listener(watch)
    for key in ("keep", "drop"):
        earlier.add(TransferRequest(Endpoint(local, str(source)),
                                    Endpoint(backend, f"{name}/{key}.mov", "s3"),
                                    options=options(window=1, bwlimit=SLOW)), transfer_id=key)
    await asyncio.wait_for(both_started.wait(), GUARD)
    await earlier.aclose()  # the app quits mid-transfer: both stay in the journal

    async with await TransferQueue.open(journal, opener=opener) as queue:
        panel = await shown(TransferPanel(queue), qtbot)
        await panel.show_interrupted()
        assert sorted(panel.model.ids()) == ["drop", "keep"]
        assert {state_of(panel, k) for k in ("drop", "keep")} == {TransferState.INTERRUPTED}
        assert "left unfinished by an earlier run" in panel.log_view.toPlainText()
        panel.select("keep")
        assert panel.resume_action.isEnabled() and panel.discard_action.isEnabled()
        assert not panel.pause_action.isEnabled()
        queue.set_bwlimit(None)
        panel.resume_action.trigger()
        await until(panel.model, lambda: state_of(panel, "keep") is TransferState.DONE)
        final = queue.get("keep").snapshot()
        assert final.resumed_bytes >= 5 * MiB, "confirmed parts were not sent again"
        assert await object_sha256(backend, f"{name}/keep.mov") == sha256_file(source)
        panel.select("drop")
        panel.discard_action.trigger()
        await panel.wait_actions()
        assert panel.model.ids() == ["keep"]
        assert await pending_uploads(backend, name) == [], "the dropped upload was aborted"
        assert await queue.interrupted() == []
    for opened_backend in opened:
        await opened_backend.aclose()


def test_segment_map_packs_ten_thousand_parts_and_keeps_a_failure_visible() -> None:
    parts = [part(n, PartState.DONE if n < 4000 else PartState.PENDING) for n in range(10_000)]
    parts[7_000] = part(7_000, PartState.FAILED)
    parts[4_010] = part(4_010, PartState.IN_FLIGHT, done=50)
    cells = pack_segments(parts, 50)
    assert len(cells) == 50 and sum(c.parts for c in cells) == 10_000
    assert [c.state for c in cells[:20]] == [CellState.DONE] * 20
    assert cells[20].state is CellState.IN_FLIGHT and 0 < cells[20].fill < 0.01
    assert cells[35].state is CellState.FAILED
    assert {c.state for c in cells[21:35]} == {CellState.PENDING}
    assert pack_segments(parts[:10], 50) == [pack_segments(parts[:10], 10)[n] for n in range(10)]


async def test_transfers_finished_in_an_earlier_run_show_in_the_finished_tabs(
        qtbot: QtBot, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    (tmp_path / "a.txt").write_text("a")
    local = LocalBackend()
    async with await TransferQueue.open(journal) as earlier:
        done = earlier.add(TransferRequest(Endpoint(local, str(tmp_path / "a.txt")),
                                           Endpoint(local, str(tmp_path / "copy.txt")),
                                           options=options()), transfer_id="earlier-ok")
        missing = earlier.add(TransferRequest(Endpoint(local, str(tmp_path / "gone.txt")),
                                              Endpoint(local, str(tmp_path / "x.txt")),
                                              options=options()), transfer_id="earlier-bad")
        assert (await done.wait()).state is TransferState.DONE
        assert (await missing.wait()).state is TransferState.FAILED
    async with await TransferQueue.open(journal) as queue:
        panel = await shown(TransferPanel(queue), qtbot)
        await panel.show_interrupted()
        assert state_of(panel, "earlier-ok") is TransferState.DONE
        assert state_of(panel, "earlier-bad") is TransferState.FAILED
        assert panel.tabs.tabText(1).endswith("(1)") and panel.tabs.tabText(2).endswith("(1)")
        panel.tabs.setCurrentIndex(1)
        assert rows_in_view(panel) == ["earlier-ok"]
        panel.select("earlier-ok")
        assert not panel.retry_action.isEnabled() and panel.remove_action.isEnabled()
        panel.clear_finished()
        await panel.wait_actions()
        assert state_of(panel, "earlier-ok") is None and state_of(panel, "earlier-bad") is None
        panel.model.close()


async def test_painting_the_panel_runs_no_python_of_the_model(
        qtbot: QtBot, queue: TransferQueue) -> None:
    """What the view paints lives in C++: a repaint of busy rows (a transfer expanded
    with its parts in flight) calls into no Python of the model or its tab proxy, so
    painting never takes the GIL from the engine's loop thread for the model's sake.
    Only the two delegates that draw bars are Python."""
    panel = await shown(TransferPanel(queue), qtbot)
    busy = Published(queue.hub, snapshot("busy", position=0, total=800, parts=(
        part(0, PartState.DONE), part(1, PartState.IN_FLIGHT, done=40),
        part(2, PartState.IN_FLIGHT, done=10), part(3))))
    busy.publish()
    await until(panel.model, lambda: panel.model.rowCount(panel.model.row_of("busy")) == 2)
    panel.view.expandAll()

    def repaint_calls() -> list[str]:
        called: list[str] = []

        def profile(frame: FrameType, event: str, arg: object) -> None:
            if event == "call":
                called.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}")

        sys.setprofile(profile)
        try:
            panel.view.viewport().repaint()
        finally:
            sys.setprofile(None)
        return called

    first = repaint_calls()
    busy.publish(bytes_done=300, parts=(  # a tick's changes, then the repaint they cause
        part(0, PartState.DONE), part(1, PartState.IN_FLIGHT, done=70),
        part(2, PartState.IN_FLIGHT, done=50), part(3)))
    panel.model.flush()
    for calls in (first, repaint_calls()):
        assert "delegates.py:paint" in calls, "the repaint painted the bars"
        assert not [c for c in calls if c.startswith("transfer_model.py")], calls
