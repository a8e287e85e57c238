"""One SMB connection, its authenticated session and its share connections.

Everything here blocks and runs in the backend's worker threads. smbprotocol's
``Connection`` is safe to share between threads (message ids, credits and the
socket are locked; one receiver thread hands each response to its waiter), so
several threads keep requests in flight over the same session.

Signing: with ``signing="auto"`` (the default, as in Windows and Samba's
smbclient) messages are signed only when the server requires it, except the
SMB 3.1.1 TREE_CONNECT, which the protocol requires signed (smbprotocol signs
it only when it signs everything; we sign that one request ourselves).
"""

from __future__ import annotations

import errno
import logging
import select
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from smbprotocol.connection import Connection, Dialects
from smbprotocol.exceptions import SMBException
from smbprotocol.header import Commands
from smbprotocol.session import Session
from smbprotocol.transport import Tcp
from smbprotocol.tree import TreeConnect

from .settings import SmbSettings

__all__ = ["CREDIT_TARGET", "SmbClient"]

log = logging.getLogger(__name__)

CREDIT_TARGET = 512
"""Credits we keep asking the server for (one per 64 KiB in flight)."""
_CREDIT_WAIT = 60.0


_LENGTH = struct.Struct(">L")
_READ_HEAD = struct.Struct("<4s4xIH2xIIQ32xHBxI8x")
"""SMB2 header (magic, status, command, flags, next command, message id) and the
fixed part of a READ response (structure size, data offset, data length)."""
_FLAGS_SIGNED = 0x00000008


class _ZeroCopyTcp(Tcp):  # type: ignore[misc]  # smbprotocol is untyped
    """smbprotocol's transport, receiving with as few copies as possible.

    The original ``_recv`` asks the socket for the whole remaining length on every
    call (allocating that much each time, then shrinking it), copies each piece
    into a buffer and copies the buffer once more at the end; on multi-megabyte
    READ responses that costs more CPU than everything else together. This one
    ``recv_into``-s a single buffer and hands out a view of it.

    READ responses a reader announced with :meth:`expect` go further: their data
    is received into one reused buffer and kept, as bytes, for :meth:`take`
    (one copy); smbprotocol gets the header and fixed part only, so it neither
    copies the data into the message it keeps nor leaves it for the reader to
    slice out (two copies and a zero-filled buffer less per response). Signed,
    encrypted, compound and failed responses take the ordinary path.

    Same locking, same timeouts, same handling of a connection reset (the caller
    sees the connection closed and reports it).
    """

    expected: set[int]
    payloads: dict[int, bytes]
    _spare: bytearray

    @classmethod
    def adopt(cls, transport: Tcp) -> None:
        """Turn smbprotocol's connected ``transport`` into one of these (between two
        messages: the receiver thread picks the methods up with the next one)."""
        transport.expected = set()
        transport.payloads = {}
        transport._spare = bytearray()
        transport.__class__ = cls

    def expect(self, message_id: int) -> None:
        """Keep the data of the READ response to ``message_id`` for :meth:`take`
        (a response that arrived already went the ordinary way)."""
        self.expected.add(message_id)

    def take(self, message_id: int) -> bytes | None:
        """The data of an expected READ response once it arrived; None when it came
        the ordinary way (its data is then in the response)."""
        self.expected.discard(message_id)
        return self.payloads.pop(message_id, None)

    def recv(self, timeout: float) -> memoryview | bytes | None:
        size, timeout = self._recv(_LENGTH.size, timeout)
        if not size:
            return b""
        (length,) = _LENGTH.unpack(size)
        if length <= _READ_HEAD.size or not self.expected:
            return self._recv(length, timeout)[0]
        message = memoryview(bytearray(_READ_HEAD.size))
        ok, timeout = self._recv_into(message, timeout)
        if not ok:
            return None
        magic, status, command, flags, following, message_id, structure, offset, count = (
            _READ_HEAD.unpack(message))
        if (magic != b"\xfeSMB" or status or command != Commands.SMB2_READ
                or flags & _FLAGS_SIGNED or following or structure != 17
                or offset < _READ_HEAD.size or offset + count != length
                or message_id not in self.expected):
            whole = memoryview(bytearray(length))
            whole[: _READ_HEAD.size] = message
            ok, timeout = self._recv_into(whole[_READ_HEAD.size :], timeout)
            return whole if ok else None
        if offset > _READ_HEAD.size:  # padding before the data
            message = memoryview(bytes(message) + bytes(offset - _READ_HEAD.size))
            ok, timeout = self._recv_into(message[_READ_HEAD.size :], timeout)
            if not ok:
                return None
        if len(self._spare) < count:
            self._spare = bytearray(count)
        data = memoryview(self._spare)[:count]
        ok, timeout = self._recv_into(data, timeout)
        if not ok:
            return None
        self.payloads[message_id] = bytes(data)
        return message

    def _recv(self, length: int, timeout: float) -> tuple[memoryview | None, float]:
        view = memoryview(bytearray(length))
        ok, timeout = self._recv_into(view, timeout)
        return (view if ok else None), timeout

    def _recv_into(self, view: memoryview, timeout: float) -> tuple[bool, float]:
        """Fill ``view`` from the socket; False once the connection is closed."""
        length = len(view)
        offset = 0
        while offset < length:
            start = time.monotonic()
            with self._close_lock:
                if not self.connected:
                    return False, timeout
                ready = select.select([self._sock], [], [], max(timeout, 1))[0]
                elapsed = time.monotonic() - start
                timeout -= elapsed
                if not ready:
                    raise TimeoutError(f"recv idle for {elapsed:.1f}s ({offset}/{length} bytes)")
                try:
                    got = self._sock.recv_into(view[offset:])
                except OSError as exc:
                    if exc.errno not in (errno.ESHUTDOWN, errno.ECONNRESET, errno.ECONNABORTED):
                        raise
                    log.info("the SMB server %s:%s reset the connection", self.server, self.port)
                    got = 0
            if got == 0:
                self.close()
                return False, timeout
            offset += got
        return True, timeout


