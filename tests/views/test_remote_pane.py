"""The whole window against real servers: connect, browse, drop to upload, drag
out to download, file commands, wrong passwords and unknown host keys."""

from __future__ import annotations

import asyncio
import hashlib
import os
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from orbit_gui.engine import BytesReader, Profile
from orbit_gui.engine.backends.s3 import S3Backend
from orbit_gui.engine.transfer import TransferState
from orbit_gui.models.listing_model import Column
from orbit_gui.models.remote_session import ConnectionState
from orbit_gui.views.browser_pane import BrowserPane
from orbit_gui.views.dialogs import NameDialog
from orbit_gui.views.hostkey_dialog import HostKeyDialog
from orbit_gui.views.secret_prompt import SecretPrompt
from orbit_gui.workbench import Workbench
from tests.engine.s3_helpers import s3_profile, s3_scratch
from tests.engine.test_sftp import make_profile
from tests.models.qt_waits import wait_until
from tests.servers.info import S3Server, SshServer
from tests.views.dialog_waits import wait_for_child
from tests.views.workbench_support import open_workbench, rows, settled

pytestmark = [pytest.mark.qt]


@pytest.fixture
async def bucket(rclone_s3: S3Server) -> AsyncIterator[tuple[S3Backend, str]]:
    async with s3_scratch(rclone_s3) as scratch:
        yield scratch


@pytest.fixture
async def moto_folder(moto_s3: S3Server) -> AsyncIterator[tuple[S3Backend, str]]:
    """moto keeps folder markers, so empty folders can be made and listed."""
    async with s3_scratch(moto_s3) as scratch:
        yield scratch


def bucket_profile(server: S3Server, root: str) -> Profile:
    base = s3_profile(server)
    return Profile(base.name, "s3", root=root, options=base.options)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def connected(bench: Workbench, profile: Profile, secret: str) -> BrowserPane:
    bench.store.save(profile, secret)
    bench.profiles.reload()
    assert await bench.controller.connect_named(profile.name)
    pane = bench.window.remote_pane
    await settled(pane)
    return pane


async def connect_typing(bench: Workbench, name: str, secret: str, *, remember: bool) -> bool:
    """Connect to the saved profile ``name``, typing ``secret`` into the prompt."""
    connecting = asyncio.ensure_future(bench.controller.connect_named(name))
    prompt = await wait_for_child(bench.window, SecretPrompt)
    prompt.secret_edit.setText(secret)
    prompt.remember_box.setChecked(remember)
    prompt.accept()
    return await connecting


def drag_and_drop(pane: BrowserPane, mime: QMimeData, at: QPoint) -> str:
    """Drag ``mime`` over ``pane``'s table to ``at`` and drop it; returns the hint shown."""
    viewport = pane.view.viewport()
    copy = Qt.DropAction.CopyAction
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, copy, mime, buttons, keys)
    QApplication.sendEvent(viewport, enter)
    move = QDragMoveEvent(at, copy, mime, buttons, keys)
    QApplication.sendEvent(viewport, move)
    assert move.isAccepted()
    hint = pane.status_label.text()
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, mime, buttons, keys))
    return hint


