"""The connection behind the remote pane: which profile, and in what state.

Connecting goes through the app's :class:`~orbit_gui.engine.connections.ConnectionPool`
(which asks the user for secrets and host keys through its hooks) and then
points the pane's listing model at the new backend. A new connect cancels
one still in progress; failures become a sentence, never an exception.
"""

from __future__ import annotations

import asyncio
import enum
import logging

from PySide6.QtCore import QObject, Signal

from ..engine import OrbitError, Profile
from ..engine.connections import ConnectionPool
from .listing_model import ListingModel

__all__ = ["ConnectionState", "RemoteSession"]

log = logging.getLogger(__name__)


class ConnectionState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"


class RemoteSession(QObject):
    """Connects ``model`` to the store of one profile at a time."""

    state_changed = Signal()
    backend_changed = Signal()
    """A connection was opened or closed (before its first listing starts)."""

    def __init__(self, pool: ConnectionPool, model: ListingModel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.model = model
        self.profile: Profile | None = None
        self.state = ConnectionState.DISCONNECTED
        self.message = ""
        """What the state means for the user ("" when connected)."""
        self.error: OrbitError | None = None
        """Why the last connect failed."""
        self._connecting: asyncio.Task[bool] | None = None

    @property
    def ref(self) -> str | None:
        """The profile name transfers use to reopen this connection."""
        return self.profile.name if self.profile is not None else None

    async def connect_to(self, profile: Profile) -> bool:
        """Connect to ``profile`` and list its root; False (with :attr:`message`) on failure."""
        if self._connecting is not None:
            self._connecting.cancel()
        task = asyncio.ensure_future(self._connect(profile))
        self._connecting = task
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and not _current_cancelled():
                return False  # superseded by a newer connect
            raise
        finally:
            if self._connecting is task:
                self._connecting = None

    async def hang_up(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        await self.model.set_backend(None)
        if self.profile is not None:
            await self.pool.release(self.profile.name)
        self.backend_changed.emit()
        self._set(ConnectionState.DISCONNECTED, "Not connected")

    async def _connect(self, profile: Profile) -> bool:
        if self.profile is not None and self.profile.name != profile.name:
            await self.model.set_backend(None)
            await self.pool.release(self.profile.name)
        self.profile = profile
        self.error = None
        self._set(ConnectionState.CONNECTING, f"Connecting to {_where(profile)}…")
        try:
            backend = await self.pool.connect(profile)
        except OrbitError as exc:
            self.error = exc
            await self.model.set_backend(None)
            log.info("connecting %s failed: %s", profile.name, exc)
            self._set(ConnectionState.FAILED, f"Could not connect to {_where(profile)}: {exc}")
            return False
        await self.model.set_backend(backend)
        self.backend_changed.emit()
        self.model.set_path(profile.root or "/")
        self._set(ConnectionState.CONNECTED, "")
        return True

    def _set(self, state: ConnectionState, message: str) -> None:
        self.state = state
        self.message = message
        self.state_changed.emit()


def _where(profile: Profile) -> str:
    return f"{profile.name} ({profile.host})" if profile.host else profile.name


def _current_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
