"""Opening an SSH connection and its SFTP session from a Profile.

Authentication: the profile's secret is the password, or, with
``options["key_file"]``, that key's passphrase; with neither, ssh-agent and
the default keys (and ``IdentityFile`` from ``~/.ssh/config``) are offered.
Host keys are checked by :mod:`.hostkeys`; ciphers, compression and window
sizes follow the measurements in DESIGN (aes128-gcm first, compression off).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.encryption import get_default_encryption_algs
from asyncssh.public_key import get_default_public_key_algs

from ...errors import (
    AuthenticationFailed,
    ConnectionFailed,
    HostKeyError,
    HostKeyUnknown,
    InvalidPath,
    NotFound,
    Unsupported,
)
from ...profiles import Profile
from .hostkeys import (
    DEFAULT_SSH_PORT,
    KnownHosts,
    SftpHostKeyUnknown,
    app_known_hosts_path,
    system_known_hosts_path,
)

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_REQUESTS",
    "OPENSSH_MAX_BLOCK",
    "PREFERRED_CIPHER",
    "SftpSettings",
    "open_sftp",
    "trust_host_key",
]

PREFERRED_CIPHER = b"aes128-gcm@openssh.com"
OPENSSH_MAX_BLOCK = 261120
"""OpenSSH's advertised read/write limit; 262144 makes it drop the connection."""
DEFAULT_BLOCK_SIZE = OPENSSH_MAX_BLOCK
"""Used when the server advertises no limits (limits@openssh.com); capped by them otherwise."""
DEFAULT_REQUESTS = 32
"""Read or write requests in flight per transfer (memory: requests x block size)."""
_WINDOW = 16 * 1024 * 1024
_MAX_PACKET = 256 * 1024


