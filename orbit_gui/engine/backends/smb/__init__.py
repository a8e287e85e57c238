"""SMB2/3 shares (Windows, Samba, NAS devices) on smbprotocol: streamed and
pipelined I/O, lazy listings, shares, encryption.

Open one with ``open_backend(Profile(kind="smb", host=..., port=..., user=...,
root="/share", options={...}), password)``; see :class:`SmbSettings` for the
options. Paths are ``/share/folder/file``; ``/`` lists the server's shares.
"""

from .backend import SmbBackend
from .errors import NTSTATUS, ErrorContext, map_error
from .names import SmbPath, decode_name, encode_name, split_path
from .settings import (
    DEFAULT_CHUNK,
    DEFAULT_PORT,
    DEFAULT_REQUESTS,
    DEFAULT_WRITE_CHUNK,
    SmbSettings,
)
from .shares import ShareInfo, enumerate_shares
from .upload import ProgressCallback, SmbPartUpload, temp_name

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_PORT",
    "DEFAULT_REQUESTS",
    "DEFAULT_WRITE_CHUNK",
    "NTSTATUS",
    "ErrorContext",
    "ProgressCallback",
    "ShareInfo",
    "SmbBackend",
    "SmbPartUpload",
    "SmbPath",
    "SmbSettings",
    "decode_name",
    "encode_name",
    "enumerate_shares",
    "map_error",
    "split_path",
    "temp_name",
]
