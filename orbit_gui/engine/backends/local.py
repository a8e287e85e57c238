"""The local file system as a Backend.

Blocking calls run in worker threads; a listing walks ``os.scandir`` one page
at a time; a write goes to a hidden temporary name in the destination folder
and is renamed into place only when complete.
"""

from __future__ import annotations

import asyncio
import errno
import mimetypes
import os
import secrets
import shutil
import stat as stat_mod
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from ..aio import to_the_end
from ..backend import DEFAULT_CHUNK_SIZE, AsyncReader, Backend, read_into
from ..errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    InvalidPath,
    IsADirectory,
    NoSpace,
    NotADirectory,
    NotFound,
    OrbitError,
    PermissionDenied,
    SourceChanged,
)
from ..types import Entry, Features, ListOptions, WriteOptions

if TYPE_CHECKING:
    from ..profiles import Profile

__all__ = ["TEMP_PREFIX", "LocalBackend"]

TEMP_PREFIX = ".orbit-partial-"
"""Hidden name prefix of files being written; never shown as finished files."""

_ERRNO_ERRORS: dict[int, type[OrbitError]] = {
    errno.ENOENT: NotFound,
    errno.EEXIST: AlreadyExists,
    errno.ENOTDIR: NotADirectory,
    errno.EISDIR: IsADirectory,
    errno.ENOTEMPTY: DirectoryNotEmpty,
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.EROFS: PermissionDenied,
    errno.ENOSPC: NoSpace,
    errno.EDQUOT: NoSpace,
    errno.ENAMETOOLONG: InvalidPath,
    errno.EILSEQ: InvalidPath,
    errno.EINVAL: InvalidPath,
}


def map_os_error(exc: OSError, path: str) -> OrbitError:
    """Translate an OSError into the engine's error tree, naming ``path``."""
    kind = _ERRNO_ERRORS.get(exc.errno or 0, OrbitError)
    reason = exc.strerror or str(exc)
    return kind(f"{path}: {reason}", path=path)


@contextmanager
def _mapped(path: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise map_os_error(exc, path) from exc


def _check_path(path: str) -> str:
    if "\x00" in path:
        raise InvalidPath(f"the path {path!r} contains a NUL byte", path=path)
    if not os.path.isabs(path):
        raise InvalidPath(f"{path!r} is not an absolute path", path=path)
    return path


def version_tag(st: os.stat_result) -> str:
    """A local file's stand-in for an ETag: changes whenever it is rewritten."""
    return f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}"


def _entry(path: str, name: str, st: os.stat_result, *, is_dir: bool) -> Entry:
    extra = {"mode": stat_mod.filemode(st.st_mode)}
    return Entry(
        name=name,
        path=path,
        is_dir=is_dir,
        size=None if is_dir else st.st_size,
        mtime=st.st_mtime,
        etag=None if is_dir else version_tag(st),
        content_type=None if is_dir else mimetypes.guess_type(name)[0],
        extra=extra,
    )


def _scan_page(entries: Iterator[os.DirEntry[str]], count: int) -> list[Entry]:
    page: list[Entry] = []
    for item in entries:
        if item.name.startswith(TEMP_PREFIX):
            continue
        try:
            is_dir = item.is_dir()
            st = item.stat()
        except FileNotFoundError:  # removed while we listed: not an entry any more
            continue
        except OSError:  # a dangling symlink: show it as what it is
            is_dir, st = False, item.stat(follow_symlinks=False)
        page.append(_entry(item.path, item.name, st, is_dir=is_dir))
        if len(page) >= count:
            break
    return page


class _Scanner:
    """An ``os.scandir`` iterator read page by page in worker threads.

    A listing cancelled while a page is being read must not close the iterator
    under the worker thread's feet (the C iterator would read freed memory), so
    closing waits for the page in flight, in a thread of its own if need be.
    """

    def __init__(self, entries: Iterator[os.DirEntry[str]]) -> None:
        self._entries = entries
        self._lock = threading.Lock()

    def page(self, count: int) -> list[Entry]:
        with self._lock:
            return _scan_page(self._entries, count)

    def _close(self) -> None:
        with self._lock:
            close = getattr(self._entries, "close", None)
            if close is not None:
                close()

    def close_soon(self) -> None:
        if self._lock.acquire(blocking=False):
            self._lock.release()
            self._close()
        else:
            threading.Thread(target=self._close, name="scandir-close", daemon=True).start()


