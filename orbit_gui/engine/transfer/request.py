"""What a user asks for (a request), and how a folder request becomes files, lazily.

A :class:`TransferRequest` names a source and a destination (:class:`Endpoint`:
a backend, a path on it, and the profile name that reopens it after a
restart) with :class:`TransferOptions`. :func:`walk` turns a folder request into
:class:`FileItem` values as the backend's listing streams in, so the first file
can start while the rest of the tree is still being discovered. Remote names
are untrusted: an entry whose relative path would leave the destination folder
(``..``, ``/`` or ``\\`` inside a name, NUL, control characters) becomes an item
carrying an InvalidPath error, which fails that file alone.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backend import Backend
from ..errors import InvalidPath, NotFound, OrbitError
from ..paths import check_name
from ..retry import RetryPolicy
from ..types import Entry, ListOptions
from .conflicts import ConflictPolicy
from .progress import Direction

__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_WINDOW",
    "MIN_PART_SIZE",
    "Endpoint",
    "FileItem",
    "TransferOptions",
    "TransferRequest",
    "direction_of",
    "is_local",
    "requests_into",
    "resolve_destination",
    "walk",
]

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
"""S3's smallest part (but the last); positional part writers accept smaller ones."""
DEFAULT_WINDOW = 4
MAX_PARTS = 10_000


