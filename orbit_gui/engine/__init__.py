"""The Orbit transfer engine: plain asyncio, no Qt.

The desktop app and the ``orbit`` command are two front ends over this API.
"""

from .backend import (
    AsyncReader,
    Backend,
    BackendStats,
    BytesReader,
    IteratorReader,
    LocalFileReader,
    read_into,
)
from .errors import (
    AlreadyExists,
    AuthenticationFailed,
    Cancelled,
    ConnectionFailed,
    DirectoryNotEmpty,
    HostKeyChanged,
    HostKeyError,
    HostKeyUnknown,
    IntegrityError,
    InvalidPath,
    IsADirectory,
    NoSpace,
    NotADirectory,
    NotFound,
    OrbitError,
    PermissionDenied,
    ServerError,
    Throttled,
    Timeout,
    Unsupported,
)
from .profiles import Profile, open_backend
from .types import Entry, Features, ListOptions, WriteOptions

__all__ = [
    "AlreadyExists",
    "AsyncReader",
    "AuthenticationFailed",
    "Backend",
    "BackendStats",
    "BytesReader",
    "Cancelled",
    "ConnectionFailed",
    "DirectoryNotEmpty",
    "Entry",
    "Features",
    "HostKeyChanged",
    "HostKeyError",
    "HostKeyUnknown",
    "IntegrityError",
    "InvalidPath",
    "IsADirectory",
    "IteratorReader",
    "ListOptions",
    "LocalFileReader",
    "NoSpace",
    "NotADirectory",
    "NotFound",
    "OrbitError",
    "PermissionDenied",
    "Profile",
    "ServerError",
    "Throttled",
    "Timeout",
    "Unsupported",
    "WriteOptions",
    "open_backend",
    "read_into",
]
