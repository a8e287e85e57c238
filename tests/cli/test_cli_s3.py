"""``orbit`` against real S3 servers: an S3 profile whose secret lives only in the
keyring, cp/ls/rm both ways, and a multipart upload killed with SIGKILL that
``orbit resume`` finishes from ListParts, leaving no pending multipart upload."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Orbit, json_lines
from tests.cli.test_cli import all_text_below, real_keyring  # noqa: F401 - a fixture
from tests.cli.test_cli_resume import check_resume, confirmed_in_journal, kill_after_parts
from tests.engine.test_transfer_s3 import connect, pending_uploads
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server
from tests.transfer_support import make_tree, sha256_file, tree_digest, write_pattern

MiB = 1024 * 1024


@pytest.fixture(params=["moto", "rclone"])
def s3(request: pytest.FixtureRequest) -> S3Server:
    server: S3Server = request.getfixturevalue(f"{request.param}_s3")
    return server


def add_profile(orbit: Orbit, server: S3Server, name: str) -> None:
    orbit.run("profile", "add", name, "--kind", "s3", "--endpoint", server.endpoint_url,
              "--region", server.region, "--path-style", "--access-key", server.access_key,
              "--secret-stdin", input=server.secret_key + "\n", check=True)


def pending(server: S3Server, bucket: str) -> list[object]:
    async def ask() -> list[object]:
        backend = await connect(server)
        try:
            return await pending_uploads(backend, bucket)
        finally:
            await backend.aclose()

    return asyncio.run(ask())


def test_s3_round_trip_with_the_secret_in_the_keyring_only(
        orbit: Orbit, s3: S3Server, tmp_path: Path, real_keyring: None) -> None:  # noqa: F811
    name = f"s3-{os.urandom(3).hex()}"
    add_profile(orbit, s3, name)
    bucket = unique_name("cli")
    try:
        src = tmp_path / "src"
        make_tree(src, small=25, large=(6 * MiB + 1,))
        orbit.run("mkdir", f"{name}:/{bucket}", check=True)
        orbit.run("cp", "-R", str(src), f"{name}:/{bucket}/tree", "--part-size", "5M",
                  check=True)
        listing = json_lines(orbit.run("ls", "-R", "--json", f"{name}:/{bucket}/tree",
                                       check=True).stdout)
        assert len(listing) == 26
        buckets = orbit.run("ls", f"{name}:/", check=True).stdout
        assert bucket in buckets
        orbit.run("cp", "-R", f"{name}:/{bucket}/tree", str(tmp_path / "back"), check=True)
        assert tree_digest(tmp_path / "back") == tree_digest(src)
        orbit.run("rm", "-R", f"{name}:/{bucket}/tree", check=True)
        assert json_lines(orbit.run("ls", "--json", f"{name}:/{bucket}", check=True).stdout) == []
        everything = all_text_below(orbit.config)
        assert s3.secret_key not in everything
    finally:
        orbit.run("rm", "-R", f"{name}:/{bucket}")
        orbit.run("profile", "rm", name, check=True)


def test_killed_multipart_upload_resumes_from_list_parts(
        orbit: Orbit, s3: S3Server, tmp_path: Path, real_keyring: None) -> None:  # noqa: F811
    name = f"s3-{os.urandom(3).hex()}"
    add_profile(orbit, s3, name)
    bucket = unique_name("resume")
    try:
        orbit.run("mkdir", f"{name}:/{bucket}", check=True)
        src = tmp_path / "up.bin"
        write_pattern(src, 48 * MiB + 5, seed=9)
        process = orbit.start("cp", str(src), f"{name}:/{bucket}/up.bin", "--progress", "json",
                              "--part-size", "5M", "--window", "2", "--bwlimit", "16M")
        last = kill_after_parts(process, 3)
        confirmed = confirmed_in_journal(orbit, last["transfer"])
        assert len(confirmed) >= 1
        assert len(pending(s3, f"/{bucket}")) == 1
        check_resume(orbit, last["transfer"], confirmed)
        assert pending(s3, f"/{bucket}") == []
        orbit.run("cp", f"{name}:/{bucket}/up.bin", str(tmp_path / "back.bin"), check=True)
        assert sha256_file(tmp_path / "back.bin") == sha256_file(src)
    finally:
        orbit.run("rm", "-R", f"{name}:/{bucket}")
        orbit.run("profile", "rm", name, check=True)


def test_discard_aborts_the_abandoned_multipart_upload(
        orbit: Orbit, moto_s3: S3Server, tmp_path: Path, real_keyring: None) -> None:  # noqa: F811
    name = f"s3-{os.urandom(3).hex()}"
    add_profile(orbit, moto_s3, name)
    bucket = unique_name("discard")
    try:
        orbit.run("mkdir", f"{name}:/{bucket}", check=True)
        src = tmp_path / "up.bin"
        write_pattern(src, 30 * MiB, seed=10)
        process = orbit.start("cp", str(src), f"{name}:/{bucket}/up.bin", "--progress", "json",
                              "--part-size", "5M", "--bwlimit", "16M")
        last = kill_after_parts(process, 1)
        assert len(pending(moto_s3, f"/{bucket}")) == 1
        orbit.run("resume", "--discard", last["transfer"], check=True)
        assert pending(moto_s3, f"/{bucket}") == []
    finally:
        orbit.run("rm", "-R", f"{name}:/{bucket}")
        orbit.run("profile", "rm", name, check=True)
