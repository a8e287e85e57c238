"""Connection details of the test servers, as the fixtures hand them to tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["S3Server", "SmbServer", "SshServer"]


@dataclass(frozen=True)
class S3Server:
    """An S3-compatible endpoint; path-style addressing, plain HTTP."""

    name: str  # "moto" or "rclone"
    endpoint_url: str  # "http://127.0.0.1:PORT"
    access_key: str
    secret_key: str
    region: str  # "us-east-1"
    data_dir: Path | None  # rclone: the folder it serves (buckets are its subfolders); moto: None


@dataclass(frozen=True)
class SshServer:
    """A private OpenSSH sshd offering SFTP (``internal-sftp``).

    Key authentication always works; ``password`` is None when the tests do not
    run as root (sshd then runs as, and only admits, the current user).
    Server-side operations run as ``user``: files the tests create directly
    under ``root`` are made accessible to that user through an inherited POSIX
    ACL where the filesystem supports it (an explicit ``chmod`` still applies).
    """

    host: str
    port: int
    user: str
    password: str | None
    client_key: Path  # private key file (no passphrase)
    known_hosts: Path  # contains this server's host key as [127.0.0.1]:PORT
    host_key_fingerprint: str  # "SHA256:..."
    root: Path  # a writable scratch folder (absolute path on the server == local path)


@dataclass(frozen=True)
class SmbServer:
    """A private Samba smbd with a plain share and an encryption-only share."""

    host: str
    port: int
    user: str
    password: str
    share: str  # "data"
    encrypted_share: str  # "secure" (smb encrypt = required)
    root: Path  # local folder behind ``share``
    encrypted_root: Path  # local folder behind ``encrypted_share``
