"""SMB2/3 shares (Windows, Samba, NAS devices) as a Backend, on smbprotocol.

Paths are ``/share/folder/file``; ``/`` lists the server's disk shares. All
blocking smbprotocol work runs in this backend's own bounded thread pool, so
the event loop never waits on the network. Reads and writes keep several
large requests in flight on one session; listings fetch one QUERY_DIRECTORY
page at a time; uploads go to a hidden temporary file renamed into place.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import logging
import mimetypes
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from smbprotocol.exceptions import SMBException
from smbprotocol.file_info import FileAttributes
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    FilePipePrinterAccessMask,
)

from ...backend import AsyncReader, Backend
from ...errors import (
    AlreadyExists,
    ConnectionFailed,
    InvalidPath,
    IsADirectory,
    NotFound,
    PermissionDenied,
    SourceChanged,
    Unsupported,
)
from ...paths import check_name
from ...types import Entry, Features, ListOptions, WriteOptions
from . import ops
from .errors import NTSTATUS, ErrorContext, map_error, mapped, status_of
from .listing import DirectoryCursor, page_bytes
from .names import SmbPath, split_path
from .pipeline import ReadPipeline
from .session import SmbClient
from .settings import SmbSettings
from .shares import enumerate_shares
from .upload import SmbPartUpload, dispose, publish, temp_name

if TYPE_CHECKING:
    from ...profiles import Profile

__all__ = ["SmbBackend"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_NOT_THERE = {NTSTATUS["OBJECT_NAME_NOT_FOUND"], NTSTATUS["OBJECT_PATH_NOT_FOUND"],
              NTSTATUS["NO_SUCH_FILE"]}
_PATH_NOT_FOUND = NTSTATUS["OBJECT_PATH_NOT_FOUND"]
_NOT_A_DIRECTORY = NTSTATUS["NOT_A_DIRECTORY"]
_NOT_EMPTY = NTSTATUS["DIRECTORY_NOT_EMPTY"]
_BAD_SHARE = NTSTATUS["BAD_NETWORK_NAME"]
_READ = FilePipePrinterAccessMask.GENERIC_READ
_UPLOAD = (FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE
           | FilePipePrinterAccessMask.DELETE)
_REMOVE_DEPTH = 32
_RESERVE_FROM = 8 * 1024 * 1024
"""Uploads of at least this size get their final size set first (see set_size)."""
_ATTRIBUTE_NAMES = (
    (FileAttributes.FILE_ATTRIBUTE_READONLY, "read-only"),
    (FileAttributes.FILE_ATTRIBUTE_HIDDEN, "hidden"),
    (FileAttributes.FILE_ATTRIBUTE_SYSTEM, "system"),
    (FileAttributes.FILE_ATTRIBUTE_DIRECTORY, "directory"),
    (FileAttributes.FILE_ATTRIBUTE_ARCHIVE, "archive"),
    (FileAttributes.FILE_ATTRIBUTE_REPARSE_POINT, "reparse point"),
    (FileAttributes.FILE_ATTRIBUTE_COMPRESSED, "compressed"),
    (FileAttributes.FILE_ATTRIBUTE_ENCRYPTED, "encrypted"),
)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark the outcome of a future nobody awaits any more as seen."""
    if not future.cancelled():
        future.exception()


def _close_later(client: SmbClient, future: asyncio.Future[None]) -> None:
    """Close a client whose connecting nobody waits for any more."""
    if future.cancelled() or future.exception() is not None:
        return
    threading.Thread(target=client.close, name="orbit-smb-close", daemon=True).start()


def _attributes(value: int) -> str:
    return ", ".join(name for flag, name in _ATTRIBUTE_NAMES if value & flag) or "normal"


