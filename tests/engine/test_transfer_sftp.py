"""The transfer queue against a real OpenSSH sshd: positional part uploads (resumable
by session id) and windowed downloads, a folder tree both ways."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orbit_gui.engine import Backend, Profile, open_backend
from orbit_gui.engine.backends.local import TEMP_PREFIX, LocalBackend
from orbit_gui.engine.retry import RetryPolicy
from orbit_gui.engine.transfer import (
    ConflictPolicy,
    Endpoint,
    PartState,
    TransferOptions,
    TransferQueue,
    TransferRequest,
    TransferState,
)
from tests.engine.test_transfer_queue import GUARD, Watch, cancel_delivered
from tests.servers.info import SshServer
from tests.transfer_support import make_tree, sha256_file, tree_digest, write_pattern

MiB = 1024 * 1024
FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)


def profile(server: SshServer) -> Profile:
    return Profile(name="sftp-test", kind="sftp", host=server.host, port=server.port,
                   user=server.user, root=str(server.root),
                   options={"system_known_hosts": False, "ssh_config": [],
                            "known_hosts": str(server.known_hosts),
                            "key_file": str(server.client_key)})


@pytest.fixture
async def sftp(sshd_server: SshServer) -> AsyncIterator[Backend]:
    backend = await open_backend(profile(sshd_server))
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture
def remote(sshd_server: SshServer, request: pytest.FixtureRequest) -> Path:
    return sshd_server.root / f"q-{request.node.name[:30]}-{os.urandom(4).hex()}"


def present(path: Path | str) -> bool:
    return os.path.exists(path)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def options(**kwargs: object) -> TransferOptions:
    kwargs.setdefault("conflict", ConflictPolicy.OVERWRITE)
    kwargs.setdefault("retry", FAST)
    return TransferOptions(**kwargs)  # type: ignore[arg-type]


async def test_tree_up_and_down_through_sftp(sftp: Backend, remote: Path,
                                            tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, small=120, large=(3 * MiB + 11,))
    local = LocalBackend()
    async with TransferQueue() as queue:
        up = queue.add(TransferRequest(Endpoint(local, str(src)), Endpoint(sftp, str(remote)),
                                       recursive=True,
                                       options=options(part_size=MiB, multipart_threshold=MiB)))
        snap = await asyncio.wait_for(up.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert tree_digest(remote) == tree_digest(src)
        down = queue.add(TransferRequest(Endpoint(sftp, str(remote)),
                                         Endpoint(local, str(tmp_path / "back")),
                                         recursive=True, options=options(part_size=MiB)))
        snap = await asyncio.wait_for(down.wait(), GUARD)
    assert snap.state is TransferState.DONE, snap.error
    assert tree_digest(tmp_path / "back") == tree_digest(src)


async def test_part_upload_pauses_and_resumes_in_the_same_partial_file(
        sftp: Backend, remote: Path, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    write_pattern(src, 6 * MiB + 5)
    dst = remote / "big.bin"
    async with TransferQueue() as queue:
        watch = Watch(queue)
        queue.set_bwlimit(2 * MiB)  # slow enough to pause midway; never a timing assertion
        transfer = queue.add(TransferRequest(
            Endpoint(LocalBackend(), str(src)), Endpoint(sftp, str(dst)),
            options=options(part_size=MiB, window=1, multipart_threshold=MiB)))
        await watch.until(lambda s: sum(p.state is PartState.DONE for p in s.parts) >= 2)
        await queue.pause(transfer.id)
        journal = queue.journal.journal
        record = journal.file(transfer.id, "")
        assert record is not None and record.upload_id and record.temp_path
        confirmed = {p.index for p in journal.parts(transfer.id, "")}
        assert len(confirmed) >= 2
        assert present(record.temp_path) and not present(dst)
        queue.set_bwlimit(None)
        await queue.resume(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert snap.resumed_bytes == len(confirmed) * MiB
    assert sha256_file(dst) == sha256_file(src)
    assert leftovers(remote) == []


async def test_pause_while_the_server_opens_the_temp_file_leaves_none(
        sftp: Backend, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pause that lands after sshd made the hidden temporary file but before its
    handle is in our hands: the upload waits for the handle, closes it and removes
    the file; the resume uploads the file whole and leaves no temporary file."""
    src = tmp_path / "small.bin"
    write_pattern(src, 5000)
    opened = asyncio.Event()
    gate = asyncio.Event()
    real = sftp._open_temp  # type: ignore[attr-defined]

    async def held(*args: object) -> object:
        file = await real(*args)
        if not gate.is_set():
            opened.set()
            await gate.wait()
        return file

    monkeypatch.setattr(sftp, "_open_temp", held)
    async with TransferQueue() as queue:
        transfer = queue.add(TransferRequest(Endpoint(LocalBackend(), str(src)),
                                             Endpoint(sftp, str(remote / "small.bin")),
                                             options=options()))
        await asyncio.wait_for(opened.wait(), GUARD)
        assert leftovers(remote)  # made on the server, the answer held back
        pausing = asyncio.create_task(queue.pause(transfer.id))
        assert transfer._task is not None
        await asyncio.wait_for(cancel_delivered(transfer._task), GUARD)
        gate.set()
        await asyncio.wait_for(pausing, GUARD)
        assert transfer.snapshot().state is TransferState.PAUSED
        assert leftovers(remote) == []
        await queue.resume(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
    assert snap.state is TransferState.DONE, snap.error
    assert leftovers(remote) == []
    assert sha256_file(remote / "small.bin") == sha256_file(src)
