"""A loopback HTTP/1.1 proxy that breaks a share of the requests passing through it.

It forwards 127.0.0.1:PORT to a real server (moto, ``rclone serve s3``). Every
``every``-th request that ``match`` accepts (at most ``limit`` in all, so a test
always converges) is broken in turn in one of these ways:

- ``"503"``: answered by the proxy with ``503 Slow Down`` (the S3 throttling
  error) without reaching the server, connection closed;
- ``"reset"``: the connection is reset (RST) before the request is forwarded;
- ``"cut"``: the request reaches the server, and the response is cut by a reset
  after its first ``cut_after`` bytes (a download that breaks midway).

HTTP/1.1 clients do not pipeline, so all bytes coming back after a forwarded
request belong to its response. Only loopback; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import Counter
from collections.abc import Callable, Sequence

from tests.http_relay import COPY_SIZE, RequestHead, forward, pipe

__all__ = ["FaultProxy", "RequestHead"]

_SLOW_DOWN = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
              b"<Message>Please reduce your request rate.</Message></Error>")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Cut:
    def __init__(self) -> None:
        self.after: int | None = None


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, every: int = 4,
                 limit: int = 60, kinds: Sequence[str] = ("503", "reset", "cut"),
                 cut_after: int = 2048,
                 match: Callable[[RequestHead], bool] | None = None) -> None:
        if every < 2:
            raise ValueError("every must be at least 2, or nothing would ever pass")
        self.upstream = (upstream_host, upstream_port)
        self.every = every
        self.limit = limit
        self.kinds = tuple(kinds)
        self.cut_after = cut_after
        self.match = match or (lambda head: True)
        self.requests: list[RequestHead] = []
        self.faults: Counter[str] = Counter()
        self._eligible = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fault_count(self) -> int:
        return sum(self.faults.values())

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _verdict(self, head: RequestHead) -> str | None:
        if not self.match(head) or self.fault_count >= self.limit:
            return None
        self._eligible += 1
        if self._eligible % self.every:
            return None
        kind = self.kinds[self.fault_count % len(self.kinds)]
        self.faults[kind] += 1
        return kind

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        server_w: asyncio.StreamWriter | None = None
        pumps: list[asyncio.Task[None]] = []
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
            cut = _Cut()
            pumps = [asyncio.create_task(self._requests(client_r, client_w, server_w, cut)),
                     asyncio.create_task(self._responses(server_r, client_w, cut))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_w, server_w):
                if writer is not None:
                    writer.close()
            self._connections.discard(task)

    async def _requests(self, reader: asyncio.StreamReader, client_w: asyncio.StreamWriter,
                        server_w: asyncio.StreamWriter, cut: _Cut) -> None:
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            head = RequestHead.parse(raw)
            self.requests.append(head)
            verdict = self._verdict(head)
            if verdict == "reset":
                _reset(client_w)
                return
            if verdict == "503":
                body = b"" if head.method == "HEAD" else _SLOW_DOWN
                await forward(client_w, b"HTTP/1.1 503 Slow Down\r\n"
                              b"Content-Type: application/xml\r\n"
                              b"Content-Length: " + str(len(_SLOW_DOWN)).encode() +
                              b"\r\nConnection: close\r\n\r\n" + body)
                return
            if verdict == "cut":
                cut.after = self.cut_after
            if not await forward(server_w, raw):
                return
            if "chunked" in head.headers.get("transfer-encoding", "").lower():
                await pipe(reader, server_w, None)
                return
            if not await pipe(reader, server_w, int(head.headers.get("content-length", "0"))):
                return

    async def _responses(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         cut: _Cut) -> None:
        while True:
            try:
                data = await reader.read(COPY_SIZE)
            except ConnectionError:
                return
            if not data:
                return
            if cut.after is not None:
                if len(data) >= cut.after:
                    await forward(writer, data[: cut.after])
                    _reset(writer)
                    return
                cut.after -= len(data)
            if not await forward(writer, data):
                return