def empty_area(pane: BrowserPane) -> QPoint:
    """A point below the last row, where a drop goes into the folder shown."""
    viewport = pane.view.viewport()
    return QPoint(viewport.width() // 2, viewport.height() - 5)


def row_center(pane: BrowserPane, name: str) -> QPoint:
    index = pane.model.index(rows(pane).index(name), Column.NAME)
    return pane.view.visualRect(index).center()


async def all_transfers_done(bench: Workbench) -> None:
    snapshots = await asyncio.gather(*(t.wait() for t in bench.queue.transfers))
    assert [s.state for s in snapshots] == [TransferState.DONE] * len(snapshots), \
        [s.error for s in snapshots]
    await bench.controller.wait_idle()


async def test_drop_from_the_desktop_uploads_and_dragging_out_downloads(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    backend, root = bucket
    await backend.write(f"{root}/inbox/readme.txt", BytesReader(b"drop here"), 9)
    desktop = tmp_path / "desktop"
    (desktop / "album").mkdir(parents=True)
    (desktop / "report.pdf").write_bytes(os.urandom(300_000))
    (desktop / "album" / "a.jpg").write_bytes(os.urandom(70_000))
    (desktop / "album" / "b.jpg").write_bytes(os.urandom(90_000))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    async with open_workbench(qtbot, tmp_path / "app", downloads) as bench:
        profile = bucket_profile(rclone_s3, root)
        pane = await connected(bench, profile, rclone_s3.secret_key)
        assert bench.session.state is ConnectionState.CONNECTED
        assert pane.current_path == root
        assert rows(pane) == ["inbox"]
        assert bench.window.windowTitle() == f"{profile.name} — Orbit"

        # Files of the file manager arrive as file URLs; dropped on the "inbox" row.
        files = QMimeData()
        files.setUrls([QUrl.fromLocalFile(str(desktop / "report.pdf")),
                       QUrl.fromLocalFile(str(desktop / "album"))])
        hint = drag_and_drop(pane, files, row_center(pane, "inbox"))
        assert hint == f"Drop to copy into {root}/inbox"
        await wait_until(lambda: len(bench.queue.transfers) == 2, bench.panel.model.rowsInserted)
        await all_transfers_done(bench)
        names = sorted([e.name async for e in backend.list(f"{root}/inbox")])
        assert names == ["album", "readme.txt", "report.pdf"]

        # Into the folder shown: a drop on the empty area, then the listing refreshes.
        single = QMimeData()
        single.setUrls([QUrl.fromLocalFile(str(desktop / "album" / "a.jpg"))])
        drag_and_drop(pane, single, empty_area(pane))
        await wait_until(lambda: len(bench.queue.transfers) == 3, bench.panel.model.rowsInserted)
        await all_transfers_done(bench)
        await wait_until(lambda: "a.jpg" in rows(pane), pane.model.state_changed)

        # Dragged out of the remote pane onto the local one: a download, byte for byte.
        inbox = pane.model.index(rows(pane).index("inbox"), Column.NAME)
        pane.view.setCurrentIndex(inbox)
        pane.view.activated.emit(inbox)
        await settled(pane)
        picked = [pane.model.index(rows(pane).index(n), Column.NAME)
                  for n in ("album", "report.pdf")]
        drag = pane.model.mimeData(picked)
        assert not drag.hasUrls()  # remote files are not local files to other apps
        local = bench.window.local_pane
        assert drag_and_drop(local, drag, empty_area(local)) == f"Drop to copy into {downloads}"
        await wait_until(lambda: len(bench.queue.transfers) == 5, bench.panel.model.rowsInserted)
        await all_transfers_done(bench)
        assert digest(downloads / "report.pdf") == digest(desktop / "report.pdf")
        assert digest(downloads / "album" / "b.jpg") == digest(desktop / "album" / "b.jpg")
        await wait_until(lambda: sorted(rows(local)) == ["album", "report.pdf"],
                         local.model.state_changed)

        # A pane never takes a drop of its own entries (that would be a move).
        again = pane.model.mimeData(picked[:1])
        assert not pane.model.canDropMimeData(again, Qt.DropAction.CopyAction, -1, -1,
                                              pane.model.index(-1, -1))


async def test_toolbar_upload_download_and_file_commands(
        qtbot: QtBot, tmp_path: Path, moto_s3: S3Server,
        moto_folder: tuple[S3Backend, str]) -> None:
    backend, root = moto_folder
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("remember the milk")
    async with open_workbench(qtbot, tmp_path / "app", home) as bench:
        window = bench.window
        profile = bucket_profile(moto_s3, root)
        pane = await connected(bench, profile, moto_s3.secret_key)
        local = window.local_pane
        local.view.selectRow(rows(local).index("notes.txt"))
        window.upload_action.trigger()
        await wait_until(lambda: len(bench.queue.transfers) == 1, bench.panel.model.rowsInserted)
        await all_transfers_done(bench)
        await wait_until(lambda: rows(pane) == ["notes.txt"], pane.model.state_changed)

        # New folder, through its dialog.
        pane.view.setFocus()
        window.new_folder_action.trigger()
        dialog = await wait_for_child(window, NameDialog)
        dialog.edit.setText("bad/name")
        assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
        assert dialog.problem.text()
        dialog.edit.setText("reports")
        dialog.accept()
        await bench.controller.wait_idle()
        await wait_until(lambda: "reports" in rows(pane), pane.model.state_changed)
        assert (await backend.stat(f"{root}/reports")).is_dir

        # Rename (F2) the uploaded file.
        pane.view.selectRow(rows(pane).index("notes.txt"))
        window.rename_action.trigger()
        dialog = await wait_for_child(window, NameDialog)
        dialog.edit.setText("milk.txt")
        dialog.accept()
        await bench.controller.wait_idle()
        await wait_until(lambda: "milk.txt" in rows(pane), pane.model.state_changed)
        assert not await backend.exists(f"{root}/notes.txt")

        # Copy path and properties.
        pane.view.selectRow(rows(pane).index("milk.txt"))
        window.copy_path_action.trigger()
        assert QGuiApplication.clipboard().text() == f"{profile.name}:{root}/milk.txt"
        window.properties_action.trigger()
        await bench.controller.wait_idle()
        dialog = await wait_for_child(window, QDialog)
        assert dialog.windowTitle() == "Properties of milk.txt"
        shown = [label.text() for label in dialog.findChildren(QLabel)]
        assert f"{root}/milk.txt" in shown and "text/plain" in shown
        assert any(text.startswith("17 B") for text in shown), shown
        dialog.close()

        # Download with Ctrl+D's action, into the local folder; then delete remotely.
        window.download_action.trigger()
        await wait_until(lambda: len(bench.queue.transfers) == 2, bench.panel.model.rowsInserted)
        await all_transfers_done(bench)
        assert (home / "milk.txt").read_text() == "remember the milk"

        pane.view.setFocus()
        pane.view.selectAll()
        window.delete_action.trigger()
        box = await wait_for_child(window, QMessageBox)
        assert "Delete 2 items" in box.text()
        assert "reports/" in box.informativeText() and "milk.txt" in box.informativeText()
        box.button(QMessageBox.StandardButton.Yes).click()
        await bench.controller.wait_idle()
        await wait_until(lambda: rows(pane) == [], pane.model.state_changed)
        assert [e async for e in backend.list(root)] == []


async def test_opening_and_closing_a_connection_is_announced_before_listing(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    """The app settles its garbage collector on ``backend_changed``: it must come once
    per connection opened or closed, while the folder's listing has not begun."""
    _, root = bucket
    async with open_workbench(qtbot, tmp_path / "app") as bench:
        seen: list[tuple[object, str | None]] = []
        session = bench.session
        session.backend_changed.connect(
            lambda: seen.append((session.model.backend, session.model.path)))
        await connected(bench, bucket_profile(rclone_s3, root), rclone_s3.secret_key)
        [(backend, path)] = seen
        assert backend is not None and path is None, "announced before the listing"
        await session.hang_up()
        assert seen[1:] == [(None, None)]


async def test_a_link_to_an_s3_file_downloads_it(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    backend, root = bucket
    await backend.write(f"{root}/shared.txt", BytesReader(b"for everyone"), 12)
    async with open_workbench(qtbot, tmp_path / "app") as bench:
        profile = bucket_profile(rclone_s3, root)
        pane = await connected(bench, profile, rclone_s3.secret_key)
        pane.view.setFocus()
        pane.view.selectRow(0)
        assert bench.window.copy_link_action.isEnabled()
        bench.window.copy_link_action.trigger()
        await bench.controller.wait_idle()
        fields = [f for f in bench.window.findChildren(QLineEdit)
                  if f.isReadOnly() and f.text().startswith("http")]
        assert len(fields) == 1
        url = fields[0].text()
        assert "X-Amz-Signature" in url or "Signature" in url
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
        assert body == b"for everyone"


async def test_wrong_password_asks_again_and_shows_the_error_in_the_pane(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server) -> None:
    async with open_workbench(qtbot, tmp_path / "app") as bench:
        profile = s3_profile(rclone_s3)
        bench.store.save(profile, "not-the-secret")
        bench.profiles.reload()
        connecting = asyncio.ensure_future(bench.controller.connect_named(profile.name))
        prompt = await wait_for_child(bench.window, SecretPrompt)
        assert bench.session.state is ConnectionState.CONNECTING
        prompt.reject()
        assert await connecting is False
        pane = bench.window.remote_pane
        assert bench.session.state is ConnectionState.FAILED
        assert pane.status_label.text().startswith(f"Could not connect to {profile.name}")
        assert bench.window.connection_bar.connect_button.text() == "Reconnect"

        # Reconnect, this time typing the right secret: connected, and it is remembered.
        assert await connect_typing(bench, profile.name, rclone_s3.secret_key,
                                    remember=True) is True
        assert bench.session.state is ConnectionState.CONNECTED
        assert bench.store.secrets.get(profile.name) == rclone_s3.secret_key
        assert rclone_s3.secret_key not in bench.store.path.read_text()


async def test_unknown_host_key_prompts_with_its_fingerprint(
        qtbot: QtBot, tmp_path: Path, sshd_server: SshServer) -> None:
    known = tmp_path / "known_hosts"
    profile = make_profile(sshd_server, known_hosts=known, key_file=str(sshd_server.client_key))
    profile = Profile("ssh-box", "sftp", host=profile.host, port=profile.port,
                      user=profile.user, root=profile.root, options=profile.options)
    async with open_workbench(qtbot, tmp_path / "app") as bench:
        bench.store.save(profile)
        bench.profiles.reload()
        connecting = asyncio.ensure_future(bench.controller.connect_named(profile.name))
        dialog = await wait_for_child(bench.window, HostKeyDialog)
        assert dialog.fingerprint_label.text() == sshd_server.host_key_fingerprint
        dialog.cancel_button.click()
        assert await connecting is False
        assert "not accepted" in bench.window.remote_pane.status_label.text()

        connecting = asyncio.ensure_future(bench.controller.connect_named(profile.name))
        dialog = await wait_for_child(bench.window, HostKeyDialog)
        dialog.always_button.click()
        assert await connecting is True
        await settled(bench.window.remote_pane)
        assert bench.window.remote_pane.current_path == str(sshd_server.root)
        assert str(sshd_server.port) in known.read_text()
