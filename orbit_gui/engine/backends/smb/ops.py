"""Blocking SMB2 operations on names and handles, each in as few round trips as
the protocol allows (related compounds: CREATE + SET_INFO + CLOSE in one go).

Everything here runs in a worker thread; failures are smbprotocol exceptions,
mapped to engine errors by the caller (see ``errors.py``).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smbprotocol.create_contexts import (
    CreateContextName,
    SMB2CreateContextRequest,
    SMB2CreateQueryOnDiskIDResponse,
)
from smbprotocol.exceptions import SMBException
from smbprotocol.file_info import FileAttributes, FileInformationClass, InfoType
from smbprotocol.ioctl import CtlCode, IOCTLFlags, SMB2IOCTLRequest
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    DirectoryAccessMask,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    ShareAccess,
    SMB2SetInfoRequest,
)

from .session import SmbClient

__all__ = [
    "ALL_SHARING",
    "COPYCHUNK_COUNT",
    "COPYCHUNK_SIZE",
    "FILETIME_EPOCH",
    "FileInfo",
    "Step",
    "basic_info_buffer",
    "close_quietly",
    "close_step",
    "create_step",
    "filetime_from_unix",
    "info_from_create",
    "ioctl",
    "make_directory",
    "open_handle",
    "remove",
    "remove_file_steps",
    "remove_steps",
    "rename",
    "rename_buffer",
    "run_steps",
    "server_copy",
    "set_info_step",
    "stat",
    "unix_from_filetime",
]

FILETIME_EPOCH = 116_444_736_000_000_000
"""1970-01-01 as a FILETIME (100 ns ticks since 1601)."""

ALL_SHARING = (
    ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
)
_READ_ATTRIBUTES = FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
_DELETE = FilePipePrinterAccessMask.DELETE
_SYNCHRONIZE = FilePipePrinterAccessMask.SYNCHRONIZE
_DIRECTORY = FileAttributes.FILE_ATTRIBUTE_DIRECTORY
_CREATE = struct.Struct("<2xBxIqqqqqqI")


def unix_from_filetime(ticks: int) -> float:
    return (ticks - FILETIME_EPOCH) / 10_000_000


def filetime_from_unix(seconds: float) -> int:
    return round(seconds * 10_000_000) + FILETIME_EPOCH


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the server told us about a file or folder."""

    is_dir: bool
    size: int
    last_write: int
    """FILETIME of the last write (100 ns since 1601)."""
    file_id: int
    """The server's file number (inode), 0 when unknown."""
    attributes: int

    @property
    def mtime(self) -> float | None:
        return unix_from_filetime(self.last_write) if self.last_write else None

    @property
    def etag(self) -> str | None:
        """A version tag: changes whenever the file is rewritten or replaced."""
        if self.is_dir:
            return None
        return f"{self.last_write:x}-{self.size:x}-{self.file_id:x}"


# -- compounds ---------------------------------------------------------------------------

Step = tuple[Any, Callable[[Any], Any]]
"""A request message and the function that receives and decodes its response."""


def run_steps(client: SmbClient, tree: Any, steps: Sequence[Step], *,
              related: bool = True) -> list[Any]:
    """Send ``steps`` as one compound; return each step's result.

    ``related``: the steps work on the handle the first one opens, and stop at the
    first failure; otherwise each runs on its own (its handle must be open).
    Every response is collected (so none is left behind) before the first
    failure, if any, is raised with ``.smb_step`` set to its index.
    """
    requests = client.send(tree, [message for message, _ in steps],
                           related=related and len(steps) > 1)
    results: list[Any] = []
    failure: BaseException | None = None
    for index, (request, (_, receive)) in enumerate(zip(requests, steps, strict=True)):
        try:
            results.append(receive(request))
        except Exception as exc:
            results.append(None)
            if failure is None:
                exc.smb_step = index  # type: ignore[attr-defined]
                failure = exc
    if failure is not None:
        raise failure
    return results


def _query_id_context() -> Any:
    context = SMB2CreateContextRequest()
    context["buffer_name"] = CreateContextName.SMB2_CREATE_QUERY_ON_DISK_ID
    context["buffer_data"] = b""
    return context


