"""A private OpenSSH sshd (SFTP through ``internal-sftp``) on a free loopback port.

Fresh ed25519 host and client keys per start; password and public-key
authentication (password only when root: see ``_unixuser``); only the test
user may log in.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import socket
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncssh

from tests.servers._process import (
    HOST,
    Launch,
    NotReady,
    ServerProcess,
    ServerUnavailable,
    start_server,
)
from tests.servers._unixuser import UnixUser, grant_access, is_root, server_user, verify_access
from tests.servers.info import SshServer

__all__ = ["sshd_binary", "start_sshd"]


def sshd_binary() -> Path:
    """/usr/sbin/sshd (absolute: sshd re-executes itself), or ORBIT_TEST_SSHD."""
    path = Path(os.environ.get("ORBIT_TEST_SSHD", "/usr/sbin/sshd"))
    if not path.is_file():
        raise ServerUnavailable(f"{path} not found (Debian package openssh-server)")
    return path


def _openssh_version(sshd: Path) -> tuple[int, int]:
    result = subprocess.run(
        [str(sshd), "-V"], capture_output=True, text=True, timeout=30, check=False
    )
    found = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stderr + result.stdout)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _quote(path: Path) -> str:
    return '"' + str(path) + '"'


def _config(port: int, etc: Path, authorized_keys: Path, user: UnixUser,
            version: tuple[int, int], max_sessions: int) -> str:
    password_auth = "yes" if user.password is not None else "no"
    lines = [
        f"Port {port}",
        f"ListenAddress {HOST}",
        f"HostKey {_quote(etc / 'ssh_host_ed25519_key')}",
        f"PidFile {_quote(etc / 'sshd.pid')}",
        f"AuthorizedKeysFile {_quote(authorized_keys)}",
        f"AllowUsers {user.name}",
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        f"PasswordAuthentication {password_auth}",
        "PermitEmptyPasswords no",
        "KbdInteractiveAuthentication no",
        "Subsystem sftp internal-sftp",
        "UseDNS no",
        "PrintMotd no",
        "X11Forwarding no",
        "LogLevel VERBOSE",
        # Tests open many connections at once; the defaults (10:30:100, 10) drop some.
        "MaxStartups 100",
        f"MaxSessions {max_sessions}",
    ]
    if version >= (9, 8):
        # Else failed-login tests get 127.0.0.1 refused for a while.
        lines.append("PerSourcePenalties no")
    return "\n".join(lines) + "\n"


def _in_thread(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine on a private event loop, whatever loop the caller may be in."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


def _probe(info: SshServer) -> Callable[[], None]:
    def probe() -> None:
        try:
            with socket.create_connection((info.host, info.port), timeout=2.0) as sock:
                sock.settimeout(5.0)
                banner = sock.recv(256)
        except OSError as exc:
            raise NotReady(f"no SSH banner: {exc}") from exc
        if not banner.startswith(b"SSH-2.0-"):
            raise RuntimeError(f"not an SSH server: {banner!r}")
        _in_thread(lambda: _check_logins(info))

    return probe


async def _check_logins(info: SshServer) -> None:
    """Log in with the key and, if there is one, the password; list the scratch folder."""
    common: dict[str, Any] = {
        "port": info.port,
        "username": info.user,
        "known_hosts": str(info.known_hosts),
        "agent_path": None,
        "config": [],
        "connect_timeout": 10,
    }
    logins: list[dict[str, Any]] = [{"client_keys": [str(info.client_key)], "password": None}]
    if info.password is not None:
        logins.append({"client_keys": [], "password": info.password})
    for login in logins:
        async with (
            asyncssh.connect(info.host, **common, **login) as conn,
            conn.start_sftp_client() as sftp,
        ):
            await sftp.listdir(str(info.root))


def start_sshd(root: Path, base: Path | None = None, *,
               max_sessions: int = 100) -> tuple[SshServer, ServerProcess]:
    """Start sshd with its files in ``root``.

    ``base`` is the highest folder whose permissions may be opened (to the
    test user only) so that it can reach its scratch folder; default ``root``.
    ``max_sessions``: SFTP sessions (channels) allowed on one connection.
    """
    sshd = sshd_binary()
    user = server_user()
    if is_root():
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation chroot
    version = _openssh_version(sshd)

    etc = root / "etc"  # private: config, host key, client key
    etc.mkdir(mode=0o700, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519", comment="orbit-test-host")
    _write_secret(etc / "ssh_host_ed25519_key", host_key.export_private_key("openssh"))
    client_key = asyncssh.generate_private_key("ssh-ed25519", comment="orbit-test-client")
    client_key_path = etc / "id_ed25519"
    _write_secret(client_key_path, client_key.export_private_key("openssh"))
    (etc / "id_ed25519.pub").write_bytes(client_key.export_public_key("openssh"))

    auth = root / "auth"  # read by sshd as the user
    auth.mkdir(mode=0o755, exist_ok=True)
    authorized_keys = auth / "authorized_keys"
    authorized_keys.write_bytes(client_key.export_public_key("openssh"))
    authorized_keys.chmod(0o644)
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    grant_access([auth, scratch], user, base or root)
    verify_access(user, readable=[authorized_keys], writable=[scratch])

    host_public = host_key.export_public_key("openssh").decode().split()
    known_hosts = etc / "known_hosts"
    config = etc / "sshd_config"
    details: dict[int, SshServer] = {}

    def build(port: int) -> Launch:
        config.write_text(_config(port, etc, authorized_keys, user, version, max_sessions))
        known_hosts.write_text(f"[{HOST}]:{port} {host_public[0]} {host_public[1]}\n")
        details[port] = SshServer(
            host=HOST,
            port=port,
            user=user.name,
            password=user.password,
            client_key=client_key_path,
            known_hosts=known_hosts,
            host_key_fingerprint=host_key.get_fingerprint("sha256"),
            root=scratch,
        )
        return Launch([str(sshd), "-D", "-e", "-f", str(config)], _probe(details[port]))

    process = start_server("sshd", root, build)
    return details[process.port], process
