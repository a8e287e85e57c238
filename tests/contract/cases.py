"""The backends the conformance suite runs against.

Each case opens a connected backend and a fresh, empty scratch folder on it,
and cleans up afterwards. A backend joins the suite by adding a case here;
what it cannot do is declared in its ``Features``, never skipped by name.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest

from orbit_gui.engine import Backend, Profile
from orbit_gui.engine.backends.local import LocalBackend

__all__ = ["CASES", "BackendCase", "Target"]


@dataclass(frozen=True)
class Target:
    """A backend under test and an empty folder on it that the test may fill."""

    backend: Backend
    root: str

    def path(self, *names: str) -> str:
        return "/".join([self.root.rstrip("/"), *names])


OpenTarget = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[Target]]


@dataclass(frozen=True)
class BackendCase:
    id: str
    open: OpenTarget


@asynccontextmanager
async def _local(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    tmp = request.getfixturevalue("tmp_path")
    root = tmp / f"scratch-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    async with LocalBackend() as backend:
        yield Target(backend, str(root))


@asynccontextmanager
async def _sftp(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    from orbit_gui.engine.backends.sftp import SftpBackend
    from tests.servers.info import SshServer

    server: SshServer = request.getfixturevalue("sshd_server")
    root = str(server.root / f"scratch-{uuid.uuid4().hex[:8]}")
    profile = Profile(
        name="sftp-test", kind="sftp", host=server.host, port=server.port, user=server.user,
        root=root, options={"key_file": str(server.client_key),
                            "known_hosts": str(server.known_hosts),
                            "system_known_hosts": False, "ssh_config": []},
    )
    backend = await SftpBackend.from_profile(profile)
    async with backend:
        await backend.mkdir(root)
        try:
            yield Target(backend, root)
        finally:
            await backend.delete(root, recursive=True)


def _smb(encrypted: bool) -> OpenTarget:
    @asynccontextmanager
    async def open_smb(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
        from orbit_gui.engine.backends.smb import SmbBackend
        from tests.servers.info import SmbServer

        server: SmbServer = request.getfixturevalue("smbd_server")
        share = server.encrypted_share if encrypted else server.share
        root = f"/{share}/scratch-{uuid.uuid4().hex[:8]}"
        profile = Profile(
            name="smb-test", kind="smb", host=server.host, port=server.port, user=server.user,
            root=root, options={"encrypt": "required" if encrypted else "auto"},
        )
        backend = await SmbBackend.from_profile(profile, server.password)
        async with backend:
            await backend.mkdir(root)
            try:
                yield Target(backend, root)
            finally:
                await backend.delete(root, recursive=True)

    return open_smb


def _s3(fixture: str) -> OpenTarget:
    @asynccontextmanager
    async def open_s3(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
        from tests.engine.s3_helpers import s3_scratch

        async with s3_scratch(request.getfixturevalue(fixture)) as (backend, root):
            yield Target(backend, root)

    return open_s3


CASES: list[BackendCase] = [
    BackendCase("local", _local),
    BackendCase("sftp", _sftp),
    BackendCase("smb", _smb(encrypted=False)),
    BackendCase("smb-encrypted", _smb(encrypted=True)),
    BackendCase("s3-moto", _s3("moto_s3")),
    BackendCase("s3-rclone", _s3("rclone_s3")),
]
