"""What the conformance suite cannot say generically about SFTP: connecting,
authentication, host keys, the part API, server-side copy and lost connections.

All against the private OpenSSH sshd of ``sshd_server``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import subprocess
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from orbit_gui.engine import (
    AlreadyExists,
    AuthenticationFailed,
    BytesReader,
    ConnectionFailed,
    DirectoryNotEmpty,
    HostKeyChanged,
    HostKeyUnknown,
    IntegrityError,
    InvalidPath,
    IsADirectory,
    ListOptions,
    NoSpace,
    NotADirectory,
    NotFound,
    OrbitError,
    PermissionDenied,
    Profile,
    Unsupported,
    WriteOptions,
    open_backend,
)
from orbit_gui.engine.backends.local import TEMP_PREFIX
from orbit_gui.engine.backends.sftp import (
    SftpBackend,
    SftpHostKeyChanged,
    SftpHostKeyUnknown,
    accept_host_key,
    app_known_hosts_path,
    flushing,
    map_error,
)
from tests.conftest import LogGuard
from tests.contract.streams import PatternReader, digest_of, pattern_bytes
from tests.servers._process import free_port
from tests.servers.fixtures import serve_in
from tests.servers.info import SshServer
from tests.servers.sshd import start_sshd

MiB = 1024 * 1024


# -- helpers -------------------------------------------------------------------------------


def make_profile(server: SshServer, *, known_hosts: Path | None, host: str | None = None,
                 port: int | None = None, **options: Any) -> Profile:
    opts: dict[str, Any] = {"system_known_hosts": False, "ssh_config": [], **options}
    if known_hosts is not None:
        opts["known_hosts"] = str(known_hosts)
    return Profile(
        name="test", kind="sftp", host=host or server.host,
        port=server.port if port is None else port, user=server.user, root=str(server.root),
        options=opts,
    )


def key_profile(server: SshServer, **kwargs: Any) -> Profile:
    kwargs.setdefault("known_hosts", server.known_hosts)
    return make_profile(server, key_file=str(server.client_key), **kwargs)


def server_public_key(server: SshServer) -> str:
    """The host key the fixture recorded, as "type base64"."""
    fields = server.known_hosts.read_text().split()
    return f"{fields[1]} {fields[2]}"


def ssh_keygen(*args: str) -> None:
    subprocess.run(["ssh-keygen", "-q", *args], check=True, capture_output=True)


def local_sha256(path: str) -> str:
    """The digest of a file on the server, read through the local file system."""
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(MiB):
            sha.update(block)
    return sha.hexdigest()


def local_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


async def connect(profile: Profile, secret: str | None = None) -> SftpBackend:
    backend = await open_backend(profile, secret)
    assert isinstance(backend, SftpBackend)
    return backend


async def unknown_key(server: SshServer, **kwargs: Any) -> tuple[Profile, SftpHostKeyUnknown]:
    """A ``key_profile`` whose known_hosts (a keyword) lacks ``server``'s key, and the
    error connecting with it raises."""
    profile = key_profile(server, **kwargs)
    with pytest.raises(SftpHostKeyUnknown) as raised:
        await connect(profile)
    return profile, raised.value


@pytest.fixture
async def sftp(sshd_server: SshServer) -> AsyncIterator[SftpBackend]:
    backend = await connect(key_profile(sshd_server))
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture
def folder(sshd_server: SshServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh folder path on the server (not created); same path locally."""
    path = sshd_server.root / f"t-{request.node.name[:40]}-{os.urandom(4).hex()}"
    yield str(path)


async def read_all(backend: SftpBackend, path: str, offset: int = 0,
                   length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in backend.read(path, offset, length)])


async def names(backend: SftpBackend, path: str) -> set[str]:
    return {entry.name async for entry in backend.list(path)}


