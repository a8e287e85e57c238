"""Trusting an unknown SFTP host key for a profile: once (this process) or always."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbit_gui.engine import HostKeyUnknown, open_backend
from orbit_gui.engine.backends.sftp import (
    SftpBackend,
    trust_host_key,
    trust_host_key_for_session,
)
from tests.engine.test_sftp import key_profile, unknown_key
from tests.servers.info import SshServer


async def test_accept_once_trusts_the_key_for_this_process_only(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    # Another port of the same host: what this test trusts stays out of other tests' way.
    profile, error = await unknown_key(sshd_server, known_hosts=known_hosts, host="localhost")
    assert trust_host_key(profile, error, always=False) is None
    backend = await open_backend(profile)
    assert isinstance(backend, SftpBackend)
    await backend.aclose()
    assert not known_hosts.exists(), "accepting once records nothing"


async def test_accept_always_records_the_key_in_the_profiles_known_hosts(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "app" / "known_hosts"
    profile, error = await unknown_key(sshd_server, known_hosts=known_hosts)
    assert trust_host_key(profile, error, always=True) == known_hosts
    assert error.public_key.split()[1] in known_hosts.read_text()
    async with await open_backend(profile):
        pass


def test_a_session_key_is_not_trusted_for_another_port(tmp_path: Path) -> None:
    from orbit_gui.engine.backends.sftp import KnownHosts

    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    trust_host_key_for_session("session.example", 2222, key)
    known = KnownHosts([tmp_path / "none"])
    assert len(known.lookup("session.example", 2222).trusted) == 1
    assert known.lookup("session.example", 22).trusted == []


def test_a_generic_host_key_error_cannot_be_trusted(sshd_server: SshServer) -> None:
    from orbit_gui.engine import Unsupported

    profile = key_profile(sshd_server)
    with pytest.raises(Unsupported):
        trust_host_key(profile, HostKeyUnknown("?", host="h", fingerprint=""), always=True)
