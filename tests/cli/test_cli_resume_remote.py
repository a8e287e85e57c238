"""Kill-and-resume through ``orbit resume`` against the real SFTP and SMB servers:
downloads from both, uploads to SMB (the SFTP upload is in test_cli_resume)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orbit_gui.engine.backends.local import TEMP_PREFIX
from tests.cli.conftest import Orbit
from tests.cli.test_cli import sftp_profile
from tests.cli.test_cli_resume import SIZE, check_resume, confirmed_in_journal, kill_after_parts
from tests.servers.info import SmbServer, SshServer
from tests.transfer_support import sha256_file, write_pattern

_FLAGS = ("--progress", "json", "--part-size", "1M", "--window", "2", "--bwlimit", "8M")


def smb_profile(orbit: Orbit, server: SmbServer, name: str) -> None:
    orbit.run("profile", "add", name, "--kind", "smb", "--host", server.host, "--port",
              str(server.port), "--user", server.user, "--share", server.share,
              "--root", f"/{server.share}", "--secret-stdin", input=server.password + "\n",
              check=True)


@pytest.fixture
def remote(request: pytest.FixtureRequest, orbit: Orbit) -> tuple[str, Path]:
    """A profile name and a fresh folder on its server: (target prefix, local path)."""
    token = f"resume-{os.urandom(4).hex()}"
    if request.param == "sftp":
        ssh: SshServer = request.getfixturevalue("sshd_server")
        sftp_profile(orbit, ssh, "box", ssh.known_hosts)
        folder = ssh.root / token
        folder.mkdir()
        return f"box:{folder}", folder
    smb: SmbServer = request.getfixturevalue("smbd_server")
    smb_profile(orbit, smb, "nas")
    folder = smb.root / token
    folder.mkdir()
    os.chmod(folder, 0o777)  # smbd writes as its own user
    return f"nas:/{smb.share}/{token}", folder


@pytest.mark.parametrize("remote", ["sftp", "smb"], indirect=True)
def test_killed_download_resumes_byte_identical(
        orbit: Orbit, remote: tuple[str, Path], tmp_path: Path) -> None:
    target, folder = remote
    write_pattern(folder / "big.bin", SIZE, seed=11)
    os.chmod(folder / "big.bin", 0o666)
    dst = tmp_path / "out" / "big.bin"
    process = orbit.start("cp", f"{target}/big.bin", str(dst), *_FLAGS)
    last = kill_after_parts(process, 4)
    confirmed = confirmed_in_journal(orbit, last["transfer"])
    assert confirmed and not dst.exists()
    check_resume(orbit, last["transfer"], confirmed)
    assert sha256_file(dst) == sha256_file(folder / "big.bin")
    assert [p.name for p in dst.parent.iterdir()] == ["big.bin"]


@pytest.mark.parametrize("remote", ["smb"], indirect=True)
def test_killed_upload_resumes_without_resending_confirmed_parts(
        orbit: Orbit, remote: tuple[str, Path], tmp_path: Path) -> None:
    target, folder = remote
    src = tmp_path / "up.bin"
    write_pattern(src, SIZE, seed=12)
    process = orbit.start("cp", str(src), f"{target}/up.bin", *_FLAGS)
    last = kill_after_parts(process, 4)
    confirmed = confirmed_in_journal(orbit, last["transfer"])
    assert confirmed
    assert not (folder / "up.bin").exists()  # never a half-written file under its name
    assert [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]
    check_resume(orbit, last["transfer"], confirmed)
    assert sha256_file(folder / "up.bin") == sha256_file(src)
    assert [p.name for p in folder.iterdir()] == ["up.bin"]
