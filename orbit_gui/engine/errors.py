"""One error tree for the whole engine.

Every backend maps its native failures into these classes so that callers
(the retry policy, the GUI, the CLI) deal with one vocabulary. Each error says
whether trying again may help (``retriable``); messages name the host or path
and what the user can do, and never carry a secret.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "Cancelled",
    "ConnectionFailed",
    "DirectoryNotEmpty",
    "HostKeyChanged",
    "HostKeyError",
    "HostKeyUnknown",
    "IntegrityError",
    "InvalidPath",
    "IsADirectory",
    "NoSpace",
    "NotADirectory",
    "NotFound",
    "OrbitError",
    "PermissionDenied",
    "ServerError",
    "SourceChanged",
    "Throttled",
    "Timeout",
    "Unsupported",
]


class OrbitError(Exception):
    """Base of every error the engine raises on purpose."""

    retriable: bool = False

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        host: str | None = None,
        retriable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.host = host
        if retriable is not None:
            self.retriable = retriable

    def __str__(self) -> str:
        return self.message


class NotFound(OrbitError):
    """The file, folder, bucket or share does not exist."""


class AlreadyExists(OrbitError):
    """The destination exists and the caller asked not to replace it."""


class NotADirectory(OrbitError):
    """A folder operation was asked of a file."""


class IsADirectory(OrbitError):
    """A file operation was asked of a folder."""


class DirectoryNotEmpty(OrbitError):
    """A folder still has entries and recursive deletion was not asked for."""


class PermissionDenied(OrbitError):
    """The server or the operating system refused access."""


class NoSpace(OrbitError):
    """The destination ran out of space or quota."""


class InvalidPath(OrbitError):
    """A name or path cannot be used here (NUL byte, '..', too long, ...)."""


class Unsupported(OrbitError):
    """The backend cannot do this at all (see its Features)."""


class AuthenticationFailed(OrbitError):
    """The server rejected the credentials."""


class HostKeyError(OrbitError):
    """The server's host key could not be trusted."""

    def __init__(self, message: str, *, host: str, fingerprint: str) -> None:
        super().__init__(message, host=host)
        self.fingerprint = fingerprint


class HostKeyUnknown(HostKeyError):
    """The host key is not known yet: the user must accept its fingerprint."""


class HostKeyChanged(HostKeyError):
    """The host key differs from the recorded one: possibly an attack."""


class ConnectionFailed(OrbitError):
    """The server could not be reached or dropped the connection."""

    retriable = True


class Timeout(OrbitError):
    retriable = True


class Throttled(OrbitError):
    """The server asked us to slow down (S3 SlowDown, 503)."""

    retriable = True


class ServerError(OrbitError):
    """The server failed on its side (HTTP 5xx, SMB internal errors)."""

    retriable = True


class IntegrityError(OrbitError):
    """Data arrived damaged or incomplete (checksum or length mismatch)."""

    retriable = True


class SourceChanged(OrbitError):
    """The file changed since a transfer began (another ETag or version); resuming
    would splice two different files, so the transfer must start over."""


class Cancelled(OrbitError):
    """The user cancelled the operation."""
