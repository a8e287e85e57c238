"""SFTP over asyncssh: streaming, pipelined reads and writes, host keys checked.

Open one with ``open_backend(Profile(kind="sftp", host=..., port=..., user=...,
options={...}), secret)``; see :class:`SftpSettings` for the options. An
unknown host key raises :class:`SftpHostKeyUnknown` (a HostKeyUnknown carrying
the fingerprint and the key); after the user accepted it,
:func:`accept_host_key` records it and the next connection goes through
(:func:`trust_host_key` does that, or trusts it for this session only, for a profile).
``ssh_stack`` imports asyncssh first (see there why).
"""

from . import ssh_stack  # noqa: F401  # first: it imports asyncssh (see there why)
from .backend import MAX_BLOCK, SftpBackend
from .connect import (
    DEFAULT_REQUESTS,
    OPENSSH_MAX_BLOCK,
    PREFERRED_CIPHER,
    SftpSettings,
    trust_host_key,
)
from .entries import version_tag
from .hostkeys import (
    KnownHosts,
    SftpHostKeyChanged,
    SftpHostKeyUnknown,
    accept_host_key,
    app_known_hosts_path,
    host_token,
    system_known_hosts_path,
    trust_host_key_for_session,
)
from .mapping import SFTP_STATUS_ERRORS, map_error
from .upload import ProgressCallback, SftpPartUpload, temp_name

__all__ = [
    "DEFAULT_REQUESTS",
    "MAX_BLOCK",
    "OPENSSH_MAX_BLOCK",
    "PREFERRED_CIPHER",
    "SFTP_STATUS_ERRORS",
    "KnownHosts",
    "ProgressCallback",
    "SftpBackend",
    "SftpHostKeyChanged",
    "SftpHostKeyUnknown",
    "SftpPartUpload",
    "SftpSettings",
    "accept_host_key",
    "app_known_hosts_path",
    "host_token",
    "map_error",
    "system_known_hosts_path",
    "temp_name",
    "trust_host_key",
    "trust_host_key_for_session",
    "version_tag",
]
