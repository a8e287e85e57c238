"""A private Samba smbd on a free loopback port, with a plain share ``data`` and
an encryption-only share ``secure``. Needs root (smbd switches to the login
user); the login user is ``orbit-test`` from ``_unixuser``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.servers._process import (
    HOST,
    Launch,
    NotReady,
    ServerProcess,
    ServerUnavailable,
    is_listening,
    start_server,
)
from tests.servers._unixuser import grant_access, is_root, test_user, verify_access
from tests.servers.info import SmbServer

__all__ = ["smb_session_check", "start_smbd"]

SHARE = "data"
ENCRYPTED_SHARE = "secure"
_SBIN = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"


def _program(name: str, env_var: str) -> str:
    found = os.environ.get(env_var) or shutil.which(name, path=_SBIN)
    if not found:
        raise ServerUnavailable(f"{name} not found (Debian packages samba, samba-common-bin)")
    return found


def _config(port: int, root: Path) -> str:
    state = root / "state"
    return f"""[global]
    server role = standalone server
    workgroup = ORBIT
    netbios name = ORBITTEST
    smb ports = {port}
    interfaces = {HOST}
    bind interfaces only = yes
    disable netbios = yes
    server min protocol = SMB2_10
    private dir = {state / "private"}
    lock directory = {state / "lock"}
    state directory = {state / "state"}
    cache directory = {state / "cache"}
    pid directory = {state / "pid"}
    ncalrpc dir = {state / "ncalrpc"}
    binddns dir = {state / "binddns"}
    usershare path = {state / "usershares"}
    passdb backend = tdbsam:{state / "private" / "passdb.tdb"}
    log file = {state / "log.%m"}
    max log size = 0
    map to guest = never
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    kernel oplocks = no

[{SHARE}]
    path = {root / SHARE}
    read only = no
    browseable = yes

[{ENCRYPTED_SHARE}]
    path = {root / ENCRYPTED_SHARE}
    read only = no
    browseable = yes
    smb encrypt = required
"""


def smb_session_check(info: SmbServer) -> None:
    """Log in with smbprotocol (a private connection cache) and list both shares."""
    import smbclient

    cache: dict[str, Any] = {}
    try:
        smbclient.register_session(
            info.host,
            username=info.user,
            password=info.password,
            port=info.port,
            connection_timeout=10,
            connection_cache=cache,
        )
        for share in (info.share, info.encrypted_share):
            smbclient.listdir(rf"\\{info.host}\{share}", port=info.port, connection_cache=cache)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


def _probe(info: SmbServer) -> Callable[[], None]:
    def probe() -> None:
        if not is_listening(info.port, info.host):
            raise NotReady(f"nothing listens on {info.host}:{info.port}")
        smb_session_check(info)

    return probe


def start_smbd(root: Path, base: Path | None = None) -> tuple[SmbServer, ServerProcess]:
    """Start smbd with every file it keeps under ``root``.

    ``base``: see ``sshd.start_sshd``; the share folders must be reachable by
    the test user.
    """
    if not is_root():
        raise ServerUnavailable("smbd needs root (it switches to the logged-in user)")
    smbd = _program("smbd", "ORBIT_TEST_SMBD")
    smbpasswd = _program("smbpasswd", "ORBIT_TEST_SMBPASSWD")
    user = test_user()
    assert user.password is not None

    state = root / "state"
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "usershares"):
        (state / sub).mkdir(mode=0o700 if sub == "private" else 0o755, parents=True, exist_ok=True)
    shares = [root / SHARE, root / ENCRYPTED_SHARE]
    for share in shares:
        share.mkdir(exist_ok=True)
    grant_access(shares, user, base or root)
    verify_access(user, readable=[], writable=shares)
    config = root / "smb.conf"
    config.write_text(_config(445, root))  # smbpasswd only reads the passdb setting
    added = subprocess.run(
        [smbpasswd, "-c", str(config), "-s", "-a", user.name],
        input=f"{user.password}\n{user.password}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if added.returncode != 0:
        raise ServerUnavailable(f"smbpasswd -a {user.name} failed: {added.stdout}{added.stderr}")

    details: dict[int, SmbServer] = {}

    def build(port: int) -> Launch:
        config.write_text(_config(port, root))
        details[port] = SmbServer(
            host=HOST,
            port=port,
            user=user.name,
            password=user.password or "",
            share=SHARE,
            encrypted_share=ENCRYPTED_SHARE,
            root=root / SHARE,
            encrypted_root=root / ENCRYPTED_SHARE,
        )
        argv = [smbd, "-F", "--no-process-group", "--debug-stdout", "-d", "2", "-s", str(config)]
        # samba-dcerpcd, started on demand for RPC (share lists), detaches itself.
        return Launch(argv, _probe(details[port]), marker=str(config))

    process = start_server("smbd", root, build)
    return details[process.port], process
