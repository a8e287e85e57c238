"""A tiny HTTP/1.1 proxy on 127.0.0.1 that can hold back the response to one request.

It sits between a client and a real server (moto, rclone) and passes bytes
through unchanged. It reads the request heads the client sends (to know where
each request starts, it skips ``Content-Length`` bodies; a chunked request body
switches the connection to plain pass-through), records them, and when a head
matches a :meth:`DelayProxy.hold` predicate, it forwards the request but keeps
the server's response from the client until the test calls ``release()``:
a server that is slow on one request, on cue.

HTTP/1.1 clients do not pipeline: a client sends its next request on a
connection only after reading the previous response whole, so every byte that
comes back after a held request was forwarded belongs to that request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.http_relay import COPY_SIZE, RequestHead, forward, pipe

__all__ = ["DelayProxy", "HeldRequest", "RequestHead"]


@dataclass(eq=False)
class HeldRequest:
    """The first request matching ``match``; its response waits for :meth:`release`."""

    match: Callable[[RequestHead], bool]
    head: RequestHead | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the request went to the server and its response is being held."""
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


class _Gate:
    def __init__(self) -> None:
        self.held: HeldRequest | None = None


class DelayProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream_host:upstream_port``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.requests: list[RequestHead] = []
        self._holds: list[HeldRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self, match: Callable[[RequestHead], bool]) -> HeldRequest:
        held = HeldRequest(match)
        self._holds.append(held)
        return held

    async def start(self) -> DelayProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        for held in self._holds:
            held.release()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        # Let every connection handler run its clean-up to the end before returning.
        await asyncio.gather(*self._tasks, *self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> DelayProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        connection = asyncio.current_task()
        assert connection is not None
        self._connections.add(connection)
        self._writers.add(client_w)
        server_w: asyncio.StreamWriter | None = None
        pumps: list[asyncio.Task[None]] = []
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
            self._writers.add(server_w)
            gate = _Gate()
            pumps = [asyncio.create_task(self._requests(client_r, server_w, gate)),
                     asyncio.create_task(self._responses(server_r, client_w, gate))]
            self._tasks.update(pumps)
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass  # the proxy is closing, or a side went away: end this connection quietly
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_w, server_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()
            self._connections.discard(connection)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        gate: _Gate) -> None:
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            head = RequestHead.parse(raw)
            self.requests.append(head)
            held = next((h for h in self._holds if h.head is None and h.match(head)), None)
            if held is not None:
                held.head = head
                gate.held = held
            if not await forward(writer, raw):
                return
            if held is not None:
                held.arrived.set()
            if "chunked" in head.headers.get("transfer-encoding", "").lower():
                await pipe(reader, writer, None)  # no more request boundaries to find
                return
            if not await pipe(reader, writer, int(head.headers.get("content-length", "0"))):
                return

    async def _responses(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         gate: _Gate) -> None:
        while True:
            try:
                data = await reader.read(COPY_SIZE)
            except ConnectionError:
                return
            if not data:
                return
            if gate.held is not None:
                await gate.held.released.wait()
                gate.held = None
            if not await forward(writer, data):
                return