def is_local(backend: Backend) -> bool:
    """True for this computer's file system (decided by the backend's scheme)."""
    return backend.scheme == "local"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a transfer."""

    backend: Backend
    path: str
    ref: str | None = None
    """The saved profile that reopens ``backend`` after a restart; None for this computer."""

    @property
    def label(self) -> str:
        return f"{self.ref}:{self.path}" if self.ref else self.path

    def spec(self) -> dict[str, Any]:
        return {"ref": self.ref, "path": self.path}


@dataclass(frozen=True, slots=True)
class TransferOptions:
    part_size: int | None = None
    """Bytes per upload part / download range (None: DEFAULT_PART_SIZE, raised to fit
    MAX_PARTS)."""
    window: int = DEFAULT_WINDOW
    """Parts or ranges of one file in flight at once."""
    conflict: ConflictPolicy = ConflictPolicy.ASK
    bwlimit: float | None = None
    """Bytes per second for this transfer (None: only the global limit)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    multipart_threshold: int = DEFAULT_PART_SIZE
    """Files at least this large go through the part API where the destination has one."""
    verify: bool = True
    """Compare whole-file checksums where both sides give one (sizes are always checked)."""

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("the window must be at least 1")
        if self.part_size is not None and self.part_size < 1:
            raise ValueError("the part size must be positive")

    def part_size_for(self, size: int | None, minimum: int = 1) -> int:
        """The part size for a file of ``size`` bytes: asked, at least ``minimum``, and
        large enough that the file needs at most MAX_PARTS parts."""
        part = max(self.part_size or DEFAULT_PART_SIZE, minimum)
        if size is not None and size > part * MAX_PARTS:
            part = -(-size // MAX_PARTS)
            part = -(-part // MiB) * MiB
        return part

    def to_json(self) -> dict[str, Any]:
        return {"part_size": self.part_size, "window": self.window,
                "conflict": self.conflict.value, "bwlimit": self.bwlimit,
                "multipart_threshold": self.multipart_threshold, "verify": self.verify,
                "retry": {"max_attempts": self.retry.max_attempts,
                          "base_delay": self.retry.base_delay,
                          "max_delay": self.retry.max_delay}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TransferOptions:
        retry = data.get("retry") or {}
        return cls(
            part_size=data.get("part_size"), window=int(data.get("window", DEFAULT_WINDOW)),
            conflict=ConflictPolicy(data.get("conflict", "ask")), bwlimit=data.get("bwlimit"),
            multipart_threshold=int(data.get("multipart_threshold", DEFAULT_PART_SIZE)),
            verify=bool(data.get("verify", True)),
            retry=RetryPolicy(**{k: v for k, v in retry.items()
                                 if k in ("max_attempts", "base_delay", "max_delay")}))


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """Copy ``source`` (a file, or with ``recursive`` a folder) to exactly ``destination``.

    ``destination.path`` is the final name: the file to create, or the folder that
    becomes the copy of the source folder (see :func:`resolve_destination` for
    ``cp``-like "into an existing folder" semantics).
    """

    source: Endpoint
    destination: Endpoint
    recursive: bool = False
    options: TransferOptions = field(default_factory=TransferOptions)

    @property
    def direction(self) -> Direction:
        return direction_of(self.source.backend, self.destination.backend)

    def spec(self) -> dict[str, Any]:
        return {"source": self.source.spec(), "destination": self.destination.spec(),
                "recursive": self.recursive, "options": self.options.to_json()}


def direction_of(source: Backend, destination: Backend) -> Direction:
    if is_local(source) and not is_local(destination):
        return Direction.UPLOAD
    if is_local(destination) and not is_local(source):
        return Direction.DOWNLOAD
    return Direction.COPY


@dataclass(frozen=True, slots=True)
class FileItem:
    """One file of a request: where it comes from and goes to."""

    rel: str
    """Path relative to the request's source ("" for a single-file request)."""
    source_path: str
    dest_path: str
    entry: Entry | None = None
    """The source as listed (saves a stat); None if not known yet."""
    error: OrbitError | None = None
    """Set when the item cannot be transferred at all (hostile name)."""


def _relative(root: str, path: str) -> str:
    base = root.rstrip("/") + "/"
    if not path.startswith(base):
        raise InvalidPath(f"the server listed {path!r}, which is not inside {root}", path=path)
    return path[len(base):]


def _destination(dest_root: str, rel: str) -> str:
    """``dest_root`` joined with a checked relative path; never leaves ``dest_root``."""
    parts = rel.split("/")
    for part in parts:
        try:
            check_name(part)
        except InvalidPath as exc:
            raise InvalidPath(
                f"refusing the remote name {rel!r}: {exc.message}; it would not stay inside "
                f"{dest_root}", path=rel) from None
    joined = posixpath.join(dest_root.rstrip("/") or "/", *parts)
    if not joined.startswith(dest_root.rstrip("/") + "/"):  # belt and braces
        raise InvalidPath(f"refusing the remote name {rel!r}", path=rel)
    return joined


async def walk(backend: Backend, root: str, dest_root: str, *,
               page_size: int = 1000) -> AsyncIterator[FileItem]:
    """The files below ``root`` as items for ``dest_root``, as the listing streams in."""
    listing = backend.list(root, ListOptions(recursive=True, page_size=page_size))
    try:
        async for entry in listing:
            if entry.is_dir:
                continue  # a folder marker: folders are made as their files arrive
            try:
                rel = _relative(root, entry.path)
                yield FileItem(rel, entry.path, _destination(dest_root, rel), entry)
            except InvalidPath as exc:
                yield FileItem(entry.path, entry.path, "", entry, exc)
    finally:
        aclose = getattr(listing, "aclose", None)
        if aclose is not None:
            await aclose()


async def resolve_destination(source: Endpoint, destination: Endpoint, *,
                              into: bool | None = None) -> Endpoint:
    """``cp`` semantics: a destination that is an existing folder (or ends in "/", or
    ``into=True``) receives the source under the source's own name."""
    path = destination.path
    if into is None:
        into = path.endswith("/") and path != "/"
        if not into:
            try:
                into = (await destination.backend.stat(path)).is_dir
            except NotFound:
                into = False
    if path == "/":
        into = True
    if not into:
        return destination
    name = posixpath.basename(source.path.rstrip("/"))
    if not name:
        raise InvalidPath(f"{source.label} has no name to copy under {destination.label}",
                          path=source.path)
    return Endpoint(destination.backend, posixpath.join(path.rstrip("/") or "/", check_name(name)),
                    destination.ref)


async def requests_into(source: Endpoint, paths: Sequence[str], folder: Endpoint,
                        options: TransferOptions) -> list[TransferRequest]:
    """One request per path of ``source.backend``, each copying it into ``folder``
    under its own name (a folder with everything below it).

    ``source.path`` is ignored; ``source.backend`` and ``source.ref`` say where
    ``paths`` are. Copying a folder into itself or below itself is refused.
    """
    requests = []
    for path in paths:
        entry = await source.backend.stat(path)
        name = check_name(posixpath.basename(path.rstrip("/")) or entry.name)
        if (source.backend is folder.backend and entry.is_dir
                and (folder.path.rstrip("/") + "/").startswith(path.rstrip("/") + "/")):
            raise InvalidPath(f"cannot copy the folder {path} into itself", path=path)
        destination = Endpoint(folder.backend, posixpath.join(folder.path.rstrip("/") or "/",
                                                              name), folder.ref)
        requests.append(TransferRequest(Endpoint(source.backend, entry.path, source.ref),
                                        destination, recursive=entry.is_dir, options=options))
    return requests
