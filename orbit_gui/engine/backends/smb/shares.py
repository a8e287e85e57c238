"""The server's list of shares: srvsvc NetrShareEnum (level 1) over DCE/RPC.

smbprotocol has no share enumeration, so this speaks just enough DCE/RPC on
the ``\\PIPE\\srvsvc`` named pipe of ``IPC$``: a BIND to the srvsvc interface,
then one NetrShareEnum request (NDR encoded by hand), its response reassembled
from as many fragments as the server sends. Only disk shares that are not
hidden (``$`` administrative shares) are returned.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

from smbprotocol.exceptions import SMBException
from smbprotocol.ioctl import CtlCode, IOCTLFlags, SMB2IOCTLRequest
from smbprotocol.open import (
    CreateDisposition,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    ShareAccess,
)

from .session import SmbClient

__all__ = ["ShareInfo", "enumerate_shares", "parse_share_enum"]

_SRVSVC = uuid.UUID("4b324fc8-1670-01d3-1278-5a47bf6ee188").bytes_le + struct.pack("<HH", 3, 0)
_NDR = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860").bytes_le + struct.pack("<I", 2)
_BIND, _BIND_ACK, _REQUEST, _RESPONSE, _FAULT = 11, 12, 0, 2, 3
_FIRST, _LAST = 0x01, 0x02
_FRAGMENT = 4280
_NET_SHARE_ENUM = 15
_STYPE_MASK = 0x0FFFFFFF
_STYPE_DISKTREE = 0
_STYPE_SPECIAL = 0x80000000
_PIPE_ACCESS = (
    FilePipePrinterAccessMask.FILE_READ_DATA
    | FilePipePrinterAccessMask.FILE_WRITE_DATA
    | FilePipePrinterAccessMask.FILE_READ_EA
    | FilePipePrinterAccessMask.FILE_WRITE_EA
    | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
    | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES
    | FilePipePrinterAccessMask.READ_CONTROL
    | FilePipePrinterAccessMask.SYNCHRONIZE
)


@dataclass(frozen=True, slots=True)
class ShareInfo:
    name: str
    type: int
    remark: str

    @property
    def is_disk(self) -> bool:
        return (self.type & _STYPE_MASK) == _STYPE_DISKTREE

    @property
    def is_hidden(self) -> bool:
        return bool(self.type & _STYPE_SPECIAL) or self.name.endswith("$")


def _pdu(ptype: int, call_id: int, body: bytes) -> bytes:
    header = struct.pack("<BBBB4sHHI", 5, 0, ptype, _FIRST | _LAST, b"\x10\x00\x00\x00",
                         16 + len(body), 0, call_id)
    return header + body


def _bind_pdu() -> bytes:
    body = struct.pack("<HHIB3x", _FRAGMENT, _FRAGMENT, 0, 1)
    body += struct.pack("<HBx", 0, 1) + _SRVSVC + _NDR
    return _pdu(_BIND, 1, body)


def _align(data: bytearray) -> None:
    data.extend(b"\x00" * (-len(data) % 4))


def _share_enum_stub(server: str) -> bytes:
    stub = bytearray()
    name = server + "\x00"
    stub += struct.pack("<IIII", 0x00020000, len(name), 0, len(name))
    stub += name.encode("utf-16-le")
    _align(stub)
    # SHARE_ENUM_STRUCT: level 1, union arm 1 -> SHARE_INFO_1_CONTAINER {0, NULL}
    stub += struct.pack("<IIIII", 1, 1, 0x00020004, 0, 0)
    stub += struct.pack("<I", 0xFFFFFFFF)  # PreferedMaximumLength
    stub += struct.pack("<II", 0x00020008, 0)  # ResumeHandle
    return bytes(stub)


def _request_pdu(stub: bytes) -> bytes:
    return _pdu(_REQUEST, 2, struct.pack("<IHH", len(stub), 0, _NET_SHARE_ENUM) + stub)


class _Reader:
    """A little-endian NDR cursor over a response stub."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u32(self) -> int:
        self.align()
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def align(self) -> None:
        self.pos += -self.pos % 4

    def string(self) -> str:
        _max, _offset, actual = self.u32(), self.u32(), self.u32()
        raw = self.data[self.pos : self.pos + 2 * actual]
        self.pos += 2 * actual
        return raw.decode("utf-16-le", "replace").rstrip("\x00")


