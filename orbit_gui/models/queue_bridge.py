"""The GUI's transfer queue, run on the engine's own loop thread.

The qasync loop costs about three times plain asyncio per callback, and a
transfer is many thousand callbacks a second (aiohttp, asyncssh, smbprotocol).
So the window's :class:`~orbit_gui.engine.transfer.TransferQueue` lives on a
:class:`~orbit_gui.engine.loop_thread.LoopThread`, with a
:class:`~orbit_gui.engine.connections.ConnectionPool` of its own: aiohttp and
asyncssh objects belong to the loop that made them, so the transfers' backends
are opened there, by profile name, apart from the ones the panes browse with.

:class:`QueueBridge` is the one place the GUI reaches that queue. It offers
what the panel, the model and the controller use of a TransferQueue; each call
runs on the engine loop, awaited from the GUI loop. The queue's progress events
come back coalesced (the newest per transfer) in one GUI-loop callback at a
time, and update the bridge's copy of every transfer's latest snapshot before
its listeners (the :class:`~orbit_gui.models.transfer_model.TransferModel`) see
them. The engine's questions (a conflict, a secret, a host key) go the other
way: the engine awaits the GUI's answer. The engine thread never holds a Qt
object: its hooks are this bridge's own methods, which look the GUI's prompt up
on the GUI loop.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..engine.connections import ConnectionPool, HostKeyPrompt, SecretPrompt
from ..engine.errors import Cancelled, NotFound
from ..engine.loop_thread import LoopThread, run_on
from ..engine.profiles import ProfileStore
from ..engine.transfer import (
    ConflictResolver,
    Endpoint,
    Scheduler,
    TransferEvent,
    TransferQueue,
    TransferRecord,
    TransferRemoved,
    TransferRequest,
    TransferSnapshot,
)
from ..engine.transfer.progress import EventListeners

__all__ = ["QueueBridge", "TransferHandle"]

Prompt = Callable[..., Awaitable[Any]]

_RESOLVER, _SECRET, _HOST_KEY = "conflict resolver", "secret prompt", "host key prompt"


class _Conflicts:
    """The bridge's ``conflicts``: as on a TransferQueue, its ``resolver`` is who answers."""

    def __init__(self, bridge: QueueBridge) -> None:
        self._bridge = bridge

    @property
    def resolver(self) -> ConflictResolver | None:
        return self._bridge._prompts.get(_RESOLVER)

    @resolver.setter
    def resolver(self, resolver: ConflictResolver | None) -> None:
        self._bridge._set_prompt(_RESOLVER, resolver)


class TransferHandle:
    """A transfer of the bridged queue, as the GUI sees it."""

    def __init__(self, bridge: QueueBridge, snapshot: TransferSnapshot) -> None:
        self._bridge = bridge
        self.id = snapshot.id
        self.latest = snapshot
        """The latest snapshot the GUI loop received."""

    def snapshot(self) -> TransferSnapshot:
        return self.latest

    @functools.cached_property
    def request(self) -> TransferRequest:
        """What it copies, with the engine's own backends (NotFound once removed)."""
        return self._bridge.engine.call(lambda: self._bridge._queue.get(self.id).request)

    async def wait(self) -> TransferSnapshot:
        """Wait until the transfer ends (done, failed, cancelled, paused)."""
        return await self._bridge.engine.run(self._bridge._wait, self.id)


