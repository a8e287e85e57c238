"""The servers of a benchmark session and the ``orbit`` command set up against them.

One :class:`Session` owns a temporary folder, a private config folder for
``orbit`` (``ORBIT_CONFIG_DIR``: profiles, journal, known hosts) and the
servers, each started on first use and stopped at the end: ``rclone serve s3``
(and moto), a private OpenSSH sshd, a private Samba smbd. Each server gets a
saved ``orbit`` profile, added through ``orbit profile add`` as a user would,
with its secret in the keyring (``make bench`` runs inside
``scripts/test-session.sh``, a private D-Bus session with gnome-keyring).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._harness import ROOT, Measurement, format_size, make_file

if str(ROOT) not in sys.path:  # tests.servers starts the servers for us
    sys.path.insert(0, str(ROOT))

from tests.servers._process import ServerProcess
from tests.servers.info import S3Server, SmbServer, SshServer

__all__ = ["BUCKET", "Session", "orbit_command"]

BUCKET = "bench"


def orbit_command() -> list[str]:
    """``orbit`` as installed in this venv (the console script users run)."""
    script = Path(sys.executable).parent / "orbit"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "orbit_gui.engine.cli"]


def _compile_orbit() -> None:
    """Write orbit_gui's bytecode, as installing the wheel would: the editable install
    leaves none, and with PYTHONDONTWRITEBYTECODE set (as on these machines) every
    ``orbit`` run would compile its modules again, ~50 ms of each run's CPU."""
    import compileall

    compileall.compile_dir(ROOT / "orbit_gui", quiet=1)


@dataclass
class _Started:
    info: Any
    process: ServerProcess


class Session:
    """Work folder, orbit config and servers of one benchmark run (a context manager)."""

    def __init__(self, tmp: Path | None = None, aws_venv: Path | None = None) -> None:
        _compile_orbit()
        self.work = Path(tempfile.mkdtemp(prefix="orbit-bench-", dir=tmp))
        self.work.chmod(0o755)
        self.config = self.work / "orbit-config"
        self.config.mkdir()
        self.aws_venv = aws_venv or ROOT / ".bench-venv"
        self._servers: dict[str, _Started] = {}
        self._cleanups: list[Callable[[], None]] = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "RCLONE_"))}
        self.env["ORBIT_CONFIG_DIR"] = str(self.config)
        self.orbit_runs: dict[tuple[str, str, int], list[Measurement]] = {}
        """orbit cp runs by (protocol, direction, size): the memory case reuses the
        large-file cases' runs instead of repeating them."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        for started in self._servers.values():
            started.process.stop()
        self._servers.clear()
        shutil.rmtree(self.work, ignore_errors=True)

    def folder(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- orbit ----------------------------------------------------------------------------

    def orbit(self, *args: str) -> list[str]:
        return [*orbit_command(), *args]

    def orbit_cp(self, src: str, dst: str, *flags: str) -> list[str]:
        return self.orbit("cp", "--progress", "none", "--on-conflict", "overwrite", *flags,
                          src, dst)

    def _add_profile(self, name: str, args: Sequence[str], secret: str | None) -> None:
        argv = self.orbit("profile", "add", name, *args,
                          *(["--secret-stdin"] if secret is not None else []))
        done = subprocess.run(argv, env=self.env, input=(secret or "") + "\n", text=True,
                              capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"orbit profile add {name} failed: {done.stderr}")
        if "no usable keyring" in done.stderr:
            raise RuntimeError("orbit found no keyring: run the benchmarks through "
                               "scripts/test-session.sh (as `make bench` does)")

    # -- servers --------------------------------------------------------------------------

    def start(self, kind: str, start: Callable[[Path], tuple[Any, ServerProcess]]) -> Any:
        """Start server ``kind`` with ``start(folder)`` unless it runs already."""
        if kind not in self._servers:
            print(f"starting {kind} ...", file=sys.stderr)
            info, process = start(self.folder(f"srv-{kind}"))
            self._servers[kind] = _Started(info, process)
        return self._servers[kind].info

    def s3(self, kind: str = "rclone") -> S3Server:
        """``rclone serve s3`` (or moto) with bucket ``bench``; orbit profile named ``kind``."""
        from bench.bench_s3 import s3_admin, start_rclone_bench
        from tests.servers.moto import start_moto

        fresh = kind not in self._servers
        info: S3Server = self.start(kind, {"rclone": start_rclone_bench,
                                             "moto": start_moto}[kind])
        if fresh:
            s3_admin(info).create_bucket(Bucket=BUCKET)
            self._add_profile(kind, ["--kind", "s3", "--endpoint", info.endpoint_url,
                                     "--region", info.region, "--path-style",
                                     "--access-key", info.access_key], info.secret_key)
        return info

    def s3_profile(self, name: str, info: S3Server, endpoint: str) -> str:
        """Another S3 profile for ``info``'s keys at ``endpoint`` (a proxy in front)."""
        self._add_profile(name, ["--kind", "s3", "--endpoint", endpoint, "--region",
                                 info.region, "--path-style", "--access-key",
                                 info.access_key], info.secret_key)
        return name

    def sftp(self) -> SshServer:
        """The private sshd; orbit profiles ``sftp`` (key login, the server's known_hosts)
        and ``sftp-nofsync``, the same without the flush before publishing."""
        from tests.servers.sshd import start_sshd

        fresh = "sshd" not in self._servers
        info: SshServer = self.start("sshd", lambda root: start_sshd(root, self.work))
        if fresh:
            login = ["--kind", "sftp", "--host", info.host, "--port", str(info.port),
                     "--user", info.user, "--key-file", str(info.client_key),
                     "--option", f"known_hosts={info.known_hosts}",
                     "--option", "system_known_hosts=false"]
            self._add_profile("sftp", login, None)
            self._add_profile("sftp-nofsync", [*login, "--option", "fsync=false"], None)
        return info

    def smb(self) -> SmbServer:
        """The private smbd; orbit profile ``smb`` on share ``data`` (password in keyring)."""
        from tests.servers.smbd import start_smbd

        fresh = "smbd" not in self._servers
        info: SmbServer = self.start("smbd", lambda root: start_smbd(root, self.work))
        if fresh:
            self._add_profile("smb", [
                "--kind", "smb", "--host", info.host, "--port", str(info.port), "--user",
                info.user, "--share", info.share], info.password)
        return info

    def grant(self, *folders: Path) -> None:
        """Let the sshd/smbd login user use ``folders`` (inside the work folder)."""
        from tests.servers._unixuser import grant_access, server_user

        grant_access(list(folders), server_user(), self.work)

    @contextlib.contextmanager
    def test_file(self, name: str, size: int) -> Iterator[Path]:
        """``size`` random bytes in the work folder, removed afterwards."""
        path = self.work / name
        print(f"generating {format_size(size)} ...", file=sys.stderr)
        make_file(path, size)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def on_close(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)


