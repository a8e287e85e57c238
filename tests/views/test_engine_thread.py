"""The window's transfers run on the engine's own loop thread, against a real S3
server: their events reach the queue panel on the Qt thread, the questions they
raise (a conflict, a secret) are answered in the window, and quitting mid-transfer
stops the thread and leaves the transfer resumable."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from orbit_gui.engine import AuthenticationFailed, BytesReader, Profile
from orbit_gui.engine.backends.s3 import S3Backend
from orbit_gui.engine.transfer import ConflictPolicy, TransferEvent, TransferState
from orbit_gui.views.conflict_dialog import ConflictDialog
from orbit_gui.views.secret_prompt import SecretPrompt
from tests.engine.s3_helpers import s3_scratch
from tests.models.qt_waits import wait_until
from tests.servers.info import S3Server
from tests.transfer_support import sha256_file, write_pattern
from tests.views.dialog_waits import wait_for_child
from tests.views.test_remote_pane import bucket_profile, connect_typing, connected
from tests.views.workbench_support import open_workbench

pytestmark = [pytest.mark.qt]

MiB = 1024 * 1024


@pytest.fixture
async def bucket(rclone_s3: S3Server) -> AsyncIterator[tuple[S3Backend, str]]:
    async with s3_scratch(rclone_s3) as scratch:
        yield scratch


async def read_all(backend: S3Backend, path: str) -> bytes:
    return b"".join([chunk async for chunk in backend.read(path)])


async def test_a_transfer_runs_on_the_engine_thread_and_reports_on_the_qt_thread(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    backend, root = bucket
    source = tmp_path / "up.bin"
    write_pattern(source, 3 * MiB, seed=3)
    async with open_workbench(qtbot, tmp_path / "app", tmp_path) as bench:
        pane = await connected(bench, bucket_profile(rclone_s3, root), rclone_s3.secret_key)
        events: list[tuple[TransferEvent, threading.Thread]] = []
        bench.queue.hub.add_listener(
            lambda event: events.append((event, threading.current_thread())))
        flushes: list[threading.Thread] = []
        bench.panel.model.flushed.connect(lambda _: flushes.append(threading.current_thread()))
        collections: set[threading.Thread] = set()

        def collecting(phase: str, info: dict[str, int]) -> None:
            collections.add(threading.current_thread())

        gc.callbacks.append(collecting)
        opened: list[threading.Thread] = []  # the app freezes what a connection loads
        bench.queue.connection_opened = lambda: opened.append(threading.current_thread())
        bench.queue.set_bwlimit(2 * MiB)  # still running when its tasks are looked at
        [transfer] = await bench.controller.copy(bench.window.local_pane, [str(source)], pane,
                                                 root)
        engine_tasks = {task.get_name() for task in bench.engine.call(asyncio.all_tasks)}
        gui_tasks = {task.get_name() for task in asyncio.all_tasks()}
        assert f"transfer-{transfer.id}" in engine_tasks
        assert f"transfer-{transfer.id}" not in gui_tasks
        # Its connection is the engine's own, not the one the remote pane browses with.
        assert transfer.request.destination.backend is not bench.pool.cached(bench.session.ref)
        assert transfer.request.destination.ref == bench.session.ref
        bench.queue.set_bwlimit(None)
        try:
            done = await transfer.wait()
        finally:
            gc.callbacks.remove(collecting)
        assert done.state is TransferState.DONE, done.error
        assert collections <= {threading.main_thread()}, "garbage collected on the Qt thread"
        model = bench.panel.model
        await wait_until(lambda: getattr(model.snapshot(transfer.id), "state", None)
                         is TransferState.DONE, model.flushed)
        assert bench.engine.thread is not threading.main_thread()
        assert events and flushes
        assert {thread for _, thread in events} == {threading.main_thread()}
        assert set(flushes) == {threading.main_thread()}
        assert opened == [threading.main_thread()], "told once, on the Qt thread"
        assert await read_all(backend, f"{root}/up.bin") == source.read_bytes()


async def test_a_conflict_of_a_transfer_is_asked_in_the_window(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    backend, root = bucket
    await backend.write(f"{root}/same.txt", BytesReader(b"old"), 3)
    source = tmp_path / "same.txt"
    source.write_bytes(b"fresh!")
    async with open_workbench(qtbot, tmp_path / "app", tmp_path) as bench:
        assert bench.settings.conflict_policy is ConflictPolicy.ASK
        pane = await connected(bench, bucket_profile(rclone_s3, root), rclone_s3.secret_key)
        dialogs: list[ConflictDialog] = []
        prompt = bench.panel.conflict_prompt
        prompt.dialog_opened.connect(dialogs.append)
        [transfer] = await bench.controller.copy(bench.window.local_pane, [str(source)], pane,
                                                 root)
        await wait_until(lambda: bool(dialogs), prompt.dialog_opened)
        [dialog] = dialogs
        assert dialog.isVisible() and dialog.thread() is bench.window.thread()
        qtbot.mouseClick(dialog.buttons[ConflictPolicy.OVERWRITE], Qt.MouseButton.LeftButton)
        done = await transfer.wait()
        assert done.state is TransferState.DONE, done.error
        assert done.files_done == 1
        assert await read_all(backend, f"{root}/same.txt") == b"fresh!"


async def test_a_secret_typed_without_saving_serves_the_transfers_too(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    """The transfer's own connection (on the engine thread) uses what the user typed
    for the browsing one: asked once, and still nothing in the keyring."""
    backend, root = bucket
    source = tmp_path / "typed.txt"
    source.write_bytes(b"asked once")
    profile = bucket_profile(rclone_s3, root)
    async with open_workbench(qtbot, tmp_path / "app", tmp_path) as bench:
        bench.store.save(profile)  # no secret stored
        bench.profiles.reload()
        assert await connect_typing(bench, profile.name, rclone_s3.secret_key,
                                    remember=False) is True
        asked_again: list[str] = []

        async def refuse(asked: Profile, refused: AuthenticationFailed | None) -> None:
            asked_again.append(asked.name)

        bench.queue.secret_prompt = refuse
        [transfer] = await bench.controller.copy(
            bench.window.local_pane, [str(source)], bench.window.remote_pane, root)
        done = await transfer.wait()
        assert done.state is TransferState.DONE, done.error
        assert asked_again == []
        secrets = bench.store.secrets
        assert keyring.get_password(secrets.service, profile.name) is None
    assert await read_all(backend, f"{root}/typed.txt") == b"asked once"


async def test_quit_mid_upload_then_resume_asks_the_window_for_the_secret(
        qtbot: QtBot, tmp_path: Path, rclone_s3: S3Server,
        bucket: tuple[S3Backend, str]) -> None:
    """Each workbench keeps secrets under a service of its own: the second start finds
    the profile but not its secret, so the resumed transfer's connection asks."""
    backend, root = bucket
    source = tmp_path / "big.bin"
    write_pattern(source, 12 * MiB, seed=12)
    profile = bucket_profile(rclone_s3, root)
    app = tmp_path / "app"
    async with open_workbench(qtbot, app, tmp_path) as bench:
        pane = await connected(bench, profile, rclone_s3.secret_key)
        bench.queue.set_bwlimit(2 * MiB)  # slow enough to quit in the middle
        [transfer] = await bench.controller.copy(bench.window.local_pane, [str(source)], pane,
                                                 root)
        await wait_until(lambda: transfer.snapshot().bytes_done > MiB,
                         bench.panel.model.flushed)
        transfer_id = transfer.id
        thread = bench.engine.thread
    assert thread is not None and not thread.is_alive(), "closing stopped the engine thread"
    async with open_workbench(qtbot, app, tmp_path) as bench:
        assert bench.store.secrets.get(profile.name) is None
        await bench.panel.show_interrupted()
        snapshot = bench.panel.model.snapshot(transfer_id)
        assert snapshot is not None and snapshot.state is TransferState.INTERRUPTED
        bench.panel.select(transfer_id)
        bench.panel.resume_action.trigger()
        prompt = await wait_for_child(bench.window, SecretPrompt)
        prompt.secret_edit.setText(rclone_s3.secret_key)
        prompt.accept()
        await bench.panel.wait_actions()
        done = await bench.queue.get(transfer_id).wait()
        assert done.state is TransferState.DONE, done.error
        assert bench.panel.notice.isHidden()
    whole = await read_all(backend, f"{root}/big.bin")
    assert len(whole) == 12 * MiB
    copy = tmp_path / "copy.bin"
    copy.write_bytes(whole)
    assert sha256_file(copy) == sha256_file(source)
