"""An SFTP server (asyncssh) as a Backend: streaming, pipelined, host keys checked."""

from __future__ import annotations

import asyncio
import dataclasses
import posixpath
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing, suppress
from typing import cast

import asyncssh

from ...aio import to_the_end
from ...backend import AsyncReader, Backend
from ...errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotFound,
    OrbitError,
    SourceChanged,
    Unsupported,
)
from ...paths import check_name
from ...profiles import Profile
from ...types import Entry, Features, ListOptions, WriteOptions
from ..local import TEMP_PREFIX
from .connect import SftpSettings, key_needs_passphrase, open_sftp
from .entries import entry_from_attrs, is_dir, is_symlink, version_tag
from .mapping import map_error, mapped
from .reading import RequestBudget, pipelined_read
from .upload import SftpPartUpload, temp_name

__all__ = ["MAX_BLOCK", "SftpBackend"]

MAX_BLOCK = 1024 * 1024
"""Largest read/write request we send even if the server allows more (memory per request)."""

_FAILURE = (asyncssh.SFTPFailure, asyncssh.SFTPFileAlreadyExists)
CLEANUP_GRACE = 10.0
"""Seconds a cancelled upload waits for the server to open or remove its temporary
file, so that it leaves none behind (bounded: the connection may hang)."""


def _check_path(path: str) -> str:
    if "\x00" in path:
        raise InvalidPath(f"the path {path!r} contains a NUL byte", path=path)
    if not path.startswith("/"):
        raise InvalidPath(f"{path!r} is not an absolute path", path=path)
    return path


