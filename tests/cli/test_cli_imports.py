"""``orbit ls`` imports only what its target needs: start-up is most of the time to
a listing's first entry, and each unused stack (botocore and aiohttp, asyncssh,
smbprotocol, the keyring, the transfer queue and its SQLite journal, Qt) costs
0.1-0.5 s of it. The keyring is looked up only when the profile may use a stored
secret (not for a key file without passphrase, nor for S3 on the AWS chain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import ROOT, Orbit
from tests.cli.test_cli import real_keyring, sftp_profile  # noqa: F401 - a fixture
from tests.cli.test_cli_s3 import add_profile, s3  # noqa: F401 - s3 is a fixture
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server, SshServer

# Runs the command as `orbit` does, then reports every module it loaded.
_REPORT = ("import json, sys\n"
           "from orbit_gui.engine.cli import run\n"
           "status = run(sys.argv[1:])\n"
           "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
           "sys.exit(status)\n")

NEVER = {"PySide6", "shiboken6", "qasync", "boto3", "aioboto3", "smbprotocol", "spnego",
         "orbit_gui.engine.transfer.queue", "orbit_gui.engine.transfer.journal", "sqlite3"}


def loaded_by(orbit: Orbit, *args: str) -> tuple[str, set[str]]:
    """The command's stdout and the modules (and their top-level packages) it loaded."""
    done = subprocess.run([sys.executable, "-c", _REPORT, *args], capture_output=True,
                          text=True, env=orbit.env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, set(modules) | {name.partition(".")[0] for name in modules}


def test_ls_of_a_local_folder_loads_no_remote_stack(orbit: Orbit, tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_text("x")
    out, modules = loaded_by(orbit, "ls", str(tmp_path))
    assert "here.txt" in out
    assert modules & (NEVER | {"botocore", "aiobotocore", "aiohttp", "asyncssh",
                               "keyring"}) == set()


def test_ls_on_s3_loads_botocore_and_nothing_else_remote(
        orbit: Orbit, s3: S3Server, real_keyring: None) -> None:  # noqa: F811
    name = f"s3-{os.urandom(3).hex()}"
    add_profile(orbit, s3, name)
    bucket = unique_name("imports")
    orbit.run("mkdir", f"{name}:/{bucket}", check=True)
    try:
        out, modules = loaded_by(orbit, "ls", f"{name}:/")
        assert bucket in out
        assert {"botocore", "aiobotocore"} <= modules
        assert modules & (NEVER | {"asyncssh"}) == set()
    finally:
        orbit.run("rm", "-R", f"{name}:/{bucket}", check=True)


# Also reports every program the command started (an audit hook sees each one).
_REPORT_PROGRAMS = ("import json, sys\n"
                    "started = []\n"
                    "sys.addaudithook(lambda event, args: started.append(str(args[0]))\n"
                    "                 if event == 'subprocess.Popen' else None)\n"
                    "from orbit_gui.engine.cli import run\n"
                    "status = run(sys.argv[1:])\n"
                    "print(json.dumps(started), file=sys.stderr)\n"
                    "sys.exit(status)\n")


def test_ls_on_a_key_file_sftp_profile_loads_no_keyring(
        orbit: Orbit, sshd_server: SshServer) -> None:
    folder = sshd_server.root / unique_name("keyfile")
    folder.mkdir()
    (folder / "here.txt").write_text("x")
    sftp_profile(orbit, sshd_server, "box", sshd_server.known_hosts)  # a key without passphrase
    out, modules = loaded_by(orbit, "ls", f"box:{folder}")
    assert "here.txt" in out
    assert "asyncssh" in modules
    assert modules & (NEVER | {"keyring", "secretstorage", "jeepney", "botocore"}) == set()


def test_ls_on_s3_from_the_aws_chain_loads_no_keyring(orbit: Orbit, s3: S3Server) -> None:  # noqa: F811
    name = f"chain-{os.urandom(3).hex()}"
    orbit.run("profile", "add", name, "--kind", "s3", "--endpoint", s3.endpoint_url,
              "--region", s3.region, "--path-style", check=True)  # no access key of its own
    bucket = unique_name("chain")
    env = {**orbit.env, "AWS_ACCESS_KEY_ID": s3.access_key,
           "AWS_SECRET_ACCESS_KEY": s3.secret_key}
    subprocess.run([sys.executable, "-m", "orbit_gui.engine.cli", "mkdir", f"{name}:/{bucket}"],
                   env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    try:
        done = subprocess.run([sys.executable, "-c", _REPORT, "ls", f"{name}:/"],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
        assert bucket in done.stdout
        assert "botocore" in modules
        assert {m.partition(".")[0] for m in modules} & {"keyring", "secretstorage"} == set()
    finally:
        subprocess.run([sys.executable, "-m", "orbit_gui.engine.cli", "rm", "-R",
                        f"{name}:/{bucket}"], env=env, cwd=ROOT, capture_output=True,
                       timeout=120, check=False)


def test_ls_with_a_secret_in_the_keyring_starts_no_program(
        orbit: Orbit, s3: S3Server, real_keyring: None) -> None:  # noqa: F811
    """keyring's macOS backend, loaded with the others, ran ldconfig, gcc and ld three
    times each (~0.1 s of CPU) looking for a framework Linux has not got."""
    name = f"s3-{os.urandom(3).hex()}"
    add_profile(orbit, s3, name)
    bucket = unique_name("programs")
    orbit.run("mkdir", f"{name}:/{bucket}", check=True)
    try:
        done = subprocess.run([sys.executable, "-c", _REPORT_PROGRAMS, "ls", f"{name}:/"],
                              capture_output=True, text=True, env=orbit.env, cwd=ROOT,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert bucket in done.stdout  # the keyring's secret worked
        assert json.loads(done.stderr.strip().splitlines()[-1]) == []
    finally:
        orbit.run("rm", "-R", f"{name}:/{bucket}", check=True)
