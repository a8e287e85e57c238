"""The test proxies stop copying as soon as a side goes away (their own behaviour,
on loopback, with a real asyncio server behind them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from tests.conftest import LogGuard
from tests.engine.delay_proxy import DelayProxy
from tests.fault_proxy import FaultProxy

_CHUNK = 256 * 1024
_CHUNKS = 64


class StreamingServer:
    """Answers any request with a 16 MiB body, written as fast as the reader takes it."""

    def __init__(self) -> None:
        self.finished = asyncio.Event()
        self.port = 0

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (_CHUNK * _CHUNKS))
            for _ in range(_CHUNKS):
                writer.write(b"x" * _CHUNK)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.finished.set()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[StreamingServer]:
        server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()


ProxyFactory = Callable[[int], "DelayProxy | FaultProxy"]


@pytest.mark.parametrize("make_proxy", [
    pytest.param(lambda port: DelayProxy("127.0.0.1", port), id="delay"),
    pytest.param(lambda port: FaultProxy("127.0.0.1", port, limit=0), id="fault"),
])
async def test_a_client_gone_midway_ends_the_copy_without_asyncio_warnings(
        make_proxy: ProxyFactory, log_guard: LogGuard) -> None:
    async with StreamingServer().serving() as upstream:
        proxy = make_proxy(upstream.port)
        async with proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await reader.readexactly(_CHUNK)
            writer.transport.abort()  # the client goes away in the middle of the body
            await upstream.finished.wait()
            # The proxy's own connection ends by itself, before aclose would cancel it.
            await asyncio.gather(*proxy._connections)
    assert not [r.getMessage() for r in log_guard.records], \
        "the proxy wrote on to a lost connection"
