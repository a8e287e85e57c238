"""SFTP failures translated into the engine's error tree, in one place.

SFTP status codes map one to one where the server is precise. OpenSSH's
server (protocol version 3) answers most failures with the catch-all
FX_FAILURE; the operations that can tell "exists", "not empty" or "not a
folder" apart do so by a follow-up stat before calling :func:`map_error`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncssh

from ...errors import (
    AlreadyExists,
    ConnectionFailed,
    DirectoryNotEmpty,
    InvalidPath,
    IsADirectory,
    NoSpace,
    NotADirectory,
    NotFound,
    OrbitError,
    PermissionDenied,
    Timeout,
    Unsupported,
)

__all__ = ["SFTP_STATUS_ERRORS", "is_connection_error", "map_error", "mapped"]

SFTP_STATUS_ERRORS: dict[int, type[OrbitError]] = {
    asyncssh.FX_NO_SUCH_FILE: NotFound,
    asyncssh.FX_NO_SUCH_PATH: NotFound,
    asyncssh.FX_PERMISSION_DENIED: PermissionDenied,
    asyncssh.FX_WRITE_PROTECT: PermissionDenied,
    asyncssh.FX_CANNOT_DELETE: PermissionDenied,
    asyncssh.FX_FILE_ALREADY_EXISTS: AlreadyExists,
    asyncssh.FX_NO_SPACE_ON_FILESYSTEM: NoSpace,
    asyncssh.FX_QUOTA_EXCEEDED: NoSpace,
    asyncssh.FX_DIR_NOT_EMPTY: DirectoryNotEmpty,
    asyncssh.FX_NOT_A_DIRECTORY: NotADirectory,
    asyncssh.FX_FILE_IS_A_DIRECTORY: IsADirectory,
    asyncssh.FX_INVALID_FILENAME: InvalidPath,
    asyncssh.FX_LINK_LOOP: InvalidPath,
    asyncssh.FX_OP_UNSUPPORTED: Unsupported,
    asyncssh.FX_NO_CONNECTION: ConnectionFailed,
    asyncssh.FX_CONNECTION_LOST: ConnectionFailed,
}

_CONNECTION_ERRORS = (
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    ConnectionError,  # BrokenPipeError, ConnectionResetError, ... from the transport
)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the SSH connection itself is gone."""
    if isinstance(exc, asyncssh.SFTPError):
        return exc.code in (asyncssh.FX_NO_CONNECTION, asyncssh.FX_CONNECTION_LOST)
    return isinstance(exc, _CONNECTION_ERRORS)


def map_error(exc: BaseException, *, where: str, path: str | None = None) -> OrbitError | None:
    """The engine error for ``exc`` raised by an SFTP call, or None if it is not ours.

    ``where`` is "host:port", named in connection messages.
    """
    if isinstance(exc, OrbitError):
        return exc
    subject = path or where
    if is_connection_error(exc):
        reason = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
        return ConnectionFailed(
            f"lost the connection to {where} ({reason}); try again", path=path, host=where,
            retriable=True,
        )
    if isinstance(exc, asyncssh.SFTPError):
        kind = SFTP_STATUS_ERRORS.get(exc.code, OrbitError)
        reason = exc.reason or type(exc).__name__
        return kind(f"{subject}: {reason} (on {where})", path=path, host=where)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Timeout(f"{where} did not answer in time", path=path, host=where)
    return None


@contextmanager
def mapped(where: str, path: str | None = None) -> Iterator[None]:
    """Translate SFTP and connection errors raised inside into engine errors."""
    try:
        yield
    except Exception as exc:
        mapped_exc = map_error(exc, where=where, path=path)
        if mapped_exc is None or mapped_exc is exc:
            raise
        raise mapped_exc from exc
