"""Everything the window works with, built and closed in one place.

The app builds one at start; tests build one on temporary folders and
real servers, so they exercise exactly the wiring users get.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .controller import Controller
from .engine.backends.local import LocalBackend
from .engine.connections import ConnectionPool
from .engine.loop_thread import LoopThread
from .engine.profiles import ProfileStore
from .models.listing_model import ListingModel
from .models.profile_model import ProfileListModel
from .models.queue_bridge import QueueBridge
from .models.remote_session import RemoteSession
from .models.settings import AppSettings
from .views.main_window import MainWindow
from .views.transfer_panel import TransferPanel

__all__ = ["Workbench"]


@dataclass
class Workbench:
    store: ProfileStore
    profiles: ProfileListModel
    settings: AppSettings
    pool: ConnectionPool
    """The connections the panes browse with (on the GUI loop)."""
    engine: LoopThread
    """The transfers' own loop thread."""
    queue: QueueBridge
    """The transfer queue, on ``engine``, with connections of its own."""
    local_model: ListingModel
    remote_model: ListingModel
    session: RemoteSession
    window: MainWindow
    panel: TransferPanel
    controller: Controller

    @classmethod
    async def open(cls, *, store: ProfileStore | None = None,
                   settings: AppSettings | None = None,
                   journal_path: Path | str | None = None, fetch_size: int = 5000
                   ) -> Workbench:
        """Build the window and its parts (``journal_path`` None: the state folder;
        ``fetch_size``: entries a listing pulls before waiting for the user to scroll)."""
        store = store or ProfileStore()
        settings = settings or AppSettings()
        profiles = ProfileListModel(store)
        pool = ConnectionPool(store)
        engine = LoopThread("orbit-transfers")
        engine.start()
        queue = await QueueBridge.open(
            engine, store, journal_path, concurrency=settings.concurrent_transfers,
            bwlimit=float(settings.bandwidth_limit) or None)
        local_model = ListingModel(LocalBackend(), fetch_size=fetch_size)
        remote_model = ListingModel(None, fetch_size=fetch_size)
        session = RemoteSession(pool, remote_model)
        window = MainWindow(local_model, remote_model, profiles, session)
        window.setObjectName("main")
        panel = TransferPanel(queue)
        window.set_transfer_panel(panel)
        controller = Controller(window, pool, store, profiles, settings, queue, session)
        return cls(store, profiles, settings, pool, engine, queue, local_model, remote_model,
                   session, window, panel, controller)

    async def aclose(self) -> None:
        """Stop in order: running transfers pause (resumable from the journal) and
        their loop thread ends, then listings end, then connections close."""
        await self.controller.aclose()
        try:
            await self.queue.aclose()
        finally:
            self.engine.stop()
        await self.local_model.aclose()
        await self.remote_model.aclose()
        await self.pool.aclose()