class QueueBridge:
    """A TransferQueue and its ConnectionPool on ``engine``, driven from the GUI loop."""

    def __init__(self, engine: LoopThread, queue: TransferQueue, pool: ConnectionPool) -> None:
        self.engine = engine
        self.conflicts = _Conflicts(self)
        self.hub = EventListeners()
        """Listeners of the queue's events, called on the GUI loop."""
        self._queue = queue
        self._pool = pool
        self._gui_loop = asyncio.get_running_loop()
        self._prompts: dict[str, Prompt] = {}
        self._handles: dict[str, TransferHandle] = {}
        self._pending: dict[str, TransferEvent] = {}
        self._delivery_due = False
        self._lock = threading.Lock()
        self.connection_opened: Callable[[], None] = lambda: None
        """Called on the GUI loop once a transfer queued had to open a connection on the
        engine. What that loads lives as long as the connection (an S3 client is
        ~100,000 objects): the app keeps it out of the garbage collector's sight, or
        the next collections on the Qt thread walk it all while the transfer starts."""
        for snapshot in engine.call(queue.snapshots):
            self._track(snapshot)
        self._unlisten = engine.call(queue.hub.add_listener, self._on_engine_event)

    @classmethod
    async def open(cls, engine: LoopThread, store: ProfileStore,
                   journal_path: Path | str | None = None, **options: Any) -> QueueBridge:
        """A queue (``options`` as for TransferQueue) with its journal at ``journal_path``,
        and a pool of connections to ``store``'s profiles, both made on ``engine``."""

        async def make() -> tuple[TransferQueue, ConnectionPool]:
            pool = ConnectionPool(store)
            return await TransferQueue.open(journal_path, opener=pool.get, **options), pool

        return cls(engine, *await engine.run(make))

    # -- what the GUI asks -------------------------------------------------------------------

    @property
    def transfers(self) -> list[TransferHandle]:
        """In queue order, as the latest snapshots say."""
        return sorted(self._handles.values(), key=lambda handle: handle.latest.position)

    def snapshots(self) -> list[TransferSnapshot]:
        return [handle.latest for handle in self.transfers]

    def get(self, transfer_id: str) -> TransferHandle:
        try:
            return self._handles[transfer_id]
        except KeyError:
            raise NotFound(f"there is no transfer {transfer_id!r} in the queue") from None

    @property
    def scheduler(self) -> Scheduler:
        """The engine's scheduler, to read (its ``limit``); change it with set_concurrency."""
        return self._queue.scheduler

    async def add(self, request: TransferRequest, *, priority: int = 0) -> TransferHandle:
        """Queue ``request``: its two sides are reopened on the engine by profile name."""
        snapshot, opened = await self.engine.run(self._add, request, priority)
        if opened:
            self.connection_opened()
        return self._handle(snapshot)

    async def _add(self, request: TransferRequest, priority: int
                   ) -> tuple[TransferSnapshot, bool]:
        source, destination = request.source, request.destination
        opened = any(ref is not None and self._pool.cached(ref) is None
                     for ref in (source.ref, destination.ref))
        own = TransferRequest(
            Endpoint(await self._pool.get(source.ref), source.path, source.ref),
            Endpoint(await self._pool.get(destination.ref), destination.path, destination.ref),
            request.recursive, request.options)
        return self._queue.add(own, priority=priority).snapshot(), opened

    async def resume_record(self, record: TransferRecord) -> TransferHandle:
        """Continue a transfer an earlier run left unfinished."""
        return self._handle(await self.engine.run(self._resume_record, record))

    async def _resume_record(self, record: TransferRecord) -> TransferSnapshot:
        return (await self._queue.resume_record(record)).snapshot()

    def _handle(self, snapshot: TransferSnapshot) -> TransferHandle:
        """The handle of a transfer just queued (its first event may have come already)."""
        return self._handles.get(snapshot.id) or self._track(snapshot)

    def _track(self, snapshot: TransferSnapshot) -> TransferHandle:
        handle = self._handles.get(snapshot.id)
        if handle is None:
            handle = self._handles[snapshot.id] = TransferHandle(self, snapshot)
        else:
            handle.latest = snapshot
        return handle

    async def _wait(self, transfer_id: str) -> TransferSnapshot:
        return await self._queue.get(transfer_id).wait()

    def move(self, transfer_id: str, position: int) -> None:
        self.engine.call(self._queue.move, transfer_id, position)

    def set_concurrency(self, limit: int) -> None:
        self.engine.call(self._queue.set_concurrency, limit)

    def set_bwlimit(self, rate: float | None, transfer_id: str | None = None) -> None:
        self.engine.call(self._queue.set_bwlimit, rate, transfer_id)

    async def pause(self, transfer_id: str) -> None:
        await self.engine.run(self._queue.pause, transfer_id)

    async def resume(self, transfer_id: str) -> None:
        await self.engine.run(self._queue.resume, transfer_id)

    retry = resume

    async def cancel(self, transfer_id: str) -> None:
        await self.engine.run(self._queue.cancel, transfer_id)

    async def remove(self, transfer_id: str) -> None:
        await self.engine.run(self._queue.remove, transfer_id)

    async def clear_finished(self) -> None:
        await self.engine.run(self._queue.clear_finished)

    async def pause_all(self) -> None:
        await self.engine.run(self._queue.pause_all)

    async def resume_all(self) -> None:
        await self.engine.run(self._queue.resume_all)

    async def interrupted(self) -> list[TransferRecord]:
        return await self.engine.run(self._queue.interrupted)

    async def history(self, limit: int = 200) -> list[TransferRecord]:
        return await self.engine.run(self._queue.history, limit)

    async def discard_record(self, record: TransferRecord) -> None:
        await self.engine.run(self._queue.discard_record, record)

    # -- the engine's questions, answered on the GUI loop -------------------------------------

    @property
    def secret_prompt(self) -> SecretPrompt | None:
        """Asked when a transfer's connection needs a secret (as ConnectionPool's hook)."""
        return self._prompts.get(_SECRET)

    @secret_prompt.setter
    def secret_prompt(self, prompt: SecretPrompt | None) -> None:
        self._set_prompt(_SECRET, prompt)

    @property
    def host_key_prompt(self) -> HostKeyPrompt | None:
        """Asked when a transfer's connection meets an unknown host key."""
        return self._prompts.get(_HOST_KEY)

    @host_key_prompt.setter
    def host_key_prompt(self, prompt: HostKeyPrompt | None) -> None:
        self._set_prompt(_HOST_KEY, prompt)

    def _set_prompt(self, kind: str, prompt: Prompt | None) -> None:
        if prompt is None:
            self._prompts.pop(kind, None)
        else:
            self._prompts[kind] = prompt
        hook = None if prompt is None else functools.partial(self._ask_gui, kind)
        self.engine.call(self._install, kind, hook)

    def _install(self, kind: str, hook: Prompt | None) -> None:
        """On the engine loop: the queue's or the pool's hook for ``kind``."""
        if kind == _RESOLVER:
            self._queue.conflicts.resolver = hook
        elif kind == _SECRET:
            self._pool.secret_prompt = hook
        else:
            self._pool.host_key_prompt = hook

    async def _ask_gui(self, kind: str, *args: Any) -> Any:
        """On the engine loop: the GUI's answer to ``kind`` of question."""
        return await run_on(self._gui_loop, self._answer, kind, *args)

    async def _answer(self, kind: str, *args: Any) -> Any:
        prompt = self._prompts.get(kind)
        if prompt is None:
            raise Cancelled(f"the window no longer answers the {kind}")
        return await prompt(*args)

    # -- events, engine loop to GUI loop -------------------------------------------------------

    def _on_engine_event(self, event: TransferEvent) -> None:
        with self._lock:
            self._pending[event.id] = event
            if self._delivery_due:
                return
            self._delivery_due = True
        self._gui_loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._delivery_due = False
        for event in pending.values():
            if isinstance(event, TransferRemoved):
                self._handles.pop(event.id, None)
            else:
                self._track(event)
        for event in pending.values():
            self.hub.deliver(event)

    # -- shutdown ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop running transfers (they stay resumable in the journal), then close the
        transfers' connections; the engine thread itself is its owner's to stop."""
        self._prompts.clear()
        await self.engine.run(self._close)
        self._deliver()

    async def _close(self) -> None:
        await self._queue.aclose()
        self._unlisten()
        self._install(_RESOLVER, None)
        self._install(_SECRET, None)
        self._install(_HOST_KEY, None)
        await self._pool.aclose()