class SmbBackend(Backend):
    """A Windows or Samba server, one session per backend, all its shares."""

    scheme = "smb"
    features = Features(
        ranged_read=True,
        part_write=True,
        server_copy=True,
        set_mtime=True,
        case_sensitive=False,
        unicode_normalizing=False,
    )
    """SMB compares names case-insensitively (Samba's default for SMB2 clients too);
    Samba and Windows keep NFC and NFD spellings apart."""

    def __init__(self, settings: SmbSettings, password: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self._password = password
        self._ctx = ErrorContext(settings.host, settings.port, settings.user)
        self._pool = ThreadPoolExecutor(max_workers=settings.threads,
                                        thread_name_prefix=f"orbit-smb-{settings.where}")
        self._client: SmbClient | None = None
        self._connecting = asyncio.Lock()
        self._closed = False

    @classmethod
    async def from_profile(cls, profile: Profile, secret: str | None = None) -> SmbBackend:
        backend = cls(SmbSettings.from_profile(profile), secret)
        try:
            await backend.connect()
        except BaseException:
            await backend.aclose()
            raise
        return backend

    @property
    def display_name(self) -> str:
        user = f"{self.settings.user}@" if self.settings.user else ""
        return f"smb://{user}{self.settings.where}"

    @property
    def where(self) -> str:
        return self.settings.where

    def __repr__(self) -> str:
        return f"<SmbBackend {self.display_name}>"

    # -- plumbing ----------------------------------------------------------------------------

    def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run blocking ``fn`` in this backend's worker threads."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    @contextmanager
    def _mapped(self, path: str | None) -> Iterator[None]:
        with mapped(self._ctx, path):
            yield

    async def _call(self, path: str | None, fn: Callable[..., T], *args: Any,
                    **kwargs: Any) -> T:
        self.stats.requests += 1
        with self._mapped(path):
            return await self._run(fn, *args, **kwargs)

    async def connect(self) -> None:
        """Connect and log in now (otherwise the first operation does)."""
        await self._live_client()

    async def _live_client(self) -> SmbClient:
        """The connected client; reconnects once the previous connection died."""
        client = self._client
        if client is not None and client.alive:
            return client
        async with self._connecting:
            client = self._client
            if client is not None and client.alive:
                return client
            if self._closed:
                raise ConnectionFailed(f"the connection to {self.where} was closed",
                                       host=self.settings.host)
            if client is not None:
                self._client = None
                await asyncio.shield(self._run(client.close))
            fresh = SmbClient(self.settings, self._password)
            connecting = self._run(fresh.connect)
            try:
                with self._mapped(None):
                    await asyncio.shield(connecting)
            except asyncio.CancelledError:
                # The login goes on in its thread: close what it opens once it is done.
                connecting.add_done_callback(functools.partial(_close_later, fresh))
                raise
            self._client = fresh
            return fresh

    @property
    def read_chunk(self) -> int:
        client = self._client
        limit = client.max_read if client is not None and client.connection else 1 << 30
        return min(self.settings.chunk_size, limit)

    @property
    def write_chunk(self) -> int:
        client = self._client
        limit = client.max_write if client is not None and client.connection else 1 << 30
        return min(self.settings.write_chunk_size, limit)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        try:
            if client is not None:
                await asyncio.shield(self._run(client.close))
        except Exception as exc:  # closing a dead connection: nothing left to release
            log.debug("closing the SMB connection to %s: %s", self.where, exc)
        finally:
            await asyncio.to_thread(self._pool.shutdown, True)

    def _entry(self, where: SmbPath, info: ops.FileInfo) -> Entry:
        return Entry(
            name=where.name,
            path=where.path,
            is_dir=info.is_dir,
            size=None if info.is_dir else info.size,
            mtime=info.mtime,
            etag=info.etag,
            content_type=None if info.is_dir else mimetypes.guess_type(where.name)[0],
            extra={"attributes": _attributes(info.attributes), "file id": str(info.file_id)},
        )

    # -- reading -----------------------------------------------------------------------------

    async def stat(self, path: str) -> Entry:
        where = split_path(path)
        if where.is_root:
            return Entry(name="/", path="/", is_dir=True)
        client = await self._live_client()
        info = await self._call(where.path, _stat, client, where)
        return self._entry(where, info)

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        where = split_path(path)
        if where.is_root:
            for share in await self.shares():
                entry = Entry(name=share, path=f"/{share}", is_dir=True)
                if not options.recursive:
                    yield entry
                    continue
                async for item in self.list(entry.path, options):
                    yield item
            return
        client = await self._live_client()
        output = page_bytes(options.page_size, client.max_transact)
        folders = [where]
        while folders:
            folder = folders.pop()
            cursor = DirectoryCursor(client, folder.share, folder.wire, output)
            try:
                while not cursor.done:
                    self.stats.list_pages += 1
                    with self._mapped(folder.path):
                        page = await self._run(cursor.fetch)
                    if page is None:
                        break
                    for name, info in page:
                        child = folder.child(name)
                        if options.recursive and info.is_dir:
                            folders.append(child)
                        else:
                            yield self._entry(child, info)
            finally:
                await asyncio.shield(self._run(cursor.close))

    async def shares(self) -> builtins.list[str]:
        """The disk shares the server lists, plus those the profile names."""
        client = await self._live_client()
        names: builtins.list[str] = []
        try:
            infos = await self._run(enumerate_shares, client)
            names = [info.name for info in infos if info.is_disk and not info.is_hidden]
        except (SMBException, OSError, ValueError) as exc:
            error = map_error(exc, self._ctx, "/")
            if isinstance(error, ConnectionFailed):
                raise error from exc
            log.info("%s does not list its shares (%s); using the profile's", self.where, error)
        known = {name.lower() for name in names}
        names += [share for share in self.settings.shares if share.lower() not in known]
        if not names:
            raise PermissionDenied(
                f"{self.where} does not list its shares; name the share in the connection "
                "settings", host=self.settings.host, path="/",
            )
        return names

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        where = split_path(path)
        if not where.parts:
            raise IsADirectory(f"{where.path} is a folder, not a file", path=where.path)
        client = await self._live_client()
        handle, info = await self._call(where.path, _open_for_read, client, where)
        try:
            if if_match is not None and info.etag != if_match:
                raise SourceChanged(
                    f"{where.path} changed since the transfer began; it must start over",
                    path=where.path,
                )
            end = info.size if length is None else min(info.size, offset + length)
            pipe = ReadPipeline(client, handle, offset, end, chunk=self.read_chunk,
                                depth=self.settings.requests)
            # The next chunk is being collected while the consumer handles this one.
            pending: asyncio.Future[bytes | None] | None = self._run(pipe.next_chunk)
            try:
                while pending is not None:
                    with self._mapped(where.path):
                        chunk = await pending
                    pending = None
                    if chunk is None:
                        break
                    pending = self._run(pipe.next_chunk)
                    yield chunk
            finally:
                if pending is not None:
                    pending.add_done_callback(_retrieve)
                await asyncio.shield(self._run(pipe.close))
        finally:
            await asyncio.shield(self._run(ops.close_quietly, handle))

    # -- writing -----------------------------------------------------------------------------

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        upload = await self.open_part_upload(path, None, options=options)
        try:
            reserved = size_hint is not None and size_hint >= _RESERVE_FROM
            if reserved:
                await upload.set_size(size_hint or 0)
            written = await upload.write_stream(reader, size_hint=size_hint)
            if reserved and written != size_hint:
                await upload.set_size(written)
            await upload.commit()
        except BaseException:
            await upload.abort()
            raise
        return written

    async def open_part_upload(self, path: str, size: int | None = None, *,
                               session_id: str | None = None, resume: bool = False,
                               options: WriteOptions = WriteOptions()) -> SmbPartUpload:
        """Start (or with ``resume=True`` reopen) the upload of ``path`` as parts.

        The data goes to ``<folder>/.orbit-partial-<session_id>``; keep
        ``upload.session_id`` to resume after a crash or a lost connection.
        ``size`` (when known) is checked at commit.
        """
        target = split_path(path)
        if not target.parts:
            raise InvalidPath(f"{target.path} is a share or the server, not a file",
                              path=target.path)
        if resume and not session_id:
            raise ValueError("resuming an upload needs its session id")
        session_id = session_id or secrets.token_hex(8)
        check_name(temp_name(session_id))
        client = await self._live_client()
        handle = await self._call(target.path, _open_upload, client, target,
                                  target.sibling(temp_name(session_id)), resume,
                                  options.overwrite)
        upload = SmbPartUpload(self, target, session_id, client, handle, size=size,
                               overwrite=options.overwrite, mtime=options.mtime)
        if size is not None and size >= _RESERVE_FROM and not resume:
            try:
                await upload.set_size(size)
            except BaseException:
                await upload.abort()
                raise
        return upload

    async def _publish(self, client: SmbClient, handle: Any, target: SmbPath, *,
                       overwrite: bool, mtime: float | None) -> None:
        try:
            await self._call(target.path, publish, client, handle, target.wire,
                             overwrite=overwrite, mtime=mtime)
        except (AlreadyExists, PermissionDenied) as exc:
            # Replacing a folder fails as a collision or as access denied: say which.
            found = await self._call(target.path, _stat_target, client, target)
            if found is not None and found.is_dir:
                raise IsADirectory(f"{target.path} is a folder", path=target.path) from exc
            raise

    async def _discard_upload(self, client: SmbClient, handle: Any, temp: SmbPath, *,
                              discard: bool) -> None:
        try:
            if handle is not None and discard:
                await self._call(temp.path, dispose, client, handle)
            elif handle is not None:
                await self._call(temp.path, ops.close_quietly, handle)
            elif discard:
                await self._call(temp.path, _remove, client, temp)
        except (ConnectionFailed, NotFound):
            return

    async def copy(self, src: str, dst: str, options: WriteOptions = WriteOptions()) -> int:
        """Copy ``src`` to ``dst`` on the server (FSCTL_SRV_COPYCHUNK); return the size.

        The copy lands in a temporary name and is renamed into place, like write().
        """
        source = split_path(src)
        if not source.parts:
            raise IsADirectory(f"{source.path} is a folder, not a file", path=source.path)
        client = await self._live_client()
        handle, info = await self._call(source.path, _open_for_read, client, source)
        try:
            upload = await self.open_part_upload(dst, info.size, options=options)
            try:
                await self._call(upload.path, ops.server_copy, client, handle, upload.handle,
                                 info.size)
                await upload.commit()
            except BaseException:
                await upload.abort()
                raise
        finally:
            await asyncio.shield(self._run(ops.close_quietly, handle))
        return info.size

    # -- folders, deletion, renames --------------------------------------------------------

    async def mkdir(self, path: str, parents: bool = True) -> None:
        where = split_path(path)
        if where.is_root:
            return
        client = await self._live_client()
        await self._call(where.path, _mkdir, client, where, parents)

    async def delete(self, path: str, recursive: bool = False) -> None:
        where = split_path(path)
        if not where.parts:
            raise PermissionDenied(f"{where.path}: shares cannot be deleted over SMB",
                                   path=where.path)
        client = await self._live_client()
        await self._call(where.path, _delete, client, where, recursive)

    async def rename(self, src: str, dst: str) -> None:
        source, target = split_path(src), split_path(dst)
        if not source.parts or not target.parts:
            raise PermissionDenied(f"{source.path} -> {target.path}: shares cannot be renamed "
                                   "over SMB", path=source.path)
        if source.share.lower() != target.share.lower():
            raise Unsupported(f"{source.path} cannot be moved to another share "
                              f"({target.share}); copy it instead", path=source.path)
        client = await self._live_client()
        self.stats.requests += 1
        try:
            await self._run(_rename, client, source, target)
        except (SMBException, OSError, ValueError) as exc:
            on_target = getattr(exc, "smb_step", 0) == 1
            raise map_error(exc, self._ctx, target.path if on_target else source.path) from exc


# -- blocking helpers, each run whole in a worker thread ------------------------------------


def _stat(client: SmbClient, where: SmbPath) -> ops.FileInfo:
    return ops.stat(client, client.tree(where.share), where.wire)


def _open_for_read(client: SmbClient, where: SmbPath) -> tuple[Any, ops.FileInfo]:
    return ops.open_handle(client, client.tree(where.share), where.wire, access=_READ,
                           disposition=CreateDisposition.FILE_OPEN,
                           options=CreateOptions.FILE_NON_DIRECTORY_FILE, query_id=True)


def _stat_or_none(client: SmbClient, tree: Any, where: SmbPath) -> ops.FileInfo | None:
    try:
        return ops.stat(client, tree, where.wire)
    except SMBException as exc:
        if status_of(exc) in _NOT_THERE:
            return None
        raise


def _stat_target(client: SmbClient, where: SmbPath) -> ops.FileInfo | None:
    return _stat_or_none(client, client.tree(where.share), where)


def _makedirs(client: SmbClient, tree: Any, folder: SmbPath) -> None:
    """mkdir -p below the share (NOT_A_DIRECTORY where a part is a file)."""
    if not folder.parts:
        return
    try:
        ops.make_directory(client, tree, folder.wire, exist_ok=True)
    except SMBException as exc:
        if status_of(exc) != _PATH_NOT_FOUND:
            raise
        _makedirs(client, tree, folder.parent())
        ops.make_directory(client, tree, folder.wire, exist_ok=True)


def _mkdir(client: SmbClient, where: SmbPath, parents: bool) -> None:
    try:
        tree = client.tree(where.share)
    except SMBException as exc:
        if status_of(exc) == _BAD_SHARE:
            raise PermissionDenied(f"{where.path}: shares cannot be created over SMB",
                                   path=where.path) from exc
        raise
    if not where.parts:
        if not parents:
            raise AlreadyExists(f"{where.path} already exists", path=where.path)
        return
    try:
        if parents:
            _makedirs(client, tree, where)
        else:
            ops.make_directory(client, tree, where.wire, exist_ok=False)
    except SMBException as exc:
        if status_of(exc) != _NOT_A_DIRECTORY:
            raise
        found = _stat_or_none(client, tree, where)
        if found is not None and not found.is_dir:
            raise AlreadyExists(f"{where.path} exists and is not a folder",
                                path=where.path) from exc
        raise


def _open_upload(client: SmbClient, target: SmbPath, temp: SmbPath, resume: bool,
                 overwrite: bool) -> Any:
    tree = client.tree(target.share)
    if not overwrite:  # fail before sending any data (the rename checks again, atomically)
        found = _stat_or_none(client, tree, target)
        if found is not None and found.is_dir:
            raise IsADirectory(f"{target.path} is a folder", path=target.path)
        if found is not None:
            raise AlreadyExists(f"{target.path} already exists", path=target.path)

    def open_temp() -> Any:
        handle, _ = ops.open_handle(
            client, tree, temp.wire, access=_UPLOAD,
            disposition=CreateDisposition.FILE_OPEN if resume
            else CreateDisposition.FILE_OVERWRITE_IF,
            options=CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        return handle

    try:
        return open_temp()
    except SMBException as exc:
        status = status_of(exc)
        if resume and status in _NOT_THERE:
            raise NotFound(f"the partial upload of {target.path} is gone from "
                           f"{client.settings.where}; it must start over",
                           path=target.path) from exc
        if status != _PATH_NOT_FOUND:
            raise
    _makedirs(client, tree, target.parent())
    return open_temp()


def _remove(client: SmbClient, where: SmbPath) -> None:
    ops.remove(client, client.tree(where.share), where.wire)


def _delete(client: SmbClient, where: SmbPath, recursive: bool) -> None:
    tree = client.tree(where.share)
    try:
        ops.remove(client, tree, where.wire)
    except SMBException as exc:
        if not recursive or status_of(exc) != _NOT_EMPTY:
            raise
        _remove_tree(client, tree, where)


def _remove_tree(client: SmbClient, tree: Any, folder: SmbPath) -> None:
    """Delete a folder and everything in it, many deletions in flight."""
    output = page_bytes(1000, client.max_transact)
    while True:
        cursor = DirectoryCursor(client, folder.share, folder.wire, output, partial=True)
        try:
            page = cursor.fetch()
        finally:
            cursor.close()
        if not page:
            break
        _remove_many(client, tree, [folder.child(name) for name, info in page if not info.is_dir])
        for name, info in page:
            if info.is_dir:
                _remove_tree(client, tree, folder.child(name))
    ops.remove(client, tree, folder.wire)


def _remove_many(client: SmbClient, tree: Any, paths: list[SmbPath]) -> None:
    pending: deque[tuple[builtins.list[Any], builtins.list[ops.Step]]] = deque()
    failure: BaseException | None = None

    def collect() -> None:
        nonlocal failure
        requests, steps = pending.popleft()
        for request, (_, receive) in zip(requests, steps, strict=True):
            try:
                receive(request)
            except SMBException as exc:
                if failure is None and status_of(exc) not in _NOT_THERE:
                    failure = exc

    for where in paths:
        steps = ops.remove_file_steps(tree, where.wire)
        pending.append((client.send(tree, [message for message, _ in steps], related=True),
                        steps))
        if len(pending) >= _REMOVE_DEPTH:
            collect()
    while pending:
        collect()
    if failure is not None:
        raise failure


def _rename(client: SmbClient, source: SmbPath, target: SmbPath) -> None:
    ops.rename(client, client.tree(source.share), source.wire, target.wire, replace=False)