def parse_share_enum(stub: bytes) -> list[ShareInfo]:
    """Decode a NetrShareEnum level-1 response stub."""
    ndr = _Reader(stub)
    level, _arm, container = ndr.u32(), ndr.u32(), ndr.u32()
    if level != 1 or not container:
        return []
    count, array = ndr.u32(), ndr.u32()
    if not array or not count:
        return []
    ndr.u32()  # conformance (max count)
    heads = [(ndr.u32(), ndr.u32(), ndr.u32()) for _ in range(count)]
    shares = []
    for name_ptr, share_type, remark_ptr in heads:
        name = ndr.string() if name_ptr else ""
        remark = ndr.string() if remark_ptr else ""
        shares.append(ShareInfo(name, share_type, remark))
    status = struct.unpack_from("<I", stub, len(stub) - 4)[0]
    if status != 0:
        raise SMBException(f"NetrShareEnum failed with WERROR 0x{status:08X}")
    return shares


def _transceive(client: SmbClient, pipe: Any, data: bytes) -> bytes:
    message = SMB2IOCTLRequest()
    message["ctl_code"] = CtlCode.FSCTL_PIPE_TRANSCEIVE
    message["file_id"] = pipe.file_id
    message["max_output_response"] = _FRAGMENT
    message["flags"] = IOCTLFlags.SMB2_0_IOCTL_IS_FSCTL
    message["buffer"] = data
    (request,) = client.send(pipe.tree_connect, [message])
    raw = client.receive(request)["data"].get_value()
    offset, count = struct.unpack_from("<II", raw, 32)
    return bytes(raw[offset - 64 : offset - 64 + count])


def _fragments(client: SmbClient, pipe: Any, first: bytes, expect: int) -> bytes:
    """The stub of a (possibly fragmented) response whose first bytes are ``first``."""
    stub = bytearray()
    buffer = first
    while True:
        while len(buffer) < 16:
            buffer += pipe.read(0, _FRAGMENT)
        ptype, flags = buffer[2], buffer[3]
        (length,) = struct.unpack_from("<H", buffer, 8)
        while len(buffer) < length:
            buffer += pipe.read(0, _FRAGMENT)
        fragment, buffer = buffer[:length], buffer[length:]
        if ptype == _FAULT:
            (status,) = struct.unpack_from("<I", fragment, 24)
            raise SMBException(f"the srvsvc call failed with fault 0x{status:08X}")
        if ptype != expect:
            raise SMBException(f"unexpected DCE/RPC packet type {ptype}")
        if expect == _BIND_ACK:
            return bytes(fragment)
        stub += fragment[24:]
        if flags & _LAST:
            return bytes(stub)
        if not buffer:
            buffer = pipe.read(0, _FRAGMENT)


def enumerate_shares(client: SmbClient) -> list[ShareInfo]:
    """Every share the server lists (blocking)."""
    tree = client.tree("IPC$")
    pipe = Open(tree, "srvsvc")
    pipe.create(ImpersonationLevel.Impersonation, _PIPE_ACCESS, 0,
                ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE,
                CreateDisposition.FILE_OPEN, 0)
    try:
        ack = _fragments(client, pipe, _transceive(client, pipe, _bind_pdu()), _BIND_ACK)
        (secondary,) = struct.unpack_from("<H", ack, 24)
        results = 26 + secondary
        results += -results % 4
        if ack[results] < 1 or struct.unpack_from("<H", ack, results + 4)[0] != 0:
            raise SMBException("the server refused the srvsvc interface")
        stub = _share_enum_stub(f"\\\\{client.settings.host}")
        response = _transceive(client, pipe, _request_pdu(stub))
        return parse_share_enum(_fragments(client, pipe, response, _RESPONSE))
    finally:
        pipe.close()
