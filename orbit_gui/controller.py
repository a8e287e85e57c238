"""Turns the main window's intents into engine work, and results back into the window.

The window asks (copy these here, rename that, connect to this profile);
the controller runs it as a task on the event loop, through the connection
pool, the transfer queue and :mod:`.models.file_actions`, and reports every
failure as a sentence. It also answers the engine's questions (secrets, host
keys) with dialogs, and keeps the queue in step with the settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from PySide6.QtCore import QObject

from .engine import Entry, HostKeyChanged, HostKeyUnknown, OrbitError, Profile
from .engine.connections import ConnectionPool, HostKeyTrust
from .engine.errors import AuthenticationFailed
from .engine.profiles import ProfileStore
from .engine.transfer import Endpoint, TransferState
from .engine.transfer.request import requests_into
from .models import file_actions
from .models.file_kinds import FileKinds
from .models.profile_model import ProfileListModel
from .models.queue_bridge import QueueBridge, TransferHandle
from .models.remote_session import RemoteSession
from .models.settings import AppSettings
from .views.async_dialog import run_dialog
from .views.browser_pane import BrowserPane
from .views.connection_dialog import ConnectionDialog
from .views.error_text import sentence
from .views.hostkey_dialog import HostKeyChoice, HostKeyDialog, show_host_key_changed
from .views.main_window import MainWindow
from .views.secret_prompt import ask_secret_async
from .views.settings_dialog import SettingsDialog

__all__ = ["Controller"]

log = logging.getLogger(__name__)

_TRUST = {HostKeyChoice.ONCE: HostKeyTrust.ONCE, HostKeyChoice.ALWAYS: HostKeyTrust.ALWAYS}


class Controller(QObject):
    """Owns nothing it did not make: the app builds the parts and closes them."""

    def __init__(self, window: MainWindow, pool: ConnectionPool, store: ProfileStore,
                 profiles: ProfileListModel, settings: AppSettings, queue: QueueBridge,
                 session: RemoteSession) -> None:
        super().__init__(window)
        self.window = window
        self.pool = pool
        self.store = store
        self.profiles = profiles
        self.settings = settings
        self.queue = queue
        self.session = session
        self._kinds = FileKinds()
        self._tasks: set[asyncio.Task[Any]] = set()
        for asker in (pool, queue):  # browsing connections, and the transfers' own
            asker.secret_prompt = self._ask_secret
            asker.host_key_prompt = self._ask_host_key
        bar = window.connection_bar
        bar.connect_requested.connect(lambda profile: self.spawn(self.connect_profile(profile)))
        bar.disconnect_requested.connect(lambda: self.spawn(session.hang_up()))
        window.manage_connections_requested.connect(self.manage_connections)
        window.settings_requested.connect(self.edit_settings)
        window.copy_requested.connect(
            lambda src, paths, dst, folder: self.spawn(self.copy(src, paths, dst, folder)))
        window.new_folder_requested.connect(
            lambda pane, name: self.spawn(self._new_folder(pane, name)))
        window.rename_requested.connect(
            lambda pane, entry, name: self.spawn(self._rename(pane, entry, name)))
        window.delete_requested.connect(
            lambda pane, entries: self.spawn(self._delete(pane, entries)))
        window.properties_requested.connect(
            lambda pane, entry: self.spawn(self._properties(pane, entry)))
        window.link_requested.connect(
            lambda pane, entry, seconds: self.spawn(self._link(pane, entry, seconds)))
        settings.changed.connect(self._apply_setting)

    # -- tasks -------------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work``; an OrbitError it raises is shown, anything else goes to the
        loop's exception handler (logged and shown by the app)."""
        task = asyncio.ensure_future(self._reporting(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _reporting(self, work: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await work
        except OrbitError as exc:
            log.info("%s", exc)
            self.window.report_error(sentence(str(exc)))
            return None

    async def wait_idle(self) -> None:
        """Wait for the tasks started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- connections -------------------------------------------------------------------------

    async def connect_profile(self, profile: Profile) -> bool:
        ok = await self.session.connect_to(profile)
        if not ok and isinstance(self.session.error, HostKeyChanged):
            await show_host_key_changed(self.window, self.session.error)
        return ok

    async def connect_named(self, name: str) -> bool:
        """Connect to the saved profile ``name`` (chosen in the selector too)."""
        profile = await asyncio.to_thread(self.store.get, name)
        self.window.connection_bar.choose(name)
        return await self.connect_profile(profile)

    async def _ask_secret(self, profile: Profile,
                          refused: AuthenticationFailed | None) -> str | None:
        if refused is not None:
            self.window.show_message(sentence(str(refused)))
        return await ask_secret_async(self.window, profile, store=self.store)

    async def _ask_host_key(self, profile: Profile, error: HostKeyUnknown) -> HostKeyTrust:
        dialog = HostKeyDialog(error, self.window)
        try:
            await run_dialog(dialog)
            choice = dialog.choice
        finally:
            dialog.deleteLater()
        return _TRUST.get(choice, HostKeyTrust.REJECT)

    def manage_connections(self) -> None:
        dialog = ConnectionDialog(self.store, self.window)
        dialog.profiles_changed.connect(self.profiles.reload)
        dialog.finished.connect(lambda _: self.profiles.reload())
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self.window)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _apply_setting(self, key: str) -> None:
        if key == "concurrent_transfers":
            self.queue.set_concurrency(self.settings.concurrent_transfers)
        elif key == "bandwidth_limit":
            self.queue.set_bwlimit(float(self.settings.bandwidth_limit) or None)

    # -- transfers ---------------------------------------------------------------------------

    def _endpoint(self, pane: BrowserPane, path: str) -> Endpoint:
        backend = pane.model.backend
        if backend is None:
            raise OrbitError("that side is not connected")
        ref = self.session.ref if pane is self.window.remote_pane else None
        return Endpoint(backend, path, ref)

    async def copy(self, source: BrowserPane, paths: Sequence[str], target: BrowserPane,
                   folder: str) -> list[TransferHandle]:
        """Queue a copy of ``paths`` (on ``source``'s store) into ``folder`` of ``target``."""
        download = target is self.window.local_pane
        options = self.settings.transfer_options(download=download)
        requests = await requests_into(self._endpoint(source, ""), paths,
                                       self._endpoint(target, folder), options)
        transfers = [await self.queue.add(request) for request in requests]
        for transfer in transfers:
            self.spawn(self._refresh_when_done(transfer, target, folder))
        if transfers:
            self.window.transfer_dock.show()
        return transfers

    async def _refresh_when_done(self, transfer: TransferHandle, pane: BrowserPane,
                                 folder: str) -> None:
        snapshot = await transfer.wait()
        if snapshot.state is TransferState.DONE and pane.current_path == folder:
            pane.refresh()

    # -- file commands -----------------------------------------------------------------------

    async def _new_folder(self, pane: BrowserPane, name: str) -> None:
        await file_actions.new_folder(pane.model, name)
        pane.refresh()

    async def _rename(self, pane: BrowserPane, entry: Entry, name: str) -> None:
        await file_actions.rename_entry(pane.model, entry, name)
        pane.refresh()

    async def _delete(self, pane: BrowserPane, entries: Sequence[Entry]) -> None:
        try:
            await file_actions.delete_entries(pane.model, entries)
        finally:
            pane.refresh()
        self.window.show_message(f"Deleted {len(entries)} item{'s' * (len(entries) != 1)}")

    async def _properties(self, pane: BrowserPane, entry: Entry) -> None:
        fresh = await file_actions.entry_properties(pane.model, entry)
        kind = self._kinds.kind(fresh.name, fresh.is_dir, fresh.content_type)
        self.window.show_properties(fresh, kind)

    async def _link(self, pane: BrowserPane, entry: Entry, seconds: int) -> None:
        self.window.show_link(await file_actions.file_link(pane.model, entry, seconds))