class LocalBackend(Backend):
    """Files on this computer, addressed by absolute paths."""

    scheme = "local"
    features = Features(ranged_read=True, set_mtime=True)

    def __init__(self, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        super().__init__()
        self.chunk_size = chunk_size

    @classmethod
    def uses_secret(cls, profile: Profile) -> bool:
        return False

    async def stat(self, path: str) -> Entry:
        _check_path(path)
        with _mapped(path):
            st = await asyncio.to_thread(os.stat, path)
        name = os.path.basename(path.rstrip("/")) or "/"
        return _entry(path, name, st, is_dir=stat_mod.S_ISDIR(st.st_mode))

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        _check_path(path)
        folders = [path]
        while folders:
            folder = folders.pop()
            with _mapped(folder):
                scanner = _Scanner(await asyncio.to_thread(os.scandir, folder))
            try:
                while True:
                    self.stats.list_pages += 1
                    with _mapped(folder):
                        page = await asyncio.to_thread(scanner.page, options.page_size)
                    for entry in page:
                        if not options.recursive:
                            yield entry
                        elif entry.is_dir:
                            folders.append(entry.path)
                        else:
                            yield entry
                    if len(page) < options.page_size:
                        break
            finally:
                scanner.close_soon()

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        _check_path(path)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        with _mapped(path):
            handle = await asyncio.to_thread(open, path, "rb", buffering=0)
        try:
            st = os.fstat(handle.fileno())
            if stat_mod.S_ISDIR(st.st_mode):
                raise IsADirectory(f"{path} is a folder, not a file", path=path)
            if if_match is not None and version_tag(st) != if_match:
                raise SourceChanged(
                    f"{path} changed since the transfer began; it must start over", path=path
                )
            remaining = length
            position = offset
            while remaining is None or remaining > 0:
                want = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
                with _mapped(path):
                    chunk = await asyncio.to_thread(os.pread, handle.fileno(), want, position)
                if not chunk:
                    break
                position += len(chunk)
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        _check_path(path)
        folder, name = os.path.split(path)
        if not name:
            raise InvalidPath(f"{path!r} names a folder, not a file", path=path)
        with _mapped(path):
            await asyncio.to_thread(_prepare_write, path, options.overwrite)
        temp = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}")
        try:
            written = await self._write_temp(temp, reader, path)
            with _mapped(path):
                await to_the_end(asyncio.to_thread(_publish, temp, path, options))
        except BaseException:
            await to_the_end(asyncio.to_thread(_discard, temp))
            raise
        return written

    async def _write_temp(self, temp: str, reader: AsyncReader, path: str) -> int:
        """Each step in a worker thread runs to its end even if the write is cancelled
        meanwhile (a pause while the reader is blocked, or just as the file opens): the
        temporary file is made before the caller can remove it, and no thread writes to
        a descriptor already closed."""
        buffer = memoryview(bytearray(self.chunk_size))
        written = 0
        with _mapped(path):
            handle = await to_the_end(asyncio.to_thread(open, temp, "xb", buffering=0),
                                      undo=lambda made: asyncio.to_thread(made.close))
        try:
            while True:
                got = await read_into(reader, buffer)
                if not got:
                    break
                with _mapped(path):
                    await to_the_end(asyncio.to_thread(_write_all, handle.fileno(),
                                                       buffer[:got]))
                written += got
                if got < len(buffer):
                    break
            with _mapped(path):
                await to_the_end(asyncio.to_thread(os.fsync, handle.fileno()))
        finally:
            handle.close()
        return written

    async def mkdir(self, path: str, parents: bool = True) -> None:
        _check_path(path)
        with _mapped(path):
            await asyncio.to_thread(_mkdir, path, parents)

    async def delete(self, path: str, recursive: bool = False) -> None:
        _check_path(path)
        with _mapped(path):
            await asyncio.to_thread(_delete, path, recursive)

    async def rename(self, src: str, dst: str) -> None:
        _check_path(src)
        _check_path(dst)
        await asyncio.to_thread(_rename, src, dst)


# Blocking helpers, each run whole in a worker thread.


def _prepare_write(path: str, overwrite: bool) -> None:
    if os.path.isdir(path):
        raise IsADirectory(f"{path} is a folder", path=path)
    if not overwrite and os.path.lexists(path):
        raise AlreadyExists(f"{path} already exists", path=path)
    os.makedirs(os.path.dirname(path), exist_ok=True)


def _publish(temp: str, path: str, options: WriteOptions) -> None:
    if options.mtime is not None:
        os.utime(temp, (options.mtime, options.mtime))
    if options.overwrite:
        os.replace(temp, path)
        return
    # link() fails if the name was taken meanwhile, where rename() would replace.
    os.link(temp, path)
    os.unlink(temp)


def _discard(temp: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(temp)


def _mkdir(path: str, parents: bool) -> None:
    if not parents:
        os.mkdir(path)
    elif os.path.lexists(path) and not os.path.isdir(path):
        raise AlreadyExists(f"{path} exists and is not a folder", path=path)
    else:
        os.makedirs(path, exist_ok=True)


def _delete(path: str, recursive: bool) -> None:
    if not stat_mod.S_ISDIR(os.lstat(path).st_mode):
        os.unlink(path)
    elif recursive:
        shutil.rmtree(path)
    else:
        os.rmdir(path)


def _rename(src: str, dst: str) -> None:
    if not os.path.lexists(src):
        raise NotFound(f"{src} does not exist", path=src)
    if os.path.lexists(dst):
        raise AlreadyExists(f"{dst} already exists", path=dst)
    with _mapped(src):
        os.rename(src, dst)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]