def _option(options: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = options.get(key, default)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InvalidPath(
            f"the SFTP option {key}={value!r} is not a valid {kind.__name__}"
        ) from None


@dataclass(frozen=True)
class SftpSettings:
    """Everything needed to connect, read from a Profile (never holds the secret).

    Profile options: ``key_file``, ``known_hosts`` (the app's file),
    ``system_known_hosts`` (False: ignore ~/.ssh/known_hosts), ``ssh_config``
    (a path or list of paths; [] for none; default ~/.ssh/config),
    ``agent_path``, ``connect_timeout``, ``keepalive_interval``,
    ``keepalive_count_max``, ``block_size``, ``requests`` (in flight),
    ``fsync`` (flush uploads on the server before publishing them; default on, and
    large ones flush early as they arrive, see :mod:`.flushing`).
    """

    host: str
    port: int | None
    user: str | None
    key_file: str | None = None
    known_hosts: Path | None = None
    system_known_hosts: bool = True
    ssh_config: tuple[str, ...] | None = None
    agent_path: str | None = None
    connect_timeout: float = 20.0
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 4
    block_size: int | None = None
    requests: int = DEFAULT_REQUESTS
    fsync: bool = True

    @classmethod
    def from_profile(cls, profile: Profile) -> SftpSettings:
        if not profile.host:
            raise InvalidPath(f"the SFTP connection {profile.name!r} has no host")
        opts = profile.options
        config = opts.get("ssh_config")
        ssh_config = None if config is None else (
            (str(config),) if isinstance(config, (str, Path)) else tuple(str(p) for p in config)
        )
        known_hosts = opts.get("known_hosts")
        key_file = opts.get("key_file")
        block = opts.get("block_size")
        return cls(
            host=profile.host,
            port=profile.port,
            user=profile.user or None,
            key_file=str(Path(str(key_file)).expanduser()) if key_file else None,
            known_hosts=Path(str(known_hosts)).expanduser() if known_hosts else None,
            system_known_hosts=bool(opts.get("system_known_hosts", True)),
            ssh_config=ssh_config,
            agent_path=opts.get("agent_path"),
            connect_timeout=_option(opts, "connect_timeout", 20.0, float),
            keepalive_interval=_option(opts, "keepalive_interval", 15.0, float),
            keepalive_count_max=_option(opts, "keepalive_count_max", 4, int),
            block_size=None if block is None else max(1024, _option(opts, "block_size", 0, int)),
            requests=max(1, _option(opts, "requests", DEFAULT_REQUESTS, int)),
            fsync=bool(opts.get("fsync", True)),
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_SSH_PORT}"

    def known_hosts_files(self) -> list[Path]:
        files = [system_known_hosts_path()] if self.system_known_hosts else []
        files.append(self.known_hosts or app_known_hosts_path())
        return files


def trust_host_key(profile: Profile, error: HostKeyUnknown, *, always: bool) -> Path | None:
    """Trust the key of ``error`` (raised opening ``profile``) after the user accepted it.

    ``always`` records it in the known-hosts file the profile uses and returns that
    file; otherwise it is trusted until the process ends and None is returned.
    Writes a file: call it from a worker thread in async code.
    """
    if not isinstance(error, SftpHostKeyUnknown):
        raise Unsupported(f"the host key of {error.host} cannot be recorded", host=error.host)
    if not always:
        error.accept_once()
        return None
    return error.accept(known_hosts=SftpSettings.from_profile(profile).known_hosts)


class _Client(asyncssh.SSHClient):
    """Checks the server's host key against our known-hosts files; keeps the verdict."""

    def __init__(self, known: KnownHosts) -> None:
        self.known = known
        self.problem: HostKeyError | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        self.problem = self.known.lookup(host, port).check(key)
        return self.problem is None


class _WritesAfterLoss(logging.Filter):
    """Drops asyncio's "socket.send() raised exception." lines.

    When the server cuts the connection, asyncssh still acts on the packets it had
    already received (a window adjust flushes its send buffer) before asyncio tells it
    the connection is lost, and asyncio logs a line for each such write (asyncssh
    issue 303). The loss reaches the caller as ConnectionFailed; the lines add nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "socket.send() raised exception."


_WRITES_AFTER_LOSS = _WritesAfterLoss()


def _prefer(first: Sequence[bytes], rest: Sequence[bytes]) -> list[str]:
    """Algorithm names for asyncssh: ``first`` in front, then the rest in their order."""
    return [alg.decode("ascii") for alg in [*first, *(a for a in rest if a not in first)]]


async def _load_key(settings: SftpSettings, secret: str | None) -> Sequence[asyncssh.SSHKeyPair]:
    path = settings.key_file
    assert path is not None
    try:
        return await asyncio.to_thread(asyncssh.load_keypairs, [path], secret or None)
    except FileNotFoundError:
        raise NotFound(f"the key file {path} does not exist", path=path) from None
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        if "bcrypt" not in str(exc):
            raise _key_error(path, exc, settings.where) from None
        raise Unsupported(
            f"the key file {path} is encrypted in OpenSSH's format, which needs the Python "
            "package bcrypt (pip install 'asyncssh[bcrypt]')", path=path,
        ) from None
    except OSError as exc:
        raise AuthenticationFailed(
            f"cannot read the key file {path}: {exc.strerror or exc}", path=path
        ) from None


def key_needs_passphrase(path: str) -> bool:
    """False if the key file loads without a passphrase; True if it is encrypted, or
    cannot be read now (connecting then reports why, with whatever secret is stored)."""
    try:
        asyncssh.load_keypairs([path], None)
    except (OSError, ValueError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError):
        return True
    return False


def _key_error(path: str, exc: Exception, where: str) -> AuthenticationFailed:
    if isinstance(exc, asyncssh.KeyEncryptionError):
        return AuthenticationFailed(
            f"the passphrase for the key file {path} is wrong", path=path, host=where
        )
    if "passphrase" in str(exc).lower():
        return AuthenticationFailed(
            f"the key file {path} is encrypted: enter its passphrase", path=path, host=where
        )
    return AuthenticationFailed(f"cannot read the key file {path}: {exc}", path=path, host=where)


async def open_sftp(settings: SftpSettings, secret: str | None
                    ) -> tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]:
    """Connect, authenticate, verify the host key and start SFTP; errors are engine errors."""
    logging.getLogger("asyncio").addFilter(_WRITES_AFTER_LOSS)  # added once, however often
    known = KnownHosts(settings.known_hosts_files())
    client = _Client(known)
    preferred = known.lookup(settings.host, settings.port).preferred_algorithms()
    kwargs: dict[str, Any] = {
        "client_factory": lambda: client,
        "known_hosts": ([], [], []),  # nothing trusted up front: every key goes to _Client
        "server_host_key_algs": _prefer(preferred, get_default_public_key_algs()),
        "encryption_algs": _prefer([PREFERRED_CIPHER], get_default_encryption_algs()),
        "compression_algs": None,
        "connect_timeout": settings.connect_timeout,
        "keepalive_interval": settings.keepalive_interval,
        "keepalive_count_max": settings.keepalive_count_max,
        "window": _WINDOW,
        "max_pktsize": _MAX_PACKET,
    }
    if settings.port:
        kwargs["port"] = settings.port
    if settings.user:
        kwargs["username"] = settings.user
    if settings.ssh_config is not None:
        kwargs["config"] = list(settings.ssh_config)
    if settings.key_file:
        mode = f"the key {settings.key_file}"
        kwargs.update(client_keys=await _load_key(settings, secret), password=None,
                      agent_path=None)
    elif secret:
        mode = "the password"
        kwargs.update(client_keys=None, agent_path=None, password=secret)
    else:
        mode = "the keys offered (ssh-agent, ~/.ssh)"
        if settings.agent_path is not None:
            kwargs["agent_path"] = settings.agent_path
    user = settings.user or getpass.getuser()
    where = settings.where
    try:
        conn = await asyncssh.connect(settings.host, **kwargs)
    except asyncssh.HostKeyNotVerifiable as exc:
        if client.problem is not None:
            raise client.problem from None
        raise HostKeyError(f"the host key of {where} cannot be verified: {exc.reason}",
                           host=where, fingerprint="") from None
    except asyncssh.PermissionDenied:
        raise AuthenticationFailed(
            f"{where} rejected {mode} for {user}@{settings.host}", host=where
        ) from None
    except asyncssh.KeyExchangeFailed as exc:
        raise ConnectionFailed(
            f"cannot agree on encryption with {where}: {exc.reason}", host=where,
            retriable=False,
        ) from None
    except asyncssh.DisconnectError as exc:
        raise ConnectionFailed(f"{where} closed the connection: {exc.reason}",
                               host=where) from None
    except socket.gaierror as exc:
        raise ConnectionFailed(f"cannot find the host {settings.host} ({exc.strerror})",
                               host=where) from None
    except TimeoutError:
        raise ConnectionFailed(
            f"{where} did not answer within {settings.connect_timeout:g} s", host=where
        ) from None
    except OSError as exc:
        raise ConnectionFailed(f"cannot connect to {where}: {exc.strerror or exc}",
                               host=where) from None
    try:
        sftp = await conn.start_sftp_client(path_errors="surrogateescape")
    except (asyncssh.ChannelOpenError, asyncssh.SFTPError) as exc:
        conn.close()
        raise Unsupported(f"{where} does not offer SFTP: {exc.reason}", host=where) from None
    except (asyncssh.DisconnectError, OSError) as exc:
        conn.close()
        raise ConnectionFailed(f"{where} closed the connection: {exc}", host=where) from None
    return conn, sftp