class SmbClient:
    """A connected, logged-in SMB session (blocking; call from worker threads)."""

    def __init__(self, settings: SmbSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password
        self._lock = threading.Lock()
        self._trees: dict[str, Any] = {}
        self.connection: Any = None
        self.session: Any = None
        self.closed = False

    # -- life cycle ------------------------------------------------------------------------

    def connect(self) -> None:
        s = self.settings
        conn = Connection(uuid.uuid4(), s.host, s.port, require_signing=s.signing == "required")
        conn.connect(timeout=s.connect_timeout)
        try:
            session = Session(
                conn,
                username=s.login or None,
                password=self._password,
                require_encryption=s.encrypt == "required",
                auth_protocol=s.auth,
            )
            if s.encrypt == "preferred":
                session.require_encryption = bool(conn.supports_encryption)
            session.connect()
            if type(conn.transport) is Tcp and hasattr(Tcp, "_recv"):
                _ZeroCopyTcp.adopt(conn.transport)
            self.connection, self.session = conn, session
            self._top_up_credits()
        except BaseException:
            conn.disconnect(False)
            raise

    def _top_up_credits(self) -> None:
        """Ask for enough credits to keep several large requests in flight."""
        missing = CREDIT_TARGET - self.credits()
        if missing > 0 and self.connection.supports_multi_credit:
            self.connection.echo(sid=self.session.session_id, timeout=self.settings.connect_timeout,
                                 credit_request=missing)

    @property
    def alive(self) -> bool:
        conn = self.connection
        return (
            not self.closed
            and conn is not None
            and conn.transport is not None
            and conn.transport.connected
            and getattr(conn, "_t_exc", None) is None
        )

    def close(self) -> None:
        """Close every handle and share, log off and drop the connection."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            conn = self.connection
            self._trees.clear()
        if conn is None:
            return
        try:
            if conn.transport is not None and conn.transport.connected:
                conn.disconnect(True, timeout=self.settings.connect_timeout)
        except Exception:
            conn.disconnect(False)

    # -- shares ----------------------------------------------------------------------------

    def tree(self, share: str) -> Any:
        """The (cached) connection to ``share``."""
        key = share.lower()
        tree = self._trees.get(key)
        if tree is not None:
            return tree
        with self._lock:
            tree = self._trees.get(key)
            if tree is None:
                tree = self._tree_connect(share)
                self._trees[key] = tree
        return tree

    def _tree_connect(self, share: str) -> Any:
        if self.closed:
            raise SMBException("the SMB session is closed")
        tree = TreeConnect(self.session, rf"\\{self.settings.host}\{share}")
        session = self.session
        sign_once = (
            not session.signing_required
            and not session.encrypt_data
            and session.signing_key is not None
            and self.connection.dialect >= Dialects.SMB_3_1_1
        )
        if not sign_once:
            tree.connect()
            return tree
        # Signing the TREE_CONNECT is mandatory in SMB 3.1.1. Other threads sending
        # meanwhile get signed too, which is harmless.
        session.signing_required = True
        try:
            tree.connect()
        finally:
            session.signing_required = False
        return tree

    # -- requests --------------------------------------------------------------------------

    @property
    def max_read(self) -> int:
        return int(self.connection.max_read_size)

    @property
    def max_write(self) -> int:
        return int(self.connection.max_write_size)

    @property
    def max_transact(self) -> int:
        return int(self.connection.max_transact_size)

    def credits(self) -> int:
        window = self.connection.sequence_window
        return int(window["high"] - window["low"])

    def _charge(self, message: Any) -> int:
        return int(self.connection._calculate_credit_charge(message)) or 1

    def wait_credits(self, needed: int) -> None:
        """Block until ``needed`` credits are free (others' responses return them)."""
        deadline = time.monotonic() + _CREDIT_WAIT
        while self.credits() < needed:
            if not self.alive:
                raise SMBException("the SMB connection was closed")
            if time.monotonic() > deadline:
                raise SMBException(f"timeout waiting for {needed} SMB credits")
            time.sleep(0.001)

    def send(self, tree: Any, messages: Sequence[Any], *, related: bool = False) -> list[Any]:
        """Send one request, or several as one compound; returns their Request objects."""
        conn = self.connection
        sid = self.session.session_id
        tid = tree.tree_connect_id if tree is not None else None
        charge = sum(self._charge(m) for m in messages)
        if self.credits() < charge:
            self.wait_credits(charge)
        if len(messages) == 1:
            return [conn.send(messages[0], sid, tid, credit_request=self.credit_request(charge))]
        return list(conn.send_compound(list(messages), sid, tid, related=related))

    def credit_request(self, charge: int) -> int:
        """Credits to ask for with a request costing ``charge``: what it spends, plus
        some while the window is below CREDIT_TARGET."""
        if not self.connection.supports_multi_credit:
            return max(charge, 1)
        available = self.credits() - charge
        return max(charge, 1) + min(256, max(0, CREDIT_TARGET - available))

    def receive(self, request: Any) -> Any:
        """Wait for the response to ``request``; raises for a failure status, or when
        the server has not answered within ``request_timeout`` seconds."""
        return self.connection.receive(request, timeout=self.settings.request_timeout)

    def expect_data(self, request: Any) -> None:
        """Have the data of the READ ``request`` kept aside for :meth:`take_data`."""
        transport = self.connection.transport
        if isinstance(transport, _ZeroCopyTcp):
            transport.expect(request.message["message_id"].get_value())

    def take_data(self, request: Any) -> bytes | None:
        """The data of a received READ response announced with :meth:`expect_data`,
        or None when it is in the response itself."""
        transport = self.connection.transport
        if not isinstance(transport, _ZeroCopyTcp):
            return None
        return transport.take(request.message["message_id"].get_value())

    def discard(self, requests: Sequence[Any]) -> None:
        """Collect and drop the responses to requests we no longer need."""
        for request in requests:
            try:
                self.connection.receive(request)
            except Exception:  # the answer is not wanted any more
                pass
            self.take_data(request)
