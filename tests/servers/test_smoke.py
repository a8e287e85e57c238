"""Each real server starts, answers a real client, and stops leaving nothing behind."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.servers._process import ServerProcess, free_port, is_listening, pid_running
from tests.servers._s3probe import s3_client
from tests.servers.fixtures import (
    S3Server,
    SmbServer,
    SshServer,
    skip_or_fail,
    start_or_skip,
    temp_base,
    unique_name,
)
from tests.servers.moto import start_moto
from tests.servers.rclone import DIR_CACHE_SECONDS, start_rclone
from tests.servers.smbd import start_smbd
from tests.servers.sshd import start_sshd

# --- S3 ---------------------------------------------------------------------------------


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def s3(request: pytest.FixtureRequest) -> S3Server:
    server: S3Server = request.getfixturevalue(request.param)
    return server


def _client(server: S3Server, secret_key: str | None = None) -> Any:
    return s3_client(
        server.endpoint_url, server.access_key, secret_key or server.secret_key, server.region
    )


def test_s3_bucket_put_list(s3: S3Server, s3_bucket_name: str) -> None:
    client = _client(s3)
    client.create_bucket(Bucket=s3_bucket_name)
    client.put_object(Bucket=s3_bucket_name, Key="dir/hello.txt", Body=b"hello")
    listed = client.list_objects_v2(Bucket=s3_bucket_name)
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("dir/hello.txt", 5)]
    assert client.get_object(Bucket=s3_bucket_name, Key="dir/hello.txt")["Body"].read() == b"hello"
    assert s3_bucket_name in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_s3_bucket_names_are_unique(s3_bucket_name: str) -> None:
    assert 3 <= len(s3_bucket_name) <= 63
    assert s3_bucket_name.startswith("test-s3-bucket-names-are-unique-")
    assert unique_name("X Y") != unique_name("X Y")


def test_rclone_serves_its_data_dir(rclone_s3: S3Server, s3_bucket_name: str) -> None:
    assert rclone_s3.data_dir is not None
    client = _client(rclone_s3)
    client.create_bucket(Bucket=s3_bucket_name)
    client.put_object(Bucket=s3_bucket_name, Key="a/b.bin", Body=b"\x00\x01")
    assert (rclone_s3.data_dir / s3_bucket_name / "a" / "b.bin").read_bytes() == b"\x00\x01"
    direct = rclone_s3.data_dir / s3_bucket_name / "direct"
    direct.mkdir()
    (direct / "local.txt").write_bytes(b"put there directly")
    # rclone sees files put behind its back once its directory cache expires.
    deadline = time.monotonic() + DIR_CACHE_SECONDS + 10
    while True:
        listed = client.list_objects_v2(Bucket=s3_bucket_name, Prefix="direct/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        if keys or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert keys == ["direct/local.txt"]
    assert client.get_object(Bucket=s3_bucket_name, Key="direct/local.txt")["Body"].read() \
        == b"put there directly"


def test_rclone_rejects_wrong_credentials(rclone_s3: S3Server) -> None:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as wrong_secret:
        _client(rclone_s3, secret_key="not-the-secret").list_buckets()
    assert wrong_secret.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    other = S3Server("rclone", rclone_s3.endpoint_url, "nobody", "nothing", "us-east-1", None)
    with pytest.raises(botocore.exceptions.ClientError) as wrong_key:
        _client(other).list_buckets()
    assert wrong_key.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_moto_is_not_rclone(moto_s3: S3Server) -> None:
    assert moto_s3.name == "moto" and moto_s3.data_dir is None
    assert moto_s3.region == "us-east-1"
    assert moto_s3.endpoint_url.startswith("http://127.0.0.1:")


# --- SFTP -------------------------------------------------------------------------------


def _ssh_options(server: SshServer, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "port": server.port,
        "username": server.user,
        "known_hosts": str(server.known_hosts),
        "client_keys": [str(server.client_key)],
        "agent_path": None,
        "config": [],
    }
    options.update(overrides)
    return options


async def test_sshd_key_login_and_known_hosts(sshd_server: SshServer) -> None:
    async with asyncssh.connect(sshd_server.host, **_ssh_options(sshd_server)) as conn:
        host_key = conn.get_server_host_key()
        assert host_key is not None
        assert host_key.get_fingerprint("sha256") == sshd_server.host_key_fingerprint
    assert sshd_server.host_key_fingerprint.startswith("SHA256:")
    line = sshd_server.known_hosts.read_text()
    assert line.startswith(f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 ")


async def test_sshd_rejects_unknown_host_key(sshd_server: SshServer, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd_server.port} {other}")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(
            sshd_server.host, **_ssh_options(sshd_server, known_hosts=str(known_hosts))
        )


async def test_sshd_password_login(sshd_server: SshServer) -> None:
    if sshd_server.password is None:
        skip_or_fail("sshd password login needs root (the orbit-test account)")
    options = _ssh_options(sshd_server, client_keys=[], password=sshd_server.password)
    async with asyncssh.connect(sshd_server.host, **options) as conn:
        assert conn.get_extra_info("username") == sshd_server.user
    wrong = _ssh_options(sshd_server, client_keys=[], password="wrong password")
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(sshd_server.host, **wrong)


async def test_sftp_listdir_put_get(sshd_server: SshServer, tmp_path: Path) -> None:
    scratch = sshd_server.root / unique_name("sftp")
    scratch.mkdir()  # made locally: the server's user must still be able to write in it
    (scratch / "local.txt").write_bytes(b"made by the test")
    upload = tmp_path / "up.bin"
    upload.write_bytes(bytes(range(256)) * 1000)
    async with (
        asyncssh.connect(sshd_server.host, **_ssh_options(sshd_server)) as conn,
        conn.start_sftp_client() as sftp,
    ):
        await sftp.put(str(upload), str(scratch / "up.bin"))
        assert sorted(await sftp.listdir(str(scratch))) == [".", "..", "local.txt", "up.bin"]
        await sftp.get(str(scratch / "up.bin"), str(tmp_path / "down.bin"))
        await sftp.get(str(scratch / "local.txt"), str(tmp_path / "local.txt"))
        await sftp.remove(str(scratch / "local.txt"))
    assert (tmp_path / "down.bin").read_bytes() == upload.read_bytes()
    assert (scratch / "up.bin").read_bytes() == upload.read_bytes()  # same path, locally
    assert (tmp_path / "local.txt").read_bytes() == b"made by the test"
    assert not (scratch / "local.txt").exists()


# --- SMB --------------------------------------------------------------------------------


@pytest.fixture
def smb_cache() -> Iterator[dict[str, Any]]:
    """A private smbprotocol connection cache, closed after the test."""
    import smbclient

    cache: dict[str, Any] = {}
    yield cache
    smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)


def test_smb_write_read_both_shares(smbd_server: SmbServer, smb_cache: dict[str, Any]) -> None:
    import smbclient

    smbclient.register_session(
        smbd_server.host,
        username=smbd_server.user,
        password=smbd_server.password,
        port=smbd_server.port,
        connection_cache=smb_cache,
    )
    shares = [
        (smbd_server.share, smbd_server.root),
        (smbd_server.encrypted_share, smbd_server.encrypted_root),
    ]
    for share, local in shares:
        name = unique_name("smb")
        (local / f"{name}.local").write_bytes(b"made by the test")
        unc = rf"\\{smbd_server.host}\{share}\{name}"
        kwargs: dict[str, Any] = {"port": smbd_server.port, "connection_cache": smb_cache}
        with smbclient.open_file(unc, mode="wb", **kwargs) as f:
            f.write(b"x" * 100_000)
        with smbclient.open_file(unc, mode="rb", **kwargs) as f:
            assert f.read() == b"x" * 100_000
        with smbclient.open_file(unc + ".local", mode="ab", **kwargs) as f:
            f.write(b", appended over SMB")
        assert (local / name).read_bytes() == b"x" * 100_000
        assert (local / f"{name}.local").read_bytes() == b"made by the test, appended over SMB"
        listed = smbclient.listdir(rf"\\{smbd_server.host}\{share}", **kwargs)
        assert {name, f"{name}.local"} <= set(listed)


def test_smb_secure_share_requires_encryption(
    smbd_server: SmbServer, smb_cache: dict[str, Any]
) -> None:
    import smbclient

    kwargs: dict[str, Any] = {"port": smbd_server.port, "connection_cache": smb_cache}
    smbclient.register_session(
        smbd_server.host,
        username=smbd_server.user,
        password=smbd_server.password,
        encrypt=False,  # the client does not ask for it: the share must impose it
        **kwargs,
    )
    for share in (smbd_server.share, smbd_server.encrypted_share):
        smbclient.listdir(rf"\\{smbd_server.host}\{share}", **kwargs)
    trees = {
        tree.share_name.rsplit("\\", 1)[-1]: tree.encrypt_data
        for connection in smb_cache.values()
        for session in connection.session_table.values()
        for tree in session.tree_connect_table.values()
    }
    assert trees == {smbd_server.share: False, smbd_server.encrypted_share: True}


def test_smb_rejects_wrong_password(smbd_server: SmbServer, smb_cache: dict[str, Any]) -> None:
    import smbclient
    from smbprotocol.exceptions import LogonFailure

    with pytest.raises(LogonFailure):
        smbclient.register_session(
            smbd_server.host,
            username=smbd_server.user,
            password="wrong password",
            port=smbd_server.port,
            connection_cache=smb_cache,
        )


# --- clean stop -------------------------------------------------------------------------


async def _hold_sftp(info: SshServer, work: Callable[[], None]) -> None:
    """Run ``work`` while an SFTP session is open (its sshd children are alive)."""
    async with (
        asyncssh.connect(info.host, **_ssh_options(info)) as conn,
        conn.start_sftp_client() as sftp,
    ):
        await sftp.listdir(str(info.root))
        work()
        with pytest.raises((asyncssh.Error, OSError)):
            await sftp.listdir(str(info.root))


def _stop_and_check(process: ServerProcess, root: Path) -> None:
    helpers = process.helpers()
    process.stop()
    assert not process.running()
    assert not pid_running(process.pid)
    assert [pid for pid in helpers if pid_running(pid)] == []
    assert not is_listening(process.port)
    assert (root / f"{process.name}.log").is_file()


STARTERS: dict[str, Callable[[Path, Path], tuple[Any, ServerProcess]]] = {
    "moto": lambda root, base: start_moto(root),
    "rclone": lambda root, base: start_rclone(root),
    "sshd": start_sshd,
    "smbd": start_smbd,
}


@pytest.mark.parametrize("name", list(STARTERS))
def test_server_stops_cleanly(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp(f"stop-{name}")
    info, process = start_or_skip(name, STARTERS[name], root, temp_base(tmp_path_factory))
    try:
        assert process.running() and is_listening(process.port)
        if isinstance(info, SshServer):
            # Open sessions outlive the listener unless their processes are ended too.
            asyncio.run(_hold_sftp(info, lambda: _stop_and_check(process, root)))
        elif isinstance(info, SmbServer) and shutil.which("smbclient"):
            # Listing shares makes smbd start samba-dcerpcd, which detaches itself.
            login = f"{info.user}%{info.password}"
            listed = subprocess.run(
                ["smbclient", "-p", str(info.port), "-U", login, "-L", info.host],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert info.encrypted_share in listed.stdout, listed.stdout + listed.stderr
            _stop_and_check(process, root)
        else:
            _stop_and_check(process, root)
    finally:
        process.stop()
    assert not process.running()


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert not is_listening(port)
