"""The one place where SMB failures become engine errors.

smbprotocol raises ``SMBResponseException`` subclasses carrying the NTSTATUS
code of a response, ``SMBAuthenticationError`` when the login cannot even be
attempted, ``SMBConnectionClosed`` or plain ``OSError``/``ValueError`` for a
dead or unreachable socket, and ``SMBException`` for everything else. Messages
name the server and the path and never carry the password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smbprotocol.exceptions import (
    SMBAuthenticationError,
    SMBConnectionClosed,
    SMBException,
    SMBResponseException,
)

from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    Cancelled,
    ConnectionFailed,
    DirectoryNotEmpty,
    InvalidPath,
    IsADirectory,
    NoSpace,
    NotADirectory,
    NotFound,
    OrbitError,
    PermissionDenied,
    ServerError,
    Timeout,
    Unsupported,
)

__all__ = ["NTSTATUS", "ErrorContext", "map_error", "mapped", "status_of"]


NTSTATUS = {
    "ACCESS_DENIED": 0xC0000022,
    "NETWORK_ACCESS_DENIED": 0xC00000CA,
    "PRIVILEGE_NOT_HELD": 0xC0000061,
    "MEDIA_WRITE_PROTECTED": 0xC00000A2,
    "CANNOT_DELETE": 0xC0000121,
    "OBJECT_NAME_NOT_FOUND": 0xC0000034,
    "OBJECT_PATH_NOT_FOUND": 0xC000003A,
    "NO_SUCH_FILE": 0xC000000F,
    "BAD_NETWORK_NAME": 0xC00000CC,
    "DELETE_PENDING": 0xC0000056,
    "OBJECT_NAME_COLLISION": 0xC0000035,
    "SHARING_VIOLATION": 0xC0000043,
    "FILE_LOCK_CONFLICT": 0xC0000054,
    "LOCK_NOT_GRANTED": 0xC0000055,
    "DISK_FULL": 0xC000007F,
    "QUOTA_EXCEEDED": 0xC0000044,
    "DISK_QUOTA_EXCEEDED": 0xC0000802,
    "LOGON_FAILURE": 0xC000006D,
    "WRONG_PASSWORD": 0xC000006A,
    "ACCOUNT_RESTRICTION": 0xC000006E,
    "ACCOUNT_DISABLED": 0xC0000072,
    "ACCOUNT_LOCKED_OUT": 0xC0000234,
    "ACCOUNT_EXPIRED": 0xC0000193,
    "PASSWORD_EXPIRED": 0xC0000071,
    "PASSWORD_MUST_CHANGE": 0xC0000224,
    "DIRECTORY_NOT_EMPTY": 0xC0000101,
    "NOT_A_DIRECTORY": 0xC0000103,
    "FILE_IS_A_DIRECTORY": 0xC00000BA,
    "OBJECT_NAME_INVALID": 0xC0000033,
    "OBJECT_PATH_INVALID": 0xC0000039,
    "OBJECT_PATH_SYNTAX_BAD": 0xC000003B,
    "NAME_TOO_LONG": 0xC0000106,
    "NOT_SUPPORTED": 0xC00000BB,
    "INVALID_DEVICE_REQUEST": 0xC0000010,
    "NOT_SAME_DEVICE": 0xC00000D4,
    "NETWORK_NAME_DELETED": 0xC00000C9,
    "USER_SESSION_DELETED": 0xC0000203,
    "NETWORK_SESSION_EXPIRED": 0xC000035C,
    "IO_TIMEOUT": 0xC00000B5,
    "INSUFFICIENT_RESOURCES": 0xC000009A,
    "INSUFF_SERVER_RESOURCES": 0xC0000205,
    "INTERNAL_ERROR": 0xC00000E5,
    "CANCELLED": 0xC0000120,
    "FILE_CLOSED": 0xC0000128,
}
"""The NTSTATUS codes this backend gives a meaning to."""

_CODE = NTSTATUS
_NAME = {code: name for name, code in NTSTATUS.items()}

_AUTH = {_CODE[n] for n in ("LOGON_FAILURE", "WRONG_PASSWORD")}
_ACCOUNT = {
    _CODE[n]: what
    for n, what in (
        ("ACCOUNT_RESTRICTION", "does not allow this login"),
        ("ACCOUNT_DISABLED", "is disabled"),
        ("ACCOUNT_LOCKED_OUT", "is locked out"),
        ("ACCOUNT_EXPIRED", "has expired"),
        ("PASSWORD_EXPIRED", "has an expired password: change it first"),
        ("PASSWORD_MUST_CHANGE", "must change its password first"),
    )
}
_NOT_FOUND = {_CODE[n] for n in ("OBJECT_NAME_NOT_FOUND", "OBJECT_PATH_NOT_FOUND", "NO_SUCH_FILE",
                                 "DELETE_PENDING")}
_DENIED = {_CODE[n] for n in ("ACCESS_DENIED", "NETWORK_ACCESS_DENIED", "PRIVILEGE_NOT_HELD",
                              "MEDIA_WRITE_PROTECTED", "CANNOT_DELETE")}
_IN_USE = {_CODE[n] for n in ("SHARING_VIOLATION", "FILE_LOCK_CONFLICT", "LOCK_NOT_GRANTED")}
_NO_SPACE = {_CODE[n] for n in ("DISK_FULL", "QUOTA_EXCEEDED", "DISK_QUOTA_EXCEEDED")}
_INVALID = {_CODE[n] for n in ("OBJECT_NAME_INVALID", "OBJECT_PATH_INVALID",
                               "OBJECT_PATH_SYNTAX_BAD", "NAME_TOO_LONG")}
_UNSUPPORTED = {_CODE[n] for n in ("NOT_SUPPORTED", "INVALID_DEVICE_REQUEST", "NOT_SAME_DEVICE")}
_DROPPED = {_CODE[n] for n in ("NETWORK_NAME_DELETED", "USER_SESSION_DELETED",
                               "NETWORK_SESSION_EXPIRED", "FILE_CLOSED")}
_BUSY = {_CODE[n] for n in ("INSUFFICIENT_RESOURCES", "INSUFF_SERVER_RESOURCES", "INTERNAL_ERROR")}


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What a message names: the server, the login and the path being worked on."""

    host: str
    port: int
    user: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def status_of(exc: BaseException) -> int | None:
    """The NTSTATUS code of an SMB response failure, else None."""
    if isinstance(exc, SMBResponseException):
        try:
            return int(exc.status)
        except Exception:  # a malformed response header: no usable status
            return None
    return None