def info_from_create(handle: Any, request: Any, contexts: Any) -> FileInfo:
    raw = request.response["data"].get_value()
    _, _, _, _, last_write, _, _, size, attributes = _CREATE.unpack_from(raw, 0)
    file_id = 0
    for context in contexts or ():
        if isinstance(context, SMB2CreateQueryOnDiskIDResponse):
            file_id = int(context["disk_file_id"].get_value())
    is_dir = bool(attributes & _DIRECTORY)
    return FileInfo(is_dir, 0 if is_dir else size, last_write, file_id, attributes)


def create_step(tree: Any, wire: str, *, access: int, disposition: int, options: int = 0,
                attributes: int = 0, sharing: int = ALL_SHARING,
                query_id: bool = False) -> tuple[Any, Step]:
    """A CREATE for ``wire`` (share-relative name) and its handle.

    ``query_id`` asks for the file number too (for version tags; it costs the
    server a little, so only stat and reads ask).
    """
    handle = Open(tree, wire)
    message, _ = handle.create(
        ImpersonationLevel.Impersonation, access, attributes, sharing, disposition, options,
        create_contexts=[_query_id_context()] if query_id else None, send=False,
    )

    def receive(request: Any) -> FileInfo:
        contexts = handle._create_response(request)
        return info_from_create(handle, request, contexts)

    return handle, (message, receive)


def close_step(handle: Any) -> Step:
    message, receive = handle.close(send=False)
    return message, receive


def set_info_step(handle: Any, info_class: int, buffer: bytes) -> Step:
    message = SMB2SetInfoRequest()
    message["info_type"] = InfoType.SMB2_0_INFO_FILE
    message["file_info_class"] = info_class
    message["file_id"] = handle.file_id
    message["buffer"] = buffer
    connection = handle.connection

    def receive(request: Any) -> None:
        connection.receive(request)

    return message, receive


def ioctl(client: SmbClient, handle: Any, code: int, data: bytes, output: int) -> bytes:
    """An FSCTL on an open handle; returns its output buffer."""
    message = SMB2IOCTLRequest()
    message["ctl_code"] = code
    message["file_id"] = handle.file_id
    message["max_output_response"] = output
    message["flags"] = IOCTLFlags.SMB2_0_IOCTL_IS_FSCTL
    message["buffer"] = data
    (request,) = client.send(handle.tree_connect, [message])
    raw = client.receive(request)["data"].get_value()
    offset, count = struct.unpack_from("<II", raw, 32)
    start = offset - 64
    return bytes(raw[start : start + count]) if count else b""


# -- whole operations ----------------------------------------------------------------------


def stat(client: SmbClient, tree: Any, wire: str) -> FileInfo:
    handle, create = create_step(tree, wire, access=_READ_ATTRIBUTES,
                                 disposition=CreateDisposition.FILE_OPEN, query_id=True)
    info, _ = run_steps(client, tree, [create, close_step(handle)])
    return info  # type: ignore[no-any-return]


def open_handle(client: SmbClient, tree: Any, wire: str, *, access: int, disposition: int,
                options: int = 0, sharing: int = ALL_SHARING,
                query_id: bool = False) -> tuple[Any, FileInfo]:
    """Open (or create) ``wire`` and keep the handle open."""
    handle, create = create_step(tree, wire, access=access, disposition=disposition,
                                 options=options, sharing=sharing, query_id=query_id)
    (info,) = run_steps(client, tree, [create])
    return handle, info


def close_quietly(handle: Any) -> None:
    """Close a handle; a connection that is already gone closed it for us."""
    try:
        handle.close()
    except Exception:  # the handle died with its connection or was closed already
        return


def make_directory(client: SmbClient, tree: Any, wire: str, *, exist_ok: bool) -> FileInfo:
    """Create one folder (``exist_ok``: an existing folder is fine)."""
    handle, create = create_step(
        tree, wire,
        access=DirectoryAccessMask.FILE_LIST_DIRECTORY | _READ_ATTRIBUTES,
        disposition=CreateDisposition.FILE_OPEN_IF if exist_ok else CreateDisposition.FILE_CREATE,
        options=CreateOptions.FILE_DIRECTORY_FILE,
        attributes=FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
    )
    info, _ = run_steps(client, tree, [create, close_step(handle)])
    return info  # type: ignore[no-any-return]


def remove(client: SmbClient, tree: Any, wire: str) -> None:
    """Delete a file or an empty folder (DIRECTORY_NOT_EMPTY otherwise)."""
    run_steps(client, tree, remove_steps(tree, wire))


