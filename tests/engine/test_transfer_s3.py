"""The transfer queue against real S3 servers (moto and ``rclone serve s3``): trees up
and down with checksums, multipart uploads and windowed downloads paused, resumed and
cancelled, retries through a proxy that resets connections and answers 503, and
copies within one store and between two."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from orbit_gui.engine import Backend
from orbit_gui.engine.backends.local import LocalBackend
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
from tests.engine.s3_helpers import connect, pending_uploads, s3, store, upstream
from tests.engine.test_transfer_queue import GUARD, Watch
from tests.fault_proxy import FaultProxy
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server
from tests.transfer_support import Steered, make_tree, sha256_file, tree_digest, write_pattern

__all__ = ["s3", "store"]  # fixtures used here

MiB = 1024 * 1024
QUICK = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)


async def object_sha256(backend: Backend, path: str) -> str:
    sha = hashlib.sha256()
    async for chunk in backend.read(path):
        sha.update(chunk)
    return sha.hexdigest()


def options(**kwargs: Any) -> TransferOptions:
    kwargs.setdefault("conflict", ConflictPolicy.OVERWRITE)
    kwargs.setdefault("retry", QUICK)
    kwargs.setdefault("part_size", 5 * MiB)
    kwargs.setdefault("multipart_threshold", 5 * MiB)
    return TransferOptions(**kwargs)


async def test_tree_of_1000_files_up_and_down_with_checksums(
        store: tuple[Backend, str], s3: S3Server, tmp_path: Path) -> None:
    backend, bucket = store
    src = tmp_path / "src"
    # `rclone serve s3` takes about a second per new small object on these machines
    # (even from boto3, one request at a time): it gets the large files and a smaller tree.
    small = 1000 if s3.name == "moto" else 60
    make_tree(src, small=small, large=(12 * MiB + 3, 6 * MiB))
    local = LocalBackend()
    async with TransferQueue(concurrency=4) as queue:
        up = queue.add(TransferRequest(Endpoint(local, str(src)),
                                       Endpoint(backend, f"{bucket}/tree"), recursive=True,
                                       options=options()))
        snap = await asyncio.wait_for(up.wait(), GUARD * 5)
        assert snap.state is TransferState.DONE, (snap.error, snap.failures)
        assert snap.files_done == small + 2
        assert await pending_uploads(backend, bucket) == []
        down = queue.add(TransferRequest(Endpoint(backend, f"{bucket}/tree"),
                                         Endpoint(local, str(tmp_path / "back")),
                                         recursive=True, options=options()))
        snap = await asyncio.wait_for(down.wait(), GUARD * 5)
    assert snap.state is TransferState.DONE, (snap.error, snap.failures)
    assert tree_digest(tmp_path / "back") == tree_digest(src)


async def test_multipart_upload_pauses_resumes_and_cancels(
        store: tuple[Backend, str], tmp_path: Path) -> None:
    backend, bucket = store
    src = tmp_path / "big.bin"
    write_pattern(src, 26 * MiB + 17)
    key = f"{bucket}/big.bin"
    async with TransferQueue() as queue:
        watch = Watch(queue)
        queue.set_bwlimit(12 * MiB)  # time to pause between parts; nothing is timed
        transfer = queue.add(TransferRequest(Endpoint(LocalBackend(), str(src)),
                                             Endpoint(backend, key),
                                             options=options(window=1)))
        await watch.until(lambda s: sum(p.state is PartState.DONE for p in s.parts) >= 2)
        await queue.pause(transfer.id)
        assert transfer.snapshot().state is TransferState.PAUSED
        record = queue.journal.journal.file(transfer.id, "")
        assert record is not None and record.upload_id
        assert [u.upload_id for u in await pending_uploads(backend, bucket)] == [
            record.upload_id]
        assert not await backend.exists(key)
        queue.set_bwlimit(None)
        await queue.resume(transfer.id)
        snap = await asyncio.wait_for(transfer.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert snap.resumed_bytes >= 2 * 5 * MiB
        assert await object_sha256(backend, key) == sha256_file(src)
        assert await pending_uploads(backend, bucket) == []

        queue.set_bwlimit(12 * MiB)
        second = queue.add(TransferRequest(Endpoint(LocalBackend(), str(src)),
                                           Endpoint(backend, f"{bucket}/second.bin"),
                                           options=options(window=1)))
        await watch.until(lambda s: s.id == second.id and any(
            p.state is PartState.DONE for p in s.parts))
        await queue.cancel(second.id)
        assert second.snapshot().state is TransferState.CANCELLED
        assert await pending_uploads(backend, bucket) == []
        assert not await backend.exists(f"{bucket}/second.bin")


async def test_windowed_download_pauses_resumes_and_cancels(
        store: tuple[Backend, str], tmp_path: Path) -> None:
    backend, bucket = store
    src = tmp_path / "src.bin"
    write_pattern(src, 6 * MiB + 99)
    local = LocalBackend()
    async with TransferQueue() as queue:
        up = queue.add(TransferRequest(Endpoint(local, str(src)),
                                       Endpoint(backend, f"{bucket}/obj.bin"),
                                       options=options()))
        assert (await asyncio.wait_for(up.wait(), GUARD)).state is TransferState.DONE
        source = Steered(backend)
        gate = asyncio.Event()

        async def hold(path: str, offset: int, length: int | None) -> None:
            if offset >= 2 * MiB:
                await gate.wait()

        source.before_read = hold
        watch = Watch(queue)
        dst = tmp_path / "out" / "obj.bin"
        down = queue.add(TransferRequest(Endpoint(source, f"{bucket}/obj.bin"),
                                         Endpoint(local, str(dst)),
                                         options=options(part_size=MiB, window=2)))
        await watch.until(lambda s: s.id == down.id and sum(
            p.state is PartState.DONE for p in s.parts) == 2)
        await queue.pause(down.id)
        source.before_read = None
        source.reads.clear()
        await queue.resume(down.id)
        snap = await asyncio.wait_for(down.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert min(offset for _, offset, _ in source.reads) == 2 * MiB
        assert sha256_file(dst) == sha256_file(src)

        gate.clear()
        source.before_read = hold
        again = tmp_path / "out" / "again.bin"
        cancelled = queue.add(TransferRequest(Endpoint(source, f"{bucket}/obj.bin"),
                                              Endpoint(local, str(again)),
                                              options=options(part_size=MiB, window=2)))
        await watch.until(lambda s: s.id == cancelled.id and sum(
            p.state is PartState.DONE for p in s.parts) == 2)
        await queue.cancel(cancelled.id)
    assert sorted(p.name for p in dst.parent.iterdir()) == ["obj.bin"]


async def test_every_file_arrives_intact_through_resets_and_503s(
        s3: S3Server, tmp_path: Path, expect_log: Any) -> None:
    expect_log(r".")  # the backend may warn about the faults it sees; they are the point
    src = tmp_path / "src"
    make_tree(src, small=40, large=(11 * MiB + 5,))
    async with FaultProxy(*upstream(s3), every=4, limit=40) as proxy:
        backend = await connect(s3, proxy.url)
        direct = await connect(s3)
        bucket = "/" + unique_name("faults")
        await direct.mkdir(bucket)
        try:
            local = LocalBackend()
            async with TransferQueue() as queue:
                up = queue.add(TransferRequest(Endpoint(local, str(src)),
                                               Endpoint(backend, f"{bucket}/t"),
                                               recursive=True, options=options()))
                snap = await asyncio.wait_for(up.wait(), GUARD * 3)
                assert snap.state is TransferState.DONE, (snap.error, snap.failures)
                down = queue.add(TransferRequest(
                    Endpoint(backend, f"{bucket}/t"), Endpoint(local, str(tmp_path / "back")),
                    recursive=True, options=options(part_size=2 * MiB)))
                snap = await asyncio.wait_for(down.wait(), GUARD * 3)
                assert snap.state is TransferState.DONE, (snap.error, snap.failures)
            assert proxy.fault_count >= 10
            assert set(proxy.faults) == {"503", "reset", "cut"}
            assert tree_digest(tmp_path / "back") == tree_digest(src)
            assert await pending_uploads(direct, bucket) == []
        finally:
            await direct.delete(bucket, recursive=True)
            await backend.aclose()
            await direct.aclose()


async def test_copy_between_two_stores_streams_through_the_client(
        moto_s3: S3Server, rclone_s3: S3Server, tmp_path: Path) -> None:
    moto, rclone = await connect(moto_s3), await connect(rclone_s3)
    a, b = "/" + unique_name("from"), "/" + unique_name("to")
    await moto.mkdir(a)
    await rclone.mkdir(b)
    try:
        src = tmp_path / "src"
        make_tree(src, small=10, large=(7 * MiB,))
        local = LocalBackend()
        async with TransferQueue() as queue:
            for request in (
                TransferRequest(Endpoint(local, str(src)), Endpoint(moto, f"{a}/t"),
                                recursive=True, options=options()),
                TransferRequest(Endpoint(moto, f"{a}/t"), Endpoint(rclone, f"{b}/t"),
                                recursive=True, options=options()),
                TransferRequest(Endpoint(rclone, f"{b}/t"), Endpoint(local, str(tmp_path / "c")),
                                recursive=True, options=options()),
            ):
                snap = await asyncio.wait_for(queue.add(request).wait(), GUARD * 2)
                assert snap.state is TransferState.DONE, (snap.error, snap.failures)
        assert tree_digest(tmp_path / "c") == tree_digest(src)
    finally:
        for backend, bucket in ((moto, a), (rclone, b)):
            await backend.delete(bucket, recursive=True)
            await backend.aclose()


async def test_copy_within_one_store_happens_on_the_server(
        s3: S3Server, tmp_path: Path) -> None:
    from tests.engine.delay_proxy import DelayProxy

    src = tmp_path / "src"
    make_tree(src, small=5, large=(6 * MiB + 1,))
    async with DelayProxy(*upstream(s3)) as proxy:
        backend = await connect(s3, proxy.url)
        bucket_a, bucket_b = "/" + unique_name("srv-a"), "/" + unique_name("srv-b")
        await backend.mkdir(bucket_a)
        await backend.mkdir(bucket_b)
        try:
            local = LocalBackend()
            async with TransferQueue() as queue:
                up = queue.add(TransferRequest(Endpoint(local, str(src)),
                                               Endpoint(backend, f"{bucket_a}/t"),
                                               recursive=True, options=options()))
                assert (await asyncio.wait_for(up.wait(), GUARD)).state is TransferState.DONE
                proxy.requests.clear()
                copy = queue.add(TransferRequest(Endpoint(backend, f"{bucket_a}/t"),
                                                 Endpoint(backend, f"{bucket_b}/t"),
                                                 recursive=True, options=options()))
                snap = await asyncio.wait_for(copy.wait(), GUARD)
                assert snap.state is TransferState.DONE, (snap.error, snap.failures)
                assert snap.bytes_done == snap.total
            reads = [r for r in proxy.requests if r.method == "GET"
                     and r.target.split("?")[0].startswith(f"{bucket_a}/")]
            assert reads == []  # no object data came through us
            assert any("x-amz-copy-source" in r.headers for r in proxy.requests)
            back = tmp_path / "back"
            async with TransferQueue() as queue:
                down = queue.add(TransferRequest(Endpoint(backend, f"{bucket_b}/t"),
                                                 Endpoint(local, str(back)), recursive=True,
                                                 options=options()))
                assert (await asyncio.wait_for(down.wait(), GUARD)).state is TransferState.DONE
            assert tree_digest(back) == tree_digest(src)
        finally:
            for bucket in (bucket_a, bucket_b):
                await backend.delete(bucket, recursive=True)
            await backend.aclose()
