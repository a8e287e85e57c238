"""``orbit ls`` imports only what its target needs: start-up is most of the time to
a listing's first entry, and each unused stack (botocore and aiohttp, asyncssh,
smbprotocol, the keyring, the transfer queue and its SQLite journal, Qt) costs
0.1-0.5 s of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import ROOT, Orbit
from tests.cli.test_cli import real_keyring  # noqa: F401 - a fixture
from tests.cli.test_cli_s3 import add_profile, s3  # noqa: F401 - s3 is a fixture
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server

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
