"""Several READ or WRITE requests in flight on one handle, from one worker thread.

smbprotocol's file objects wait for each response before the next request;
here a request is sent as soon as a slot is free and responses are collected
in order, so the link stays busy while memory stays bounded by
``depth x chunk``. Each method call is one short trip through a worker thread;
a lock serialises them, so a close from a cancelled consumer waits for the
call still running and then collects what is still in flight.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from typing import Any

from smbprotocol.connection import Request
from smbprotocol.exceptions import EndOfFile, SMBException
from smbprotocol.header import Commands, SMB2HeaderRequest
from smbprotocol.open import SMB2ReadRequest, SMB2WriteRequest

from .session import SmbClient

__all__ = ["ReadPipeline", "WritePipeline", "send_write"]

_HEADER = struct.Struct("<4sHHHHHHIIQIIQ16s")
_WRITE = struct.Struct("<HHIQ16sIIHHI")
_FLAGS_SIGNED = 0x00000008
_FLAGS_DFS = 0x10000000
_PAYLOAD_UNIT = 64 * 1024


def send_write(client: SmbClient, handle: Any, offset: int, data: memoryview) -> Any:
    """Send one WRITE of ``data`` at ``offset`` with as few copies as possible.

    smbprotocol packs a request by concatenating bytes three times over before the
    socket copies it once more, and keeps the packed message with the pending
    request until its answer comes; on large writes that costs more than the
    network. Here the 116 bytes of framing and headers are packed by hand and,
    on a plain session, the caller's buffer goes to the socket as it is (signing
    and encryption need the message whole: one join). Message ids, credits and
    the table of pending requests are handled exactly as smbprotocol's own send
    does, under its locks; a client without the expected internals takes
    smbprotocol's own path.
    """
    conn = client.connection
    session = client.session
    tree = handle.tree_connect
    transport = conn.transport
    lock = getattr(transport, "_sock_lock", None)
    sock = getattr(transport, "_sock", None)
    if lock is None or sock is None or not hasattr(conn, "_encrypt"):
        message = SMB2WriteRequest()
        message["length"] = len(data)
        message["offset"] = offset
        message["file_id"] = handle.file_id
        message["buffer"] = bytes(data)
        (request,) = client.send(tree, [message])
        return request
    encrypt = bool(session.encrypt_data or tree.encrypt_data)
    sign = not encrypt and bool(session.signing_required and session.signing_key)
    charge = (max(0, len(data) - 1) // _PAYLOAD_UNIT + 1) if conn.supports_multi_credit else 0
    if client.credits() < max(charge, 1):
        client.wait_credits(max(charge, 1))
    ask = client.credit_request(charge)
    with conn.sequence_lock:
        available = conn.sequence_window["high"] - conn.sequence_window["low"]
        if charge > available:
            raise SMBException(f"Request requires {charge} credits but only {available} "
                               "credits are available")
        message_id = conn.sequence_window["low"]
        conn.sequence_window["low"] += charge or 1
    flags = (_FLAGS_DFS if tree.is_dfs_share else 0) | (_FLAGS_SIGNED if sign else 0)
    header = _HEADER.pack(b"\xfeSMB", 64, charge, 0, 0, Commands.SMB2_WRITE, ask, flags, 0,
                          message_id, 0, tree.tree_connect_id, session.session_id, b"\x00" * 16)
    fixed = _WRITE.pack(49, 64 + 48, len(data), offset, handle.file_id, 0, 0, 0, 0, 0)
    record = SMB2HeaderRequest()
    record["command"] = Commands.SMB2_WRITE
    record["message_id"] = message_id
    record["tree_id"] = tree.tree_connect_id
    record["session_id"] = session.session_id
    request = Request(record, SMB2WriteRequest, conn, session_id=session.session_id)
    conn.outstanding_requests[message_id] = request
    if sign:
        signature = conn._generate_signature(b"".join((header, fixed, data)),
                                              session.signing_key, message_id, False,
                                              Commands.SMB2_WRITE)
        header = header[:48] + signature
    parts: tuple[bytes | memoryview, ...]
    if encrypt:
        sealed = conn._encrypt(b"".join((header, fixed, data)), session).pack()
        parts = (struct.pack(">I", len(sealed)), sealed)
    else:
        size = len(header) + len(fixed) + len(data)
        parts = (struct.pack(">I", size) + header + fixed, data)
    conn._check_worker_running()
    with lock:
        for part in parts:
            sock.sendall(part)
    return request


class ReadPipeline:
    """Reads ``[start, end)`` of an open file in ``chunk``-sized requests, in order."""

    def __init__(self, client: SmbClient, handle: Any, start: int, end: int, *,
                 chunk: int, depth: int) -> None:
        self.client = client
        self.handle = handle
        self.chunk = max(1, min(chunk, client.max_read))
        self.depth = max(1, depth)
        self._next = start
        self._end = end
        self._flight: deque[tuple[Any, int]] = deque()
        self._lock = threading.Lock()
        self._done = start >= end

    def _send(self) -> None:
        while not self._done and self._next < self._end and len(self._flight) < self.depth:
            length = min(self.chunk, self._end - self._next)
            message = SMB2ReadRequest()
            message["length"] = length
            message["offset"] = self._next
            message["file_id"] = self.handle.file_id
            message["padding"] = b"\x50"
            (request,) = self.client.send(self.handle.tree_connect, [message])
            self.client.expect_data(request)
            self._flight.append((request, length))
            self._next += length

    def next_chunk(self) -> bytes | None:
        """The next piece of the range, or None when it is complete."""
        with self._lock:
            if self._done:
                return None
            self._send()
            if not self._flight:
                self._done = True
                return None
            request, wanted = self._flight.popleft()
            try:
                raw = self.client.receive(request)["data"].get_value()
            except EndOfFile:  # the file shrank while we read it
                self._done = True
                return None
            except BaseException:
                self._done = True
                raise
            finally:
                data = self.client.take_data(request)
            if data is None:
                offset, length = struct.unpack_from("<BxI", raw, 2)
                data = raw[offset - 64 : offset - 64 + length]
            if len(data) < wanted:  # short read: the end of the file moved
                self._done = True
            return data or None

    def close(self) -> None:
        """Collect what is still in flight (no response is left behind)."""
        with self._lock:
            self._done = True
            pending = [request for request, _ in self._flight]
            self._flight.clear()
            self.client.discard(pending)


class WritePipeline:
    """Positional writes on an open file with up to ``depth`` requests in flight."""

    def __init__(self, client: SmbClient, handle: Any, *, depth: int) -> None:
        self.client = client
        self.handle = handle
        self.depth = max(1, depth)
        self._flight: deque[tuple[Any, int]] = deque()
        self._lock = threading.Lock()
        self._broken = False

    def _collect_oldest(self) -> int:
        request, length = self._flight.popleft()
        try:
            raw = self.client.receive(request)["data"].get_value()
        except BaseException:
            self._broken = True
            raise
        (count,) = struct.unpack_from("<I", raw, 4)
        if count != length:
            self._broken = True
            raise SMBException(f"the server stored {count} of {length} bytes")
        return length

    def push(self, offset: int, data: bytes | bytearray | memoryview) -> list[int]:
        """Send ``data`` (at most the negotiated write size) to ``offset``; return the
        sizes of the earlier writes confirmed meanwhile. ``data`` may be reused at once:
        the request is encoded before this returns."""
        with self._lock:
            if self._broken:
                raise SMBException("an earlier write of this upload failed")
            confirmed = []
            while len(self._flight) >= self.depth:
                confirmed.append(self._collect_oldest())
            request = send_write(self.client, self.handle, offset, memoryview(data))
            self._flight.append((request, len(data)))
            return confirmed

    def flush(self) -> list[int]:
        """Wait for every write in flight; return their sizes."""
        with self._lock:
            confirmed = []
            while self._flight:
                confirmed.append(self._collect_oldest())
            return confirmed

    def abandon(self) -> None:
        """Collect the writes in flight without caring how they went."""
        with self._lock:
            self._broken = True
            pending = [request for request, _ in self._flight]
            self._flight.clear()
            self.client.discard(pending)