def remove_steps(tree: Any, wire: str) -> list[Step]:
    """Delete a file or folder: open, mark for deletion (which is where a folder that
    is not empty fails), close."""
    handle, create = create_step(
        tree, wire, access=_DELETE | _READ_ATTRIBUTES, disposition=CreateDisposition.FILE_OPEN,
        options=CreateOptions.FILE_OPEN_REPARSE_POINT,
    )
    dispose = set_info_step(handle, FileInformationClass.FILE_DISPOSITION_INFORMATION, b"\x01")
    return [create, dispose, close_step(handle)]


def remove_file_steps(tree: Any, wire: str) -> list[Step]:
    """Delete a file known to be one: opened with delete-on-close (one step less)."""
    handle, create = create_step(
        tree, wire, access=_DELETE | _READ_ATTRIBUTES, disposition=CreateDisposition.FILE_OPEN,
        options=CreateOptions.FILE_OPEN_REPARSE_POINT | CreateOptions.FILE_NON_DIRECTORY_FILE
        | CreateOptions.FILE_DELETE_ON_CLOSE,
    )
    return [create, close_step(handle)]


def rename_buffer(target_wire: str, replace: bool) -> bytes:
    """FileRenameInformation (SMB2 form) naming ``target_wire`` in the same share."""
    name = target_wire.encode("utf-16-le")
    return struct.pack("<B7xQI", 1 if replace else 0, 0, len(name)) + name


def rename(client: SmbClient, tree: Any, wire: str, target_wire: str, *, replace: bool) -> None:
    """Move ``wire`` to ``target_wire``; OBJECT_NAME_COLLISION when it exists and not
    ``replace``. A failure of step 0 concerns the source, of step 1 the target."""
    handle, create = create_step(tree, wire, access=_DELETE | _READ_ATTRIBUTES | _SYNCHRONIZE,
                                 disposition=CreateDisposition.FILE_OPEN)
    move = set_info_step(handle, FileInformationClass.FILE_RENAME_INFORMATION,
                         rename_buffer(target_wire, replace))
    run_steps(client, tree, [create, move, close_step(handle)])


def basic_info_buffer(mtime: float) -> bytes:
    """FileBasicInformation changing only the last write (and access) time."""
    ticks = filetime_from_unix(mtime)
    return struct.pack("<qqqqII", 0, ticks, ticks, 0, 0, 0)


COPYCHUNK_SIZE = 1024 * 1024
"""Bytes per copy chunk, and chunks per request: the limits MS-SMB2 suggests (1 MiB, 16)."""
COPYCHUNK_COUNT = 16
_COPY_DEPTH = 4


def server_copy(client: SmbClient, source: Any, target: Any, length: int,
                progress: Callable[[int], None] | None = None) -> int:
    """Have the server copy ``length`` bytes of ``source`` into ``target`` (copychunk),
    several requests in flight; returns the bytes copied."""
    key = ioctl(client, source, CtlCode.FSCTL_SRV_REQUEST_RESUME_KEY, b"", 32)[:24]
    tree = target.tree_connect
    span = COPYCHUNK_SIZE * COPYCHUNK_COUNT
    pending: deque[tuple[Any, int]] = deque()
    offset = copied = 0
    try:
        while offset < length or pending:
            while offset < length and len(pending) < _COPY_DEPTH:
                count = min(span, length - offset)
                chunks = [
                    struct.pack("<QQI4x", at, at, min(COPYCHUNK_SIZE, offset + count - at))
                    for at in range(offset, offset + count, COPYCHUNK_SIZE)
                ]
                message = SMB2IOCTLRequest()
                message["ctl_code"] = CtlCode.FSCTL_SRV_COPYCHUNK_WRITE
                message["file_id"] = target.file_id
                message["max_output_response"] = 12
                message["flags"] = IOCTLFlags.SMB2_0_IOCTL_IS_FSCTL
                message["buffer"] = key + struct.pack("<I4x", len(chunks)) + b"".join(chunks)
                (request,) = client.send(tree, [message])
                pending.append((request, count))
                offset += count
            request, count = pending.popleft()
            raw = client.receive(request)["data"].get_value()
            out_offset, _ = struct.unpack_from("<II", raw, 32)
            _, _, total = struct.unpack_from("<III", raw, out_offset - 64)
            if total != count:
                raise SMBException(f"the server copied {total} of {count} bytes")
            copied += total
            if progress is not None:
                progress(total)
    finally:
        client.discard([request for request, _ in pending])
    return copied
