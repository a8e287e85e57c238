"""Flush an upload to the server's disk while it still arrives.

An upload is fsynced on the server before it is published (a crash must not leave
a file with holes under its final name), and that fsync writes everything the
server still holds in memory: ~0.25 s at the end of every 512 MiB measured here,
a quarter of the upload. OpenSSH's sftp-server answers one request at a time, so
a flush on the upload's own channel would hold up its writes. :class:`EarlyFlush`
asks on a second channel (its own sftp-server, sharing the SSH connection): an
fsync of the same file there, whenever another FLUSH_EVERY bytes have been written,
so the disk writes along with the network and the final fsync finds little left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

import asyncssh

__all__ = ["FLUSH_EVERY", "EarlyFlush"]

FLUSH_EVERY = 32 * 1024 * 1024
"""Bytes written between two early flushes (and the least an upload needs to have one)."""

OpenFlushClient = Callable[[], Awaitable[asyncssh.SFTPClient | None]]


class EarlyFlush:
    """Early flushes of one upload's temporary file ``path``; never raises.

    ``open_client`` gives the second SFTP client (None: the server cannot fsync
    or refuses a second channel; the upload then just flushes at the end).
    """

    def __init__(self, open_client: OpenFlushClient, path: str) -> None:
        self._open_client = open_client
        self._path = path
        self._every = FLUSH_EVERY
        self._unflushed = 0
        self._file: asyncssh.SFTPClientFile | None = None
        self._task: asyncio.Task[None] | None = None
        self._disabled = False

    def wrote(self, count: int) -> None:
        """The server confirmed ``count`` more bytes; flush if enough have piled up."""
        self._unflushed += count
        if self._disabled or self._unflushed < self._every:
            return
        if self._task is not None and not self._task.done():
            return
        self._unflushed = 0
        self._task = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        try:
            if self._file is None:
                client = await self._open_client()
                if client is None:
                    self._disabled = True
                    return
                self._file = await client.open(self._path, asyncssh.FXF_READ, encoding=None,
                                               block_size=0)
            await self._file.fsync()
        except (asyncssh.Error, OSError):
            self._disabled = True  # the final fsync on the upload's own channel still runs

    async def close(self, *, wait: bool = True) -> None:
        """Let go of the file: after the flush under way (the final fsync then has less
        to do), or with ``wait=False`` (an abort) stop it."""
        self._disabled = True
        task, self._task = self._task, None
        if task is not None:
            if not wait:
                task.cancel()
            await asyncio.wait({task})
        file, self._file = self._file, None
        if file is not None:
            with suppress(asyncssh.Error, OSError):
                await file.close()
