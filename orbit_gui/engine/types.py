"""Plain value types shared by every backend and front end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Entry", "Features", "ListOptions", "WriteOptions"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One file, folder (or bucket/share) as a backend reports it."""

    name: str
    path: str
    is_dir: bool
    size: int | None = None
    mtime: float | None = None
    """Modification time as seconds since the epoch (UTC), when known."""
    etag: str | None = None
    content_type: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Backend specific details shown in properties (storage class, owner, mode...)."""


@dataclass(frozen=True, slots=True)
class ListOptions:
    recursive: bool = False
    """List the whole tree below the path, files only, instead of one level."""
    page_size: int = 1000
    """How many entries one page request asks for; also the batch size handed on."""


@dataclass(frozen=True, slots=True)
class WriteOptions:
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    storage_class: str | None = None
    sse: str | None = None
    """Server-side encryption: "AES256" or "aws:kms" (S3 only)."""
    sse_kms_key_id: str | None = None
    overwrite: bool = True
    """False: fail with AlreadyExists instead of replacing an existing file."""
    mtime: float | None = None
    """Modification time to give the new file, where the backend can set it."""


@dataclass(frozen=True, slots=True)
class Features:
    """What a backend can do beyond the base interface.

    Callers and tests branch on these flags, never on the backend's type.
    """

    ranged_read: bool = True
    """read() honours offset/length without reading what comes before."""
    part_write: bool = False
    """Large writes can be split into independently retried parts (S3 multipart,
    positional writes)."""
    server_copy: bool = False
    """Copies within one store happen on the server without passing through us."""
    real_directories: bool = True
    """Folders exist by themselves (False for S3, where a folder is a key prefix)."""
    empty_directories: bool = True
    """An empty folder can exist and be listed (S3 needs a marker object)."""
    set_mtime: bool = False
    """WriteOptions.mtime is honoured."""
    metadata: bool = False
    """WriteOptions.metadata, content_type and storage class are stored."""
    presign: bool = False
    """Time limited links can be made for a file."""
    confirms_writes: bool = False
    """write() returns only once the store confirmed the size and content it kept
    (S3: Content-MD5 on a single PutObject, the completed object's size after a
    multipart upload), so nothing needs to look at the result again."""
    case_sensitive: bool = True
    unicode_normalizing: bool = False
    """The store folds NFC and NFD spellings of a name into one (macOS, some SMB)."""
