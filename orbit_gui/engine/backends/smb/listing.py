"""Folder listings one QUERY_DIRECTORY response at a time.

The first page comes with the folder's CREATE in one compound; each further
page is one request with a bounded output buffer, so a consumer that stops
after the first entry costs one round trip. Entries are decoded from the
FileIdFullDirectoryInformation records themselves (size, times, attributes
and file number): no per-entry stat.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from typing import Any

from smbprotocol.exceptions import NoMoreFiles
from smbprotocol.file_info import FileAttributes, FileInformationClass
from smbprotocol.open import CreateDisposition, CreateOptions, DirectoryAccessMask

from ..local import TEMP_PREFIX
from .names import decode_name
from .ops import FileInfo, Step, close_quietly, create_step, run_steps
from .session import SmbClient

__all__ = ["DirectoryCursor", "page_bytes", "parse_page"]

_ENTRY = struct.Struct("<IIqqqqqqIIIIQ")  # FileIdFullDirectoryInformation up to FileName
_DIRECTORY = FileAttributes.FILE_ATTRIBUTE_DIRECTORY
_MIN_PAGE = 4096
_MAX_PAGE = 64 * 1024  # one credit


def page_bytes(page_size: int, max_transact: int) -> int:
    """The output buffer for about ``page_size`` entries (at least 4 KiB, at most 64 KiB)."""
    return max(_MIN_PAGE, min(page_size * 128, _MAX_PAGE, max_transact))


def parse_page(buffer: bytes, *, partial: bool = False) -> Iterator[tuple[str, FileInfo]]:
    """The (name, info) pairs of one page, without ``.``, ``..`` and (unless
    ``partial``) the hidden files of uploads in progress."""
    position = 0
    view = memoryview(buffer)
    while position + _ENTRY.size <= len(buffer):
        (following, _, _, _, last_write, _, size, _, attributes, name_length, _, _,
         file_id) = _ENTRY.unpack_from(buffer, position)
        start = position + _ENTRY.size
        raw_name = bytes(view[start : start + name_length]).decode("utf-16-le", "replace")
        if raw_name not in (".", "..") and (partial or not raw_name.startswith(TEMP_PREFIX)):
            is_dir = bool(attributes & _DIRECTORY)
            yield decode_name(raw_name), FileInfo(
                is_dir, 0 if is_dir else size, last_write, file_id, attributes
            )
        if not following:
            break
        position += following


class DirectoryCursor:
    """An open folder being enumerated (blocking; one worker thread at a time)."""

    def __init__(self, client: SmbClient, share: str, wire: str, output: int, *,
                 partial: bool = False) -> None:
        self.client = client
        self.share = share
        self.partial = partial
        self.wire = wire
        self.output = output
        self.handle: Any = None
        self.done = False
        self._lock = threading.Lock()

    def _query_step(self, handle: Any) -> Step:
        message, _ = handle.query_directory(
            "*", FileInformationClass.FILE_ID_FULL_DIRECTORY_INFORMATION,
            flags=0, max_output=self.output, send=False,
        )
        client = self.client

        def receive(request: Any) -> bytes | None:
            try:
                raw = client.receive(request)["data"].get_value()
            except NoMoreFiles:
                return None
            offset, length = struct.unpack_from("<HI", raw, 2)
            return bytes(raw[offset - 64 : offset - 64 + length])

        return message, receive

    def fetch(self) -> list[tuple[str, FileInfo]] | None:
        """The next page (possibly empty once filtered), or None at the end."""
        with self._lock:
            return self._fetch()

    def _fetch(self) -> list[tuple[str, FileInfo]] | None:
        if self.done:
            return None
        tree = self.client.tree(self.share)
        if self.handle is None:
            handle, create = create_step(
                tree, self.wire,
                access=DirectoryAccessMask.FILE_LIST_DIRECTORY
                | DirectoryAccessMask.FILE_READ_ATTRIBUTES,
                disposition=CreateDisposition.FILE_OPEN,
                options=CreateOptions.FILE_DIRECTORY_FILE,
            )
            self.handle = handle
            try:
                _, buffer = run_steps(self.client, tree, [create, self._query_step(handle)])
            except BaseException:
                self.done = True
                if handle.connected:
                    close_quietly(handle)
                raise
        else:
            (buffer,) = run_steps(self.client, tree, [self._query_step(self.handle)])
        if buffer is None:
            self._close()
            return None
        return list(parse_page(buffer, partial=self.partial))

    def close(self) -> None:
        """Close the folder (waits for a fetch still running)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        self.done = True
        handle, self.handle = self.handle, None
        if handle is not None and handle.connected:
            close_quietly(handle)
