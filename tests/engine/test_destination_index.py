"""A folder transfer learns what its destination holds from one listing per folder,
not from a stat (S3: HEAD + LIST) per file, and S3 writes confirm themselves, so a
tree of small files costs one PutObject per file and a large file no HEAD after."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from orbit_gui.engine import Backend, Entry
from orbit_gui.engine.backend import BytesReader
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.engine.transfer import (
    ConflictPolicy,
    Endpoint,
    TransferOptions,
    TransferQueue,
    TransferRequest,
    TransferState,
)
from orbit_gui.engine.transfer.existing import _FOLDERS_KEPT, DestinationIndex
from tests.engine.s3_helpers import record_requests, s3, s3_bucket
from tests.engine.test_transfer_queue import GUARD
from tests.servers.info import S3Server
from tests.transfer_support import Steered, make_tree, tree_digest, write_pattern

__all__ = ["s3"]  # a fixture used here

FILES = 30
MiB = 1024 * 1024
FOLDERS = 9  # make_tree: d00..d02 x s0..s2


async def copy_tree(src: Endpoint, dst: Endpoint, policy: ConflictPolicy) -> Any:
    async with TransferQueue(concurrency=4) as queue:
        transfer = queue.add(TransferRequest(src, dst, recursive=True,
                                             options=TransferOptions(conflict=policy)))
        return await asyncio.wait_for(transfer.wait(), GUARD * 3)


async def test_a_tree_goes_up_with_one_put_per_file_and_one_list_per_folder(
        moto_s3: S3Server, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", small=FILES, fanout=3)
    async with s3_bucket(moto_s3, "index") as (backend, bucket):
        seen = record_requests(backend)
        src = Endpoint(LocalBackend(), str(tmp_path / "src"))
        dst = Endpoint(backend, f"{bucket}/tree")
        snap = await copy_tree(src, dst, ConflictPolicy.ASK)  # ask: nobody is asked
        assert snap.state is TransferState.DONE, (snap.error, snap.failures)
        requests = Counter(seen)
        assert requests["PutObject"] == FILES
        # No file is stat-ed before or after its upload; an empty listing asks once
        # whether its folder is a file.
        assert requests["HeadObject"] <= FOLDERS
        assert requests["ListObjectsV2"] <= FOLDERS
        # Again: every file is found in the listings and skipped without a request of its own.
        seen.clear()
        snap = await copy_tree(src, dst, ConflictPolicy.SKIP)
        assert snap.state is TransferState.DONE, (snap.error, snap.failures)
        requests = Counter(seen)
        assert snap.files_skipped == FILES
        assert requests["PutObject"] == requests["HeadObject"] == 0
        assert requests["ListObjectsV2"] <= FOLDERS
        back = tmp_path / "back"
        snap = await copy_tree(dst, Endpoint(LocalBackend(), str(back)), ConflictPolicy.ASK)
        assert snap.state is TransferState.DONE, (snap.error, snap.failures)
    assert tree_digest(back) == tree_digest(tmp_path / "src")


async def test_a_single_put_carries_the_content_md5(moto_s3: S3Server) -> None:
    async with s3_bucket(moto_s3, "md5") as (backend, bucket):
        headers: list[Any] = []
        backend.client.meta.events.register(
            "before-call.s3.PutObject", lambda params, **_: headers.append(params["headers"]))
        data = b"checked by the store " * 100
        await backend.write(f"{bucket}/a.bin", BytesReader(data), len(data))
        assert backend.features.confirms_writes
    expected = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert headers[0]["Content-MD5"] == expected


async def test_a_multipart_upload_is_confirmed_from_its_parts_not_a_head(
        s3: S3Server, tmp_path: Path) -> None:
    """Before assembling, the store is asked which parts it holds (ListParts), so no
    HEAD follows: ``rclone serve s3`` hashes a new object whole on its first HEAD."""
    source = tmp_path / "video.mov"
    write_pattern(source, 12 * MiB)
    async with s3_bucket(s3, "confirm") as (backend, bucket):
        seen = record_requests(backend)
        async with TransferQueue() as queue:
            transfer = queue.add(TransferRequest(
                Endpoint(LocalBackend(), str(source)), Endpoint(backend, f"{bucket}/v.mov"),
                options=TransferOptions(part_size=5 * MiB)))
            snap = await asyncio.wait_for(transfer.wait(), GUARD)
        assert snap.state is TransferState.DONE, snap.error
        assert seen.count("UploadPart") == 3
        assert seen[-2:] == ["ListParts", "CompleteMultipartUpload"]
        assert (await backend.stat(f"{bucket}/v.mov")).size == 12 * MiB


def local_with(**features: Any) -> Backend:
    backend = LocalBackend()
    backend.features = dataclasses.replace(backend.features, **features)
    return backend


async def test_the_index_answers_from_one_listing_and_falls_back_past_its_limit(
        tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(name)
    (tmp_path / "sub").mkdir()
    index = DestinationIndex(LocalBackend())
    found = await index.existing(str(tmp_path / "a.txt"))
    assert found is not None and found.size == 5 and not found.is_dir
    sub = await index.existing(str(tmp_path / "sub"))
    assert sub is not None and sub.is_dir
    assert await index.existing(str(tmp_path / "new.txt")) is None
    assert await index.existing(str(tmp_path / "missing" / "x")) is None
    assert index.listings == 2
    small = DestinationIndex(LocalBackend(), limit=2)  # too many entries: stat each file
    found = await small.existing(str(tmp_path / "c.txt"))
    assert found is not None and found.size == 5
    assert await small.existing(str(tmp_path / "new.txt")) is None
    await index.aclose()
    await small.aclose()


class StatCounting(Steered):
    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.stats = 0

    async def stat(self, path: str) -> Entry:
        self.stats += 1
        return await super().stat(path)


async def test_a_listing_pushed_out_of_the_cache_still_answers_its_waiter(
        tmp_path: Path) -> None:
    """A folder transfer walks many folders; a listing dropped from the cache while a
    file awaits it finishes for that file instead of being cancelled midway (which
    would leave the file to a stat: on S3 a HEAD and a LIST)."""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "a.txt").write_text("a")
    (busy / "b.txt").write_text("bb")
    for number in range(_FOLDERS_KEPT):
        (tmp_path / f"empty{number}").mkdir()
    backend = StatCounting(LocalBackend())
    backend.after_first_entry = asyncio.Event()  # the busy listing stops after one file
    index = DestinationIndex(backend)
    waiting = asyncio.ensure_future(index.existing(str(busy / "b.txt")))
    await asyncio.sleep(0)  # one turn: its listing is the oldest in the cache
    for number in range(_FOLDERS_KEPT):  # empty folders list to the end at once
        assert await index.existing(str(tmp_path / f"empty{number}" / "x")) is None
    assert not waiting.done()
    backend.after_first_entry.set()
    found = await asyncio.wait_for(waiting, GUARD)
    assert found is not None and found.size == 2
    assert backend.stats == 0, "answered from the listing"
    assert index.listings == _FOLDERS_KEPT + 1
    await index.aclose()


async def test_the_index_folds_names_the_way_the_store_does(tmp_path: Path) -> None:
    (tmp_path / "Report.TXT").write_text("x")
    (tmp_path / "cafe\u0301.txt").write_text("y")  # NFD spelling
    exact = DestinationIndex(LocalBackend())
    assert await exact.existing(str(tmp_path / "report.txt")) is None
    folding = DestinationIndex(local_with(case_sensitive=False, unicode_normalizing=True))
    assert await folding.existing(str(tmp_path / "report.txt")) is not None
    assert await folding.existing(str(tmp_path / "caf\u00e9.txt")) is not None  # NFC
    await exact.aclose()
    await folding.aclose()
