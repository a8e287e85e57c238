"""Session-scoped pytest fixtures for the real test servers (loaded by
tests/conftest.py through ``pytest_plugins``).

Each server starts the first time a test asks for it and stops at the end of
the session. If it cannot start, the test is skipped with the reason, except
when the environment variable CI is "true": then the fixture fails, with the
server's log tail. The S3 servers are shared by the whole session, so tests
create their own buckets: ``s3_bucket_name`` or ``unique_name()``.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from tests.servers._process import ServerProcess, ServerStartError, ServerUnavailable
from tests.servers.info import S3Server, SmbServer, SshServer
from tests.servers.moto import start_moto
from tests.servers.rclone import start_rclone
from tests.servers.smbd import start_smbd
from tests.servers.sshd import start_sshd

__all__ = [
    "S3Server",
    "SmbServer",
    "SshServer",
    "in_ci",
    "moto_s3",
    "rclone_s3",
    "s3_bucket_name",
    "skip_or_fail",
    "smbd_server",
    "sshd_server",
    "start_or_skip",
    "temp_base",
    "unique_name",
]

T = TypeVar("T")
Starter = Callable[[Path, Path], tuple[T, ServerProcess]]


def _bypass_proxies_for_loopback() -> None:
    """Clients honour HTTP(S)_PROXY; the servers are on 127.0.0.1, never behind a proxy."""
    if not any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ):
        return
    for key in ("NO_PROXY", "no_proxy"):
        entries = [e for e in os.environ.get(key, "").split(",") if e.strip()]
        missing = [h for h in ("127.0.0.1", "localhost") if h not in entries]
        os.environ[key] = ",".join(entries + missing)


_bypass_proxies_for_loopback()


def in_ci() -> bool:
    """True when the environment variable CI is "true" (GitHub Actions and most CIs)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str, detail: str = "") -> NoReturn:
    """Skip locally; under CI fail instead (with ``detail``), never skipping silently."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: failing, not skipping)\n{detail}".rstrip(), pytrace=False)
    pytest.skip(reason)


def temp_base(factory: pytest.TempPathFactory) -> Path:
    """The highest folder of pytest's temp tree whose permissions a server may open."""
    base = factory.getbasetemp()
    return base.parent if base.parent.name.startswith("pytest-of-") else base


def start_or_skip(
    name: str, starter: Starter[T], root: Path, base: Path
) -> tuple[T, ServerProcess]:
    """Start a server in ``root``; on failure skip the test (or fail it under CI)."""
    try:
        return starter(root, base)
    except (ServerUnavailable, ServerStartError) as exc:
        error = exc
    message = str(error)  # outside the except: no "during handling" chain in the report
    skip_or_fail(f"{name} test server could not start: {message.splitlines()[0]}", message)


def serve_in(root: Path, factory: pytest.TempPathFactory, name: str,
             starter: Starter[T]) -> Iterator[T]:
    """Run a server in ``root`` for as long as the generator lives (a fixture's body)."""
    info, process = start_or_skip(name, starter, root, temp_base(factory))
    try:
        yield info
    finally:
        process.stop()


def _serve(factory: pytest.TempPathFactory, name: str, starter: Starter[T]) -> Iterator[T]:
    yield from serve_in(factory.mktemp(name), factory, name, starter)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server (accepts any keys)."""
    yield from _serve(tmp_path_factory, "moto", lambda root, base: start_moto(root))


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``rclone serve s3`` over ``data_dir`` (buckets are its subfolders); refuses wrong keys."""
    yield from _serve(tmp_path_factory, "rclone", lambda root, base: start_rclone(root))


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """OpenSSH sshd with SFTP; key login always, password login when run as root."""
    yield from _serve(tmp_path_factory, "sshd", start_sshd)


@pytest.fixture(scope="session")
def smbd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmbServer]:
    """Samba smbd with shares "data" and "secure" (encryption required). Needs root."""
    yield from _serve(tmp_path_factory, "smbd", start_smbd)


def unique_name(prefix: str = "orbit") -> str:
    """A name no other test uses, valid as an S3 bucket name (3-63 chars, [a-z0-9-])."""
    stem = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")[:40].strip("-") or "orbit"
    return f"{stem}-{secrets.token_hex(6)}"


@pytest.fixture
def s3_bucket_name(request: pytest.FixtureRequest) -> str:
    """A fresh bucket name for this test (not created), derived from the test's name."""
    return unique_name(request.node.name)