def map_error(exc: BaseException, ctx: ErrorContext, path: str | None = None) -> OrbitError:
    """Translate any failure of the SMB client into the engine's error tree."""
    if isinstance(exc, OrbitError):
        return exc
    where = ctx.where
    subject = path or where
    status = status_of(exc)
    if status is not None:
        return _from_status(status, ctx, subject, path)
    if isinstance(exc, SMBAuthenticationError):
        return AuthenticationFailed(
            f"{where} could not log in {ctx.user or 'the user'}: {_reason(exc)}",
            host=ctx.host, path=path,
        )
    if isinstance(exc, SMBConnectionClosed):
        return ConnectionFailed(
            f"the connection to {where} was closed; try again", host=ctx.host, path=path
        )
    if isinstance(exc, TimeoutError):
        return Timeout(f"{where} did not answer in time ({subject})", host=ctx.host, path=path)
    if isinstance(exc, ValueError) and str(exc).startswith("Failed to connect to"):
        # smbprotocol's Tcp.connect wraps OSError and socket.gaierror this way
        cause = exc.__cause__
        reason = getattr(cause, "strerror", None) or str(cause or exc)
        return ConnectionFailed(
            f"cannot connect to {where}: {reason}; check the host, the port and that the "
            "SMB server is running", host=ctx.host, path=path,
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        return ConnectionFailed(
            f"the connection to {where} failed: {reason}; try again", host=ctx.host, path=path
        )
    if isinstance(exc, SMBException):
        text = str(exc)
        if "timeout" in text.lower():
            return Timeout(f"{where} did not answer in time ({subject})", host=ctx.host, path=path)
        if "encryption" in text.lower():
            return Unsupported(
                f"{where} cannot encrypt this connection, which its profile requires "
                f"(encrypt=required): {text}", host=ctx.host, path=path,
            )
        return OrbitError(f"{subject}: SMB error from {where}: {text}", host=ctx.host, path=path)
    return OrbitError(f"{subject}: {type(exc).__name__}: {exc}", host=ctx.host, path=path)


def _from_status(status: int, ctx: ErrorContext, subject: str, path: str | None) -> OrbitError:
    where, host = ctx.where, ctx.host
    name = _NAME.get(status, f"0x{status:08X}")
    login = f"{ctx.user}@{ctx.host}" if ctx.user else ctx.host
    if status in _AUTH:
        return AuthenticationFailed(
            f"{where} rejected the user name or password for {login}; check them and try again",
            host=host, path=path,
        )
    if status in _ACCOUNT:
        return AuthenticationFailed(
            f"the account {login} {_ACCOUNT[status]} (server {where})", host=host, path=path
        )
    if status == _CODE["BAD_NETWORK_NAME"]:
        return NotFound(f"{subject}: {where} has no such share", host=host, path=path)
    if status in _NOT_FOUND:
        return NotFound(f"{subject} does not exist on {where}", host=host, path=path)
    if status in _DENIED:
        return PermissionDenied(
            f"{subject}: {where} denied access to {ctx.user or 'this user'}", host=host, path=path
        )
    if status in _IN_USE:
        return PermissionDenied(
            f"{subject} is in use by another program on {where}; try again when it is closed",
            host=host, path=path, retriable=True,
        )
    if status == _CODE["OBJECT_NAME_COLLISION"]:
        return AlreadyExists(f"{subject} already exists on {where}", host=host, path=path)
    if status in _NO_SPACE:
        return NoSpace(f"{subject}: {where} is out of disk space or quota", host=host, path=path)
    if status == _CODE["DIRECTORY_NOT_EMPTY"]:
        return DirectoryNotEmpty(f"{subject} is a folder that is not empty (on {where})",
                                 host=host, path=path)
    if status == _CODE["NOT_A_DIRECTORY"]:
        return NotADirectory(f"{subject}: a part of this path is a file, not a folder (on {where})",
                             host=host, path=path)
    if status == _CODE["FILE_IS_A_DIRECTORY"]:
        return IsADirectory(f"{subject} is a folder, not a file (on {where})", host=host, path=path)
    if status in _INVALID:
        return InvalidPath(f"{subject}: {where} does not accept this name", host=host, path=path)
    if status in _UNSUPPORTED:
        return Unsupported(f"{subject}: {where} does not support this ({name})",
                           host=host, path=path)
    if status in _DROPPED:
        return ConnectionFailed(f"{where} ended the session ({name}); try again",
                                host=host, path=path)
    if status == _CODE["IO_TIMEOUT"]:
        return Timeout(f"{subject}: {where} timed out", host=host, path=path)
    if status in _BUSY:
        return ServerError(f"{subject}: {where} failed on its side ({name}); try again later",
                           host=host, path=path)
    if status == _CODE["CANCELLED"]:
        return Cancelled(f"{subject}: the request was cancelled", host=host, path=path)
    return OrbitError(f"{subject}: {where} answered {name}", host=host, path=path)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if text else type(exc).__name__


@contextmanager
def mapped(ctx: ErrorContext, path: str | None = None) -> Iterator[None]:
    """Re-raise any SMB or socket failure inside the block as an engine error."""
    try:
        yield
    except OrbitError:
        raise
    except (SMBException, OSError, ValueError) as exc:
        raise map_error(exc, ctx, path) from exc