class CuttingProxy:
    """A TCP relay to ``port`` that drops every connection once ``limit`` bytes went one way.

    ``direction`` "up" counts client-to-server bytes (an upload), "down" the other way.
    """

    def __init__(self, port: int, *, limit: int, direction: str) -> None:
        self.target_port = port
        self.limit = limit
        self.direction = direction
        self.cut = asyncio.Event()
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._drop()
        await self._server.wait_closed()

    def _drop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer, "up"),
                             self._pipe(up_reader, writer, "down"), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: str) -> None:
        sent = 0
        try:
            while data := await reader.read(256 * 1024):
                if direction == self.direction:
                    sent += len(data)
                    if sent > self.limit:
                        self.cut.set()
                        break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._drop()


# -- host keys -----------------------------------------------------------------------------


async def test_unknown_host_key_reports_its_sha256_fingerprint(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    profile = key_profile(sshd_server, known_hosts=tmp_path / "known_hosts")
    with pytest.raises(HostKeyUnknown) as raised:
        await connect(profile)
    error = raised.value
    assert isinstance(error, SftpHostKeyUnknown)
    assert error.fingerprint == sshd_server.host_key_fingerprint
    assert error.fingerprint.startswith("SHA256:")
    assert error.host == sshd_server.host and error.port == sshd_server.port
    assert sshd_server.host_key_fingerprint in str(error)
    assert f"{sshd_server.host}:{sshd_server.port}" in str(error)
    assert error.public_key == server_public_key(sshd_server)
    assert not error.retriable


async def test_accepting_the_host_key_lets_the_next_connection_in(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "app" / "known_hosts"
    profile, error = await unknown_key(sshd_server, known_hosts=known_hosts)
    assert error.accept(known_hosts=known_hosts) == known_hosts
    accept_host_key(sshd_server.host, error.port, error.public_key, known_hosts=known_hosts)
    assert known_hosts.read_text().count("\n") == 1, "accepting twice records the key once"
    assert known_hosts.read_text().startswith(f"[{sshd_server.host}]:{sshd_server.port} ")
    backend = await connect(profile)
    async with backend:
        assert (await backend.stat(str(sshd_server.root))).is_dir


async def test_default_app_known_hosts_lives_in_the_config_dir(
    sshd_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORBIT_CONFIG_DIR", str(tmp_path / "orbit"))
    assert app_known_hosts_path() == tmp_path / "orbit" / "config" / "known_hosts"
    profile, error = await unknown_key(sshd_server, known_hosts=None)
    error.accept()
    assert app_known_hosts_path().is_file()
    async with await connect(profile):
        pass


async def test_changed_host_key_is_refused(sshd_server: SshServer, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    accept_host_key(sshd_server.host, sshd_server.port, impostor.export_public_key().decode(),
                    known_hosts=known_hosts)
    with pytest.raises(HostKeyChanged) as raised:
        await connect(key_profile(sshd_server, known_hosts=known_hosts))
    error = raised.value
    assert isinstance(error, SftpHostKeyChanged)
    assert error.fingerprint == sshd_server.host_key_fingerprint
    assert "CHANGED" in str(error) and str(known_hosts) in str(error)
    assert not error.retriable


async def test_revoked_host_key_is_refused(sshd_server: SshServer, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        f"@revoked * {server_public_key(sshd_server)}\n"
        f"[{sshd_server.host}]:{sshd_server.port} {server_public_key(sshd_server)}\n"
    )
    with pytest.raises(HostKeyChanged, match="revoked"):
        await connect(key_profile(sshd_server, known_hosts=known_hosts))


async def test_a_key_recorded_for_another_port_does_not_count(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    """Like ssh: "[host]:port" entries only; neither trusted nor a change on this port."""
    known_hosts = tmp_path / "known_hosts"
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    accept_host_key(sshd_server.host, 22, impostor, known_hosts=known_hosts)
    accept_host_key(sshd_server.host, sshd_server.port + 1, impostor, known_hosts=known_hosts)
    with pytest.raises(SftpHostKeyUnknown):
        await connect(key_profile(sshd_server, known_hosts=known_hosts))


async def test_hashed_and_wildcard_known_hosts_entries_match(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    hashed = tmp_path / "hashed"
    hashed.write_text(sshd_server.known_hosts.read_text())
    ssh_keygen("-H", "-f", str(hashed))
    assert hashed.read_text().startswith("|1|")
    async with await connect(key_profile(sshd_server, known_hosts=hashed)):
        pass
    wildcard = tmp_path / "wildcard"
    wildcard.write_text(f"[127.0.0.?]:{sshd_server.port},!10.* {server_public_key(sshd_server)}\n")
    async with await connect(key_profile(sshd_server, known_hosts=wildcard)):
        pass


async def test_system_known_hosts_is_read_too(
    sshd_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(sshd_server.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(home))
    profile = key_profile(sshd_server, known_hosts=tmp_path / "empty",
                          system_known_hosts=True)
    async with await connect(profile):
        pass


# -- authentication ------------------------------------------------------------------------


async def test_key_authentication(sshd_server: SshServer) -> None:
    backend = await connect(key_profile(sshd_server))
    async with backend:
        assert backend.display_name == f"{sshd_server.user}@{sshd_server.host}:{sshd_server.port}"
        assert backend.conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"
        assert backend.conn.get_extra_info("send_compression") == "none"
        assert backend.read_block <= 261120 and backend.write_block <= 261120


async def test_password_authentication(sshd_server: SshServer) -> None:
    if sshd_server.password is None:
        pytest.skip("the test server has a password login only when the tests run as root")
    profile = make_profile(sshd_server, known_hosts=sshd_server.known_hosts)
    backend = await connect(profile, sshd_server.password)
    async with backend:
        assert (await backend.stat(str(sshd_server.root))).is_dir


async def test_wrong_password_is_authentication_failed_without_the_password(
    sshd_server: SshServer,
) -> None:
    secret = "not-the-password-" + os.urandom(4).hex()
    profile = make_profile(sshd_server, known_hosts=sshd_server.known_hosts)
    with pytest.raises(AuthenticationFailed) as raised:
        await connect(profile, secret)
    message = str(raised.value)
    assert secret not in message and secret not in repr(raised.value.args)
    assert f"{sshd_server.user}@{sshd_server.host}" in message
    assert "password" in message
    assert not raised.value.retriable


async def test_key_file_with_passphrase(sshd_server: SshServer, tmp_path: Path) -> None:
    key = asyncssh.read_private_key(sshd_server.client_key)
    locked = tmp_path / "id_locked"
    locked.write_bytes(key.export_private_key("pkcs8-pem", passphrase="s3cret phrase"))
    locked.chmod(0o600)
    profile = make_profile(sshd_server, known_hosts=sshd_server.known_hosts,
                           key_file=str(locked))
    with pytest.raises(AuthenticationFailed, match="passphrase") as raised:
        await connect(profile, "wrong phrase")
    assert "wrong phrase" not in str(raised.value)
    with pytest.raises(AuthenticationFailed, match="passphrase"):
        await connect(profile)
    async with await connect(profile, "s3cret phrase"):
        pass


async def test_key_file_in_openssh_encrypted_format(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    """ssh-keygen's default format: readable with bcrypt, else a clear Unsupported."""
    locked = tmp_path / "id_openssh"
    locked.write_bytes(sshd_server.client_key.read_bytes())
    locked.chmod(0o600)
    ssh_keygen("-p", "-N", "phrase", "-f", str(locked))
    profile = make_profile(sshd_server, known_hosts=sshd_server.known_hosts,
                           key_file=str(locked))
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        with pytest.raises(Unsupported, match="bcrypt"):
            await connect(profile, "phrase")
        return
    with pytest.raises(AuthenticationFailed, match="passphrase"):
        await connect(profile, "wrong")
    async with await connect(profile, "phrase"):
        pass


async def test_missing_key_file_is_not_found(sshd_server: SshServer, tmp_path: Path) -> None:
    profile = make_profile(sshd_server, known_hosts=sshd_server.known_hosts,
                           key_file=str(tmp_path / "nope"))
    with pytest.raises(NotFound, match="nope"):
        await connect(profile)


async def test_ssh_config_host_alias(
    sshd_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host, port, user and key from ~/.ssh/config; no secret: agent/default keys mode."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host orbit-alias\n"
        f"  HostName {sshd_server.host}\n"
        f"  Port {sshd_server.port}\n"
        f"  User {sshd_server.user}\n"
        f"  IdentityFile {sshd_server.client_key}\n"
    )
    profile = Profile(name="alias", kind="sftp", host="orbit-alias", options={
        "ssh_config": [str(config)], "known_hosts": str(sshd_server.known_hosts),
        "system_known_hosts": False,
    })
    backend = await connect(profile)
    async with backend:
        assert (await backend.stat(str(sshd_server.root))).is_dir


# -- connection failures -------------------------------------------------------------------


async def test_closed_port_is_connection_failed_naming_host_and_port(
    sshd_server: SshServer,
) -> None:
    port = free_port()
    with pytest.raises(ConnectionFailed) as raised:
        await connect(key_profile(sshd_server, port=port))
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert raised.value.retriable


async def test_silent_server_is_connection_failed_after_the_timeout(
    sshd_server: SshServer,
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; the client gives up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectionFailed, match="did not answer") as raised:
            await connect(key_profile(sshd_server, port=port, connect_timeout=0.5))
        assert raised.value.retriable
    finally:
        server.close()
        await server.wait_closed()


async def test_upload_cut_mid_transfer_is_retriable_and_publishes_nothing(
    sshd_server: SshServer, tmp_path: Path, folder: str
) -> None:
    known_hosts = tmp_path / "known_hosts"
    async with CuttingProxy(sshd_server.port, limit=8 * MiB, direction="up") as proxy:
        accept_host_key(sshd_server.host, proxy.port, server_public_key(sshd_server),
                        known_hosts=known_hosts)
        backend = await connect(key_profile(sshd_server, port=proxy.port,
                                            known_hosts=known_hosts))
        path = f"{folder}/cut.bin"
        with pytest.raises(ConnectionFailed) as raised:
            await backend.write(path, PatternReader(64 * MiB), 64 * MiB)
        assert raised.value.retriable
        assert proxy.cut.is_set()
        await backend.aclose()
    direct = await connect(key_profile(sshd_server))
    async with direct:
        with pytest.raises(NotFound):
            await direct.stat(path)
        assert await names(direct, folder) == set(), "a leftover partial file stays hidden"


async def test_download_cut_mid_transfer_is_retriable(
    sshd_server: SshServer, sftp: SftpBackend, tmp_path: Path, folder: str
) -> None:
    path = f"{folder}/source.bin"
    await sftp.write(path, PatternReader(32 * MiB), 32 * MiB)
    known_hosts = tmp_path / "known_hosts"
    async with CuttingProxy(sshd_server.port, limit=8 * MiB, direction="down") as proxy:
        accept_host_key(sshd_server.host, proxy.port, server_public_key(sshd_server),
                        known_hosts=known_hosts)
        backend = await connect(key_profile(sshd_server, port=proxy.port,
                                            known_hosts=known_hosts))
        with pytest.raises(ConnectionFailed) as raised:
            await digest_of(backend.read(path))
        assert raised.value.retriable
        await backend.aclose()


async def test_asyncio_lines_for_writes_after_a_cut_stay_out_of_the_log(
    sftp: SftpBackend, log_guard: LogGuard, expect_log: Callable[[str], None]
) -> None:
    """A cut upload can make asyncssh write on until it hears of the loss, and asyncio
    logs each of those writes (seen in CI on the upload cut above); an SFTP connection
    keeps those lines out, and only those."""
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.warning("socket.send() raised exception.")
    expect_log("^an unrelated asyncio warning$")
    asyncio_log.warning("an unrelated asyncio warning")
    assert [r.getMessage() for r in log_guard.records] == ["an unrelated asyncio warning"]


# -- streaming -----------------------------------------------------------------------------


async def test_256_mib_round_trip_streams_in_bounded_memory(
    sftp: SftpBackend, folder: str
) -> None:
    size = 256 * MiB
    path = f"{folder}/big.bin"
    reader = PatternReader(size)
    tracemalloc.start()
    try:
        written = await sftp.write(path, reader, size)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read_size, read_digest = await digest_of(sftp.read(path))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == read_size == size
    assert read_digest == reader.sha256.hexdigest()
    local = await asyncio.to_thread(local_sha256, path)
    assert local == read_digest, "the bytes on the server are the bytes sent"
    assert write_peak < 32 * MiB, f"write peaked at {write_peak / MiB:.1f} MiB"
    assert read_peak < 32 * MiB, f"read peaked at {read_peak / MiB:.1f} MiB"


async def test_ranged_read_across_block_boundaries(sftp: SftpBackend, folder: str) -> None:
    data = pattern_bytes(3 * sftp.read_block + 12345)
    path = f"{folder}/ranges.bin"
    await sftp.write(path, BytesReader(data), len(data))
    for offset, length in [(0, None), (sftp.read_block - 1, 2), (7, 2 * sftp.read_block + 3),
                           (len(data) - 5, 100), (sftp.read_block, sftp.read_block)]:
        end = None if length is None else offset + length
        assert await read_all(sftp, path, offset, length) == data[offset:end]


async def test_mtime_is_set(sftp: SftpBackend, folder: str) -> None:
    assert sftp.features.set_mtime
    path = f"{folder}/dated.txt"
    await sftp.write(path, BytesReader(b"old news"), 8, WriteOptions(mtime=1_500_000_000.0))
    assert (await sftp.stat(path)).mtime == 1_500_000_000.0
    assert os.stat(path).st_mtime == 1_500_000_000.0


async def test_symlinks_are_listed_as_their_targets(sftp: SftpBackend, folder: str) -> None:
    await sftp.write(f"{folder}/real/file.txt", BytesReader(b"12345"), 5)
    os.symlink(f"{folder}/real", f"{folder}/dir-link")
    os.symlink(f"{folder}/real/file.txt", f"{folder}/file-link")
    os.symlink(f"{folder}/missing", f"{folder}/dangling")
    entries = {e.name: e async for e in sftp.list(folder)}
    assert entries["dir-link"].is_dir and entries["dir-link"].extra["symlink"] == "yes"
    assert not entries["file-link"].is_dir and entries["file-link"].size == 5
    assert not entries["dangling"].is_dir
    recursive = {e.path async for e in sftp.list(folder, ListOptions(recursive=True))}
    assert f"{folder}/real/file.txt" in recursive
    assert not any("/dir-link/" in p for p in recursive), "links to folders are not followed"
    await sftp.delete(f"{folder}/dir-link")
    assert (await sftp.stat(f"{folder}/real")).is_dir, "deleting a link leaves its target alone"


async def test_permission_denied(sftp: SftpBackend, folder: str) -> None:
    await sftp.write(f"{folder}/locked/inside.txt", BytesReader(b"x"), 1)
    os.chmod(f"{folder}/locked", 0o555)
    try:
        with pytest.raises(PermissionDenied):
            await sftp.write(f"{folder}/locked/new.txt", BytesReader(b"y"), 1)
        with pytest.raises(PermissionDenied):
            await sftp.delete(f"{folder}/locked/inside.txt")
    finally:
        os.chmod(f"{folder}/locked", 0o755)


# -- the part API --------------------------------------------------------------------------


def parts_of(size: int, part: int) -> list[tuple[int, int]]:
    return [(offset, min(part, size - offset)) for offset in range(0, size, part)]


async def test_parts_written_out_of_order_make_the_same_file(
    sftp: SftpBackend, folder: str
) -> None:
    assert sftp.features.part_write
    data = pattern_bytes(5 * MiB + 12345)
    path = f"{folder}/parts.bin"
    upload = await sftp.open_part_upload(path, len(data))
    assert upload.temp_path == f"{folder}/{TEMP_PREFIX}{upload.session_id}"
    parts = parts_of(len(data), MiB)
    random.Random(7).shuffle(parts)
    progress: list[int] = []
    view = memoryview(data)
    await asyncio.gather(*(upload.write_part(offset, view[offset : offset + length],
                                             progress.append)
                           for offset, length in parts))
    assert sum(progress) == len(data)
    with pytest.raises(NotFound):
        await sftp.stat(path)
    assert await names(sftp, folder) == set(), "the partial file is hidden"
    await upload.commit()
    assert await read_all(sftp, path) == data
    assert await names(sftp, folder) == {"parts.bin"}
    assert local_size(upload.temp_path) is None


class InFlight:
    """Counts the calls of one asyncssh.SFTPClientFile method in flight at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
        self.now = self.peak = 0
        real = getattr(asyncssh.SFTPClientFile, method)

        async def counted(file: asyncssh.SFTPClientFile, *args: Any) -> Any:
            self.now += 1
            self.peak = max(self.peak, self.now)
            try:
                return await real(file, *args)
            finally:
                self.now -= 1

        monkeypatch.setattr(asyncssh.SFTPClientFile, method, counted)


async def test_parts_side_by_side_share_the_connections_requests(
    sftp: SftpBackend, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many parts upload at once, at most ``requests`` WRITEs are in flight
    over the connection (what asyncssh queues stays bounded)."""
    writes = InFlight(monkeypatch, "write")
    data = pattern_bytes(8 * 8 * sftp.write_block)  # 64 blocks; 32 requests by default
    upload = await sftp.open_part_upload(f"{folder}/shared.bin", len(data))
    view = memoryview(data)
    await asyncio.gather(*(upload.write_part(offset, view[offset : offset + length])
                           for offset, length in parts_of(len(data), len(data) // 8)))
    await upload.commit()
    assert writes.peak == sftp.requests, "the parts together keep every slot busy, no more"
    assert await read_all(sftp, f"{folder}/shared.bin") == data


async def test_ranges_read_side_by_side_share_the_connections_requests(
    sftp: SftpBackend, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ranges of a window download share ``requests`` READs over the connection
    (plus at most one each), and a range whose consumer stalls holds up no other."""
    block = sftp.read_block
    data = pattern_bytes(4 * sftp.requests * block)  # each range alone would use every slot
    path = f"{folder}/ranges.bin"
    await sftp.mkdir(folder)
    await sftp.write(path, BytesReader(data), len(data))
    reads = InFlight(monkeypatch, "read")
    ranges = parts_of(len(data), len(data) // 4)
    stalled_range = asyncio.Event()
    release = asyncio.Event()

    async def fetch(index: int, offset: int, length: int) -> bytes:
        got = bytearray()
        async for chunk in sftp.read(path, offset, length):
            got += chunk
            if index == 0 and len(got) == len(chunk):
                stalled_range.set()
                await release.wait()  # this range's consumer stops for a while
        return bytes(got)

    stalled = asyncio.ensure_future(fetch(0, *ranges[0]))
    await stalled_range.wait()
    others = await asyncio.gather(*(fetch(i, *r) for i, r in enumerate(ranges) if i))
    release.set()
    first = await stalled
    assert first + b"".join(others) == data
    assert reads.peak <= sftp.requests + len(ranges)
    assert sftp.read_budget.free == sftp.requests, "every request slot came back"


async def test_commit_with_a_missing_tail_is_an_integrity_error(
    sftp: SftpBackend, folder: str
) -> None:
    path = f"{folder}/short.bin"
    upload = await sftp.open_part_upload(path, 3 * MiB)
    await upload.write_part(0, pattern_bytes(2 * MiB))
    with pytest.raises(IntegrityError):
        await upload.commit()
    await upload.abort()
    assert os.listdir(folder) == []


async def test_resume_after_abort_without_discard(
    sshd_server: SshServer, folder: str
) -> None:
    data = pattern_bytes(4 * MiB + 999)
    path = f"{folder}/resumed.bin"
    parts = parts_of(len(data), MiB)
    first = await connect(key_profile(sshd_server))
    upload = await first.open_part_upload(path, len(data), session_id="job-42-part")
    for offset, length in parts[:2]:
        await upload.write_part(offset, data[offset : offset + length])
    await upload.abort(discard=False)
    await first.aclose()
    assert local_size(upload.temp_path) == 2 * MiB

    second = await connect(key_profile(sshd_server))
    async with second:
        resumed = await second.open_part_upload(path, len(data), session_id="job-42-part",
                                                resume=True)
        assert resumed.temp_path == upload.temp_path
        assert await resumed.current_size() == 2 * MiB
        for offset, length in parts[2:]:
            await resumed.write_part(offset, data[offset : offset + length])
        await resumed.commit()
        assert await read_all(second, path) == data
        with pytest.raises(NotFound, match="start over"):
            await second.open_part_upload(path, len(data), session_id="job-42-part",
                                          resume=True)


async def test_write_overwrite_off_refuses_before_sending(sftp: SftpBackend, folder: str) -> None:
    path = f"{folder}/keep.txt"
    await sftp.write(path, BytesReader(b"keep"), 4)
    with pytest.raises(AlreadyExists):
        await sftp.open_part_upload(path, options=WriteOptions(overwrite=False))
    assert os.listdir(folder) == ["keep.txt"]


# -- flushing early -------------------------------------------------------------------------


class Fsyncs:
    """Every fsync the client sends, passed on to the server: on which SFTP session
    (the backend's own or another) and how much of the file the server held then.
    ``hold_early`` keeps the first early one from reaching the server until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, backend: SftpBackend,
                 temp_path: Callable[[], str], *, hold_early: bool = False) -> None:
        self.calls: list[tuple[str, int | None]] = []
        self.early = asyncio.Event()
        self.release = asyncio.Event()
        if not hold_early:
            self.release.set()
        real = asyncssh.SFTPClientFile.fsync

        async def spied(file: asyncssh.SFTPClientFile) -> None:
            # The session a file belongs to is its handler (asyncssh has no public name).
            own = file._handler is backend.sftp._handler  # type: ignore[attr-defined]
            self.calls.append(("own" if own else "other", local_size(temp_path())))
            if not own:
                self.early.set()
                await self.release.wait()
            await real(file)

        monkeypatch.setattr(asyncssh.SFTPClientFile, "fsync", spied)


@pytest.fixture
def flush_every_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flushing, "FLUSH_EVERY", MiB)


@pytest.mark.usefixtures("flush_every_mib")
async def test_a_large_upload_is_flushed_on_a_second_session_while_it_arrives(
    sftp: SftpBackend, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server writes the file to disk along with the network (the fsync before
    publishing then has little left), without holding up the upload's own session."""
    data = pattern_bytes(6 * MiB)
    path = f"{folder}/flushed.bin"
    await sftp.mkdir(folder)
    upload = await sftp.open_part_upload(path, len(data))
    fsyncs = Fsyncs(monkeypatch, sftp, lambda: upload.temp_path)
    await upload.write_part(0, data[: 2 * MiB])
    await asyncio.wait_for(fsyncs.early.wait(), 10)
    # Flushed after the first MiB or two, on the other session, with the rest to come.
    assert fsyncs.calls and all(session == "other" and 0 < (size or 0) <= 2 * MiB
                                for session, size in fsyncs.calls), fsyncs.calls
    await upload.write_part(2 * MiB, data[2 * MiB :])
    await upload.commit()
    assert fsyncs.calls[-1] == ("own", len(data)), "the last flush is the upload's own"
    assert all(session == "other" for session, _ in fsyncs.calls[:-1])
    assert await read_all(sftp, path) == data
    assert os.listdir(folder) == ["flushed.bin"]


@pytest.mark.usefixtures("flush_every_mib")
async def test_an_upload_aborted_during_an_early_flush_leaves_nothing(
    sftp: SftpBackend, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sftp.mkdir(folder)
    upload = await sftp.open_part_upload(f"{folder}/aborted.bin", 8 * MiB)
    fsyncs = Fsyncs(monkeypatch, sftp, lambda: upload.temp_path, hold_early=True)
    await upload.write_part(0, pattern_bytes(2 * MiB))
    await asyncio.wait_for(fsyncs.early.wait(), 10)
    await asyncio.wait_for(upload.abort(), 10)
    assert os.listdir(folder) == []
    assert await sftp.stat(folder) is not None, "the connection still works"


@pytest.mark.usefixtures("flush_every_mib")
async def test_no_flush_at_all_when_the_profile_turns_fsync_off(
    sshd_server: SshServer, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await connect(key_profile(sshd_server, fsync=False)) as backend:
        await backend.mkdir(folder)
        upload = await backend.open_part_upload(f"{folder}/fast.bin", 4 * MiB)
        fsyncs = Fsyncs(monkeypatch, backend, lambda: upload.temp_path)
        await upload.write_part(0, pattern_bytes(4 * MiB))
        await upload.commit()
    assert fsyncs.calls == []
    assert local_size(f"{folder}/fast.bin") == 4 * MiB


@pytest.fixture(scope="module")
def single_session_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """An sshd that allows one SFTP session per connection (``MaxSessions 1``)."""
    yield from serve_in(tmp_path_factory.mktemp("sshd-1"), tmp_path_factory, "sshd",
                        lambda root, base: start_sshd(root, base, max_sessions=1))


@pytest.mark.usefixtures("flush_every_mib")
async def test_a_server_that_refuses_a_second_session_gets_one_flush_at_the_end(
    single_session_sshd: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = f"{single_session_sshd.root}/one-session-{os.urandom(4).hex()}"
    data = pattern_bytes(4 * MiB + 5)
    async with await connect(key_profile(single_session_sshd)) as backend:
        await backend.mkdir(folder)
        upload = await backend.open_part_upload(f"{folder}/one.bin", len(data))
        fsyncs = Fsyncs(monkeypatch, backend, lambda: upload.temp_path)
        await upload.write_stream(BytesReader(data), size_hint=len(data))
        await upload.commit()
        assert await read_all(backend, f"{folder}/one.bin") == data
    assert fsyncs.calls == [("own", len(data))]


# -- server-side copy ----------------------------------------------------------------------


async def test_server_side_copy(sftp: SftpBackend, folder: str) -> None:
    if not sftp.features.server_copy:
        pytest.skip("this sshd has no copy-data extension")
    data = pattern_bytes(3 * MiB + 5)
    src = f"{folder}/original.bin"
    await sftp.write(src, BytesReader(data), len(data))
    dst = f"{folder}/copies/copy.bin"
    assert await sftp.copy(src, dst) == len(data)
    assert await read_all(sftp, dst) == data
    assert await names(sftp, f"{folder}/copies") == {"copy.bin"}
    with pytest.raises(AlreadyExists):
        await sftp.copy(src, dst, WriteOptions(overwrite=False))
    with pytest.raises(NotFound):
        await sftp.copy(f"{folder}/missing.bin", f"{folder}/x.bin")


# -- error mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (asyncssh.FX_NO_SUCH_FILE, NotFound),
        (asyncssh.FX_PERMISSION_DENIED, PermissionDenied),
        (asyncssh.FX_FILE_ALREADY_EXISTS, AlreadyExists),
        (asyncssh.FX_NO_SPACE_ON_FILESYSTEM, NoSpace),
        (asyncssh.FX_QUOTA_EXCEEDED, NoSpace),
        (asyncssh.FX_DIR_NOT_EMPTY, DirectoryNotEmpty),
        (asyncssh.FX_NOT_A_DIRECTORY, NotADirectory),
        (asyncssh.FX_FILE_IS_A_DIRECTORY, IsADirectory),
        (asyncssh.FX_INVALID_FILENAME, InvalidPath),
        (asyncssh.FX_CONNECTION_LOST, ConnectionFailed),
        (asyncssh.FX_NO_CONNECTION, ConnectionFailed),
    ],
)
def test_sftp_status_codes_map_to_engine_errors(code: int, expected: type[OrbitError]) -> None:
    mapped = map_error(asyncssh.SFTPError(code, "reason text"), where="h:22", path="/a/b")
    assert mapped is not None and type(mapped) is expected
    assert mapped.retriable == (expected is ConnectionFailed)
    assert "h:22" in str(mapped)
    if expected is not ConnectionFailed:
        assert "/a/b" in str(mapped) and "reason text" in str(mapped)


def test_lost_connection_maps_to_retriable_connection_failed() -> None:
    mapped = map_error(asyncssh.ConnectionLost("peer went away"), where="h:2222")
    assert isinstance(mapped, ConnectionFailed) and mapped.retriable
    assert "h:2222" in str(mapped)
    assert map_error(ValueError("not ours"), where="h:22") is None