class SftpBackend(Backend):
    """Files on an SFTP server, addressed by absolute paths on that server."""

    scheme = "sftp"
    features = Features(ranged_read=True, part_write=True, set_mtime=True, server_copy=False)

    def __init__(self, conn: asyncssh.SSHClientConnection, sftp: asyncssh.SFTPClient,
                 settings: SftpSettings) -> None:
        super().__init__()
        self.conn = conn
        self.sftp = sftp
        self.settings = settings
        peer = conn.get_extra_info("peername")
        port = peer[1] if peer else settings.port
        self.where = f"{settings.host}:{port}"
        """"host:port", as messages name the server."""
        limits = sftp.limits
        wanted = settings.block_size or MAX_BLOCK
        self.read_block = max(1, min(wanted, limits.max_read_len or wanted, MAX_BLOCK))
        self.write_block = max(1, min(wanted, limits.max_write_len or wanted, MAX_BLOCK))
        self.requests = settings.requests
        self.write_slots = asyncio.Semaphore(self.requests)
        """WRITE requests in flight over the whole connection: parts uploading side by
        side share them, so what asyncssh holds queued stays ``requests x block``."""
        self.read_budget = RequestBudget(self.requests)
        """READ requests in flight over the whole connection, shared the same way by
        the ranges of a window download."""
        self.features = dataclasses.replace(
            type(self).features, server_copy=sftp.supports_remote_copy
        )
        self._flush_sftp: asyncio.Task[asyncssh.SFTPClient | None] | None = None

    # -- connecting ---------------------------------------------------------------------------

    @classmethod
    async def from_profile(cls, profile: Profile, secret: str | None = None) -> SftpBackend:
        settings = SftpSettings.from_profile(profile)
        conn, sftp = await open_sftp(settings, secret)
        return cls(conn, sftp, settings)

    @classmethod
    def uses_secret(cls, profile: Profile) -> bool:
        """The secret is the password, or with a key file that key's passphrase: a key
        file that loads without one needs none."""
        try:
            key_file = SftpSettings.from_profile(profile).key_file
        except OrbitError:
            return True
        return key_file is None or key_needs_passphrase(key_file)

    @property
    def display_name(self) -> str:
        user = self.conn.get_extra_info("username") or self.settings.user
        return f"{user}@{self.where}" if user else self.where

    async def flush_client(self) -> asyncssh.SFTPClient | None:
        """A second SFTP session on this connection for early flushes (see
        :mod:`.flushing`), started at first use; None if the server refuses one."""
        if self._flush_sftp is None:
            self._flush_sftp = asyncio.ensure_future(self._start_flush_client())
        return await asyncio.shield(self._flush_sftp)

    async def _start_flush_client(self) -> asyncssh.SFTPClient | None:
        try:
            return await self.conn.start_sftp_client(path_errors="surrogateescape")
        except (asyncssh.Error, OSError):
            return None

    async def aclose(self) -> None:
        flush = self._flush_sftp
        if flush is not None and not flush.done():
            flush.cancel()
        elif flush is not None and not flush.cancelled():
            client = flush.result()
            if client is not None:
                client.exit()
        self.sftp.exit()
        self.conn.close()
        with suppress(Exception):
            await self.conn.wait_closed()

    # -- helpers ------------------------------------------------------------------------------

    async def _attrs_or_none(self, path: str, *, follow: bool = True) -> asyncssh.SFTPAttrs | None:
        try:
            with mapped(self.where, path):
                self.stats.requests += 1
                if follow:
                    return await self.sftp.stat(path)
                return await self.sftp.lstat(path)
        except NotFound:
            return None

    async def _lstat(self, path: str) -> asyncssh.SFTPAttrs:
        attrs = await self._attrs_or_none(path, follow=False)
        if attrs is None:
            raise NotFound(f"{path} does not exist (on {self.where})", path=path, host=self.where)
        return attrs

    def _error(self, exc: Exception, path: str) -> OrbitError:
        mapped_exc = map_error(exc, where=self.where, path=path)
        if mapped_exc is None:
            raise exc
        return mapped_exc

    async def _pages(self, folder: str) -> AsyncGenerator[Sequence[asyncssh.SFTPName], None]:
        """The raw READDIR answers for ``folder``, one page per request, fetched on demand.

        asyncssh's scandir() hides where one READDIR answer ends; the listing
        must count and pace pages, so this talks to its request handler.
        """
        handler = self.sftp._handler  # private on purpose: see the docstring
        try:
            self.stats.requests += 1
            handle = await handler.opendir(self.sftp.encode(folder))
        except asyncssh.SFTPFailure as exc:
            attrs = await self._attrs_or_none(folder)
            if attrs is not None and not is_dir(attrs):
                raise NotADirectory(f"{folder} is a file, not a folder", path=folder) from exc
            raise self._error(exc, folder) from exc
        except Exception as exc:
            raise self._error(exc, folder) from exc
        try:
            while True:
                self.stats.list_pages += 1
                self.stats.requests += 1
                try:
                    names, at_end = await handler.readdir(handle)
                except asyncssh.SFTPEOFError:
                    return
                except Exception as exc:
                    raise self._error(exc, folder) from exc
                yield names
                if at_end:
                    return
        finally:
            with suppress(Exception):
                await handler.close(handle)

    async def _entry(self, folder: str, item: asyncssh.SFTPName) -> Entry:
        name = cast(str, self.sftp.decode(cast(bytes, item.filename)))
        path = posixpath.join(folder, name)
        attrs = item.attrs
        if is_symlink(attrs):
            target = None
            with suppress(OrbitError):
                target = await self._attrs_or_none(path)
            if target is not None:
                return entry_from_attrs(path, name, target, link=True)
            return entry_from_attrs(path, name, attrs, link=True)
        return entry_from_attrs(path, name, attrs)

    # -- the Backend interface -----------------------------------------------------------------

    async def stat(self, path: str) -> Entry:
        _check_path(path)
        attrs = await self._attrs_or_none(path)
        if attrs is None:
            raise NotFound(f"{path} does not exist (on {self.where})", path=path, host=self.where)
        name = posixpath.basename(path.rstrip("/")) or "/"
        return entry_from_attrs(path, name, attrs)

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        _check_path(path)
        folders = [path]
        while folders:
            folder = folders.pop()
            async with aclosing(self._pages(folder)) as pages:
                async for page in pages:
                    for item in page:
                        raw = cast(bytes, item.filename)
                        if raw in (b".", b"..") or raw.startswith(TEMP_PREFIX.encode()):
                            continue
                        entry = await self._entry(folder, item)
                        if not options.recursive:
                            yield entry
                        elif entry.is_dir:
                            if not entry.extra.get("symlink"):
                                folders.append(entry.path)
                        else:
                            yield entry

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        _check_path(path)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        with mapped(self.where, path):
            self.stats.requests += 1
            file = await self.sftp.open(path, "rb", block_size=0)
        try:
            with mapped(self.where, path):
                self.stats.requests += 1
                attrs = await file.stat()
            if is_dir(attrs):
                raise IsADirectory(f"{path} is a folder, not a file", path=path)
            if if_match is not None and version_tag(attrs) != if_match:
                raise SourceChanged(
                    f"{path} changed since the transfer began; it must start over", path=path
                )
            if length == 0:
                return
            blocks = pipelined_read(
                file, offset, None if length is None else offset + length,
                block=self.read_block, depth=self.requests, known_size=attrs.size,
                on_request=self._count_request, budget=self.read_budget,
            )
            async with aclosing(blocks):
                while True:
                    try:
                        with mapped(self.where, path):
                            chunk = await anext(blocks)
                    except StopAsyncIteration:
                        break
                    yield chunk
        finally:
            with suppress(Exception):
                await file.close()

    def _count_request(self) -> None:
        self.stats.requests += 1

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        upload = await self.open_part_upload(path, options=options)
        try:
            written = await upload.write_stream(reader, size_hint=size_hint)
            await upload.commit()
        except BaseException:
            with suppress(Exception):  # to its end even if cancelled again meanwhile
                await to_the_end(upload.abort(), grace=CLEANUP_GRACE)
            raise
        return written

    async def mkdir(self, path: str, parents: bool = True) -> None:
        _check_path(path)
        try:
            self.stats.requests += 1
            await self.sftp.mkdir(path)
            return
        except asyncssh.SFTPNoSuchFile as exc:
            parent = posixpath.dirname(path.rstrip("/"))
            if not parents or parent in (path, ""):
                raise self._error(exc, path) from exc
        except _FAILURE as exc:
            await self._explain_mkdir_failure(exc, path, parents)
            return
        except Exception as exc:
            raise self._error(exc, path) from exc
        await self.mkdir(parent, parents=True)
        try:
            self.stats.requests += 1
            await self.sftp.mkdir(path)
        except _FAILURE as exc:
            await self._explain_mkdir_failure(exc, path, parents)
        except Exception as exc:
            raise self._error(exc, path) from exc

    async def _explain_mkdir_failure(self, exc: Exception, path: str, parents: bool) -> None:
        attrs = await self._attrs_or_none(path)
        if attrs is None:
            raise self._error(exc, path) from exc
        if parents and is_dir(attrs):
            return  # already there (or made meanwhile by someone else)
        what = "folder" if is_dir(attrs) else "file"
        raise AlreadyExists(f"{path} already exists as a {what}", path=path) from exc

    async def delete(self, path: str, recursive: bool = False) -> None:
        _check_path(path)
        attrs = await self._lstat(path)
        if not is_dir(attrs):
            with mapped(self.where, path):
                self.stats.requests += 1
                await self.sftp.remove(path)
        elif recursive:
            await self._remove_tree(path)
        else:
            await self._rmdir(path)

    async def _rmdir(self, path: str) -> None:
        try:
            self.stats.requests += 1
            await self.sftp.rmdir(path)
        except (*_FAILURE, asyncssh.SFTPDirNotEmpty) as exc:
            async with aclosing(self._pages(path)) as pages:
                async for page in pages:
                    if any(cast(bytes, i.filename) not in (b".", b"..") for i in page):
                        raise DirectoryNotEmpty(
                            f"{path} is not empty; delete it recursively to remove its "
                            "contents too", path=path,
                        ) from exc
            raise self._error(exc, path) from exc
        except Exception as exc:
            raise self._error(exc, path) from exc

    async def _remove_tree(self, folder: str) -> None:
        files: list[str] = []
        folders: list[str] = []
        async with aclosing(self._pages(folder)) as pages:
            async for page in pages:
                for item in page:
                    raw = cast(bytes, item.filename)
                    if raw in (b".", b".."):
                        continue
                    child = posixpath.join(folder, cast(str, self.sftp.decode(raw)))
                    (folders if is_dir(item.attrs) else files).append(child)
        gate = asyncio.Semaphore(self.requests)

        async def remove(path: str) -> None:
            async with gate:
                try:
                    self.stats.requests += 1
                    await self.sftp.remove(path)
                except asyncssh.SFTPNoSuchFile:
                    pass  # gone meanwhile: fine
                except Exception as exc:
                    raise self._error(exc, path) from exc

        for start in range(0, len(files), 256):
            await asyncio.gather(*(remove(p) for p in files[start : start + 256]))
        for sub in folders:
            await self._remove_tree(sub)
        await self._rmdir(folder)

    async def rename(self, src: str, dst: str) -> None:
        _check_path(src)
        _check_path(dst)
        await self._lstat(src)
        if await self._attrs_or_none(dst, follow=False) is not None:
            raise AlreadyExists(f"{dst} already exists", path=dst)
        try:
            self.stats.requests += 1
            await self.sftp.rename(src, dst)
        except _FAILURE as exc:
            if await self._attrs_or_none(dst, follow=False) is not None:
                raise AlreadyExists(f"{dst} already exists", path=dst) from exc
            raise self._error(exc, src) from exc
        except Exception as exc:
            raise self._error(exc, src) from exc

    # -- beyond the base interface ------------------------------------------------------------

    async def open_part_upload(self, path: str, size: int | None = None, *,
                               session_id: str | None = None, resume: bool = False,
                               options: WriteOptions = WriteOptions()) -> SftpPartUpload:
        """Start (or with ``resume=True`` reopen) the upload of ``path`` as parts.

        The data goes to ``<folder>/.orbit-partial-<session_id>``; keep
        ``upload.session_id`` to resume after a crash or a lost connection.
        ``size`` (when known) is checked at commit.
        """
        _check_path(path)
        folder, name = posixpath.split(path)
        if not name:
            raise InvalidPath(f"{path!r} names a folder, not a file", path=path)
        if resume and not session_id:
            raise ValueError("resuming an upload needs its session id")
        session_id = session_id or secrets.token_hex(8)
        check_name(TEMP_PREFIX + session_id)
        target = await self._attrs_or_none(path)
        if target is not None and is_dir(target):
            raise IsADirectory(f"{path} is a folder", path=path)
        if target is not None and not options.overwrite:
            raise AlreadyExists(f"{path} already exists", path=path)
        temp = temp_name(path, session_id)
        flags = asyncssh.FXF_WRITE if resume else (
            asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
        )
        # Cancelled while the server opens the file (a pause as the file starts): it is
        # made all the same, so wait for the answer, then close it and remove a new one.
        file = await to_the_end(self._open_temp(temp, flags, path, folder, resume),
                                undo=lambda opened: self._drop_temp(opened, temp, resume),
                                grace=CLEANUP_GRACE)
        return SftpPartUpload(self, path, session_id, file, size=size,
                              overwrite=options.overwrite, mtime=options.mtime)

    async def _drop_temp(self, file: asyncssh.SFTPClientFile, temp: str, keep: bool) -> None:
        with suppress(Exception):
            await file.close()
        if not keep:
            with suppress(Exception):
                await self.sftp.remove(temp)

    async def _open_temp(self, temp: str, flags: int, path: str, folder: str,
                         resume: bool) -> asyncssh.SFTPClientFile:
        for attempt in (1, 2):
            try:
                self.stats.requests += 1
                return await self.sftp.open(temp, flags, encoding=None, block_size=0)
            except asyncssh.SFTPNoSuchFile as exc:
                if resume:
                    raise NotFound(
                        f"the partial upload of {path} is gone from {self.where}; "
                        "it must start over", path=path,
                    ) from exc
                if attempt == 2:
                    raise self._error(exc, path) from exc
            except Exception as exc:
                raise self._error(exc, path) from exc
            await self.mkdir(folder, parents=True)
        raise AssertionError("unreachable")

    async def _publish(self, temp: str, path: str, *, overwrite: bool) -> None:
        """Rename a finished temporary file into place."""
        try:
            self.stats.requests += 1
            if overwrite:
                try:
                    await self.sftp.posix_rename(temp, path)
                    return
                except asyncssh.SFTPOpUnsupported:
                    pass  # no posix-rename: replace in two steps below
                target = await self._attrs_or_none(path, follow=False)
                if target is not None and is_dir(target):
                    raise IsADirectory(f"{path} is a folder", path=path)
                if target is not None:
                    await self.sftp.remove(path)
            elif await self._attrs_or_none(path, follow=False) is not None:
                raise AlreadyExists(f"{path} already exists", path=path)
            # Plain SFTP rename refuses an existing target (OpenSSH: link + unlink).
            await self.sftp.rename(temp, path)
        except _FAILURE as exc:
            target = await self._attrs_or_none(path, follow=False)
            if target is not None and is_dir(target):
                raise IsADirectory(f"{path} is a folder", path=path) from exc
            if target is not None and not overwrite:
                raise AlreadyExists(f"{path} already exists", path=path) from exc
            raise self._error(exc, path) from exc
        except OrbitError:
            raise
        except Exception as exc:
            raise self._error(exc, path) from exc

    async def copy(self, src: str, dst: str, options: WriteOptions = WriteOptions()) -> int:
        """Copy ``src`` to ``dst`` on the server (copy-data extension); return the size.

        The copy lands in a temporary name and is renamed into place, like write().
        """
        _check_path(src)
        if not self.features.server_copy:
            raise Unsupported(f"{self.where} cannot copy files on the server side")
        with mapped(self.where, src):
            self.stats.requests += 1
            source = await self.sftp.open(src, "rb", block_size=0)
        try:
            with mapped(self.where, src):
                attrs = await source.stat()
            if is_dir(attrs):
                raise IsADirectory(f"{src} is a folder, not a file", path=src)
            size = attrs.size or 0
            upload = await self.open_part_upload(dst, size, options=options)
            try:
                await upload.copy_from(source, 0, size)
                await upload.commit()
            except BaseException:
                with suppress(Exception):
                    await upload.abort()
                raise
        finally:
            with suppress(Exception):
                await source.close()
        return size

    def __repr__(self) -> str:
        return f"<SftpBackend {self.display_name}>"
