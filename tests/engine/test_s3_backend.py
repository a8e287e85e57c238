"""The S3 backend against real servers: moto and ``rclone serve s3``.

Tests that make sense on both run on both (the ``server`` fixture); those that
need what only moto does faithfully (many keys quickly, ETag part counts,
storage classes, UploadPartCopy) run on moto.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import socket
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orbit_gui.engine import (
    AlreadyExists,
    AuthenticationFailed,
    Backend,
    BytesReader,
    ConnectionFailed,
    DirectoryNotEmpty,
    IntegrityError,
    InvalidPath,
    ListOptions,
    NotADirectory,
    NotFound,
    SourceChanged,
    Unsupported,
    WriteOptions,
)
from orbit_gui.engine.backends.s3 import MultipartSession, S3Backend
from orbit_gui.engine.backends.s3.multipart import multipart_etag
from tests.contract.streams import PatternReader, digest_of, pattern_bytes
from tests.engine.s3_helpers import open_s3, s3_scratch, upstream
from tests.fault_proxy import FaultProxy
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server

MiB = 1024 * 1024
GiB = 1024 * MiB


@pytest.fixture(params=["moto_s3", "rclone_s3"], ids=["moto", "rclone"])
def server(request: pytest.FixtureRequest) -> S3Server:
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
async def scratch(server: S3Server) -> AsyncIterator[tuple[S3Backend, str]]:
    async with s3_scratch(server) as opened:
        yield opened


@pytest.fixture
async def moto(moto_s3: S3Server) -> AsyncIterator[tuple[S3Backend, str]]:
    async with s3_scratch(moto_s3) as opened:
        yield opened


async def put(backend: Backend, path: str, data: bytes, **options: Any) -> None:
    await backend.write(path, BytesReader(data), len(data), WriteOptions(**options))


async def get(backend: Backend, path: str, offset: int = 0,
              length: int | None = None) -> bytes:
    return b"".join([c async for c in backend.read(path, offset, length)])


def bucket_of(root: str) -> str:
    return root.strip("/").split("/")[0]


def key_prefix(root: str) -> str:
    rest = root.strip("/").partition("/")[2]
    return f"{rest}/" if rest else ""


class FailingReader:
    """Pattern bytes that fail (or wait for ``gate``) after ``limit`` bytes."""

    def __init__(self, size: int, limit: int, gate: asyncio.Event | None = None) -> None:
        self.inner = PatternReader(size)
        self.limit = limit
        self.gate = gate
        self.reached = asyncio.Event()

    async def read(self, n: int = -1) -> bytes:
        if self.inner.position >= self.limit:
            self.reached.set()
            if self.gate is None:
                raise ConnectionResetError("the source went away")
            await self.gate.wait()
        return await self.inner.read(min(n, self.limit - self.inner.position)
                                     if self.inner.position < self.limit else n)


# -- multipart -----------------------------------------------------------------------------


async def test_64_mib_upload_is_multipart_with_the_expected_part_count(
        server: S3Server) -> None:
    async with s3_scratch(server, {"part_size": "8MiB"}) as (backend, root):
        sessions: list[MultipartSession] = []
        reader = PatternReader(64 * MiB)
        path = f"{root}/big.bin"
        written = await backend.upload(path, reader, 64 * MiB, on_session=sessions.append)
        assert written == 64 * MiB
        assert backend.stats.multipart_uploads == 1 and backend.stats.parts_uploaded == 8
        (session,) = sessions
        assert sorted(session.parts) == list(range(1, 9))
        assert {p.size for p in session.parts.values()} == {8 * MiB}
        entry = await backend.stat(path)
        assert entry.size == 64 * MiB
        if server.name == "moto":  # rclone's multipart ETags lack the -N suffix
            assert entry.etag is not None and entry.etag.endswith("-8")
            parts = [session.parts[n] for n in sorted(session.parts)]
            assert entry.etag.strip('"') == multipart_etag(parts)
        size, digest = await digest_of(backend.read(path))
        assert (size, digest) == (64 * MiB, reader.sha256.hexdigest())


async def test_an_assembly_whose_answer_was_lost_is_recognised(
        server: S3Server, scratch: tuple[S3Backend, str]) -> None:
    """The answer to CompleteMultipartUpload is cut after the store assembled the
    object, so botocore's retry finds the upload gone. The object these parts made is
    recognised (its size, and the multipart ETag where the store gives one) instead of
    failing with "the upload no longer exists"."""
    backend, root = scratch
    path = f"{root}/lost-answer.bin"
    reader = PatternReader(11 * MiB)
    # POSTs: CreateMultipartUpload passes, the first CompleteMultipartUpload is cut.
    async with FaultProxy(*upstream(server), every=2, limit=1, kinds=("cut",), cut_after=0,
                          match=lambda head: head.method == "POST") as proxy:
        through = await open_s3(server, proxy.url)
        try:
            assert await through.write(path, reader, 11 * MiB) == 11 * MiB
        finally:
            await through.aclose()
    assert proxy.faults == {"cut": 1}
    completes = [h for h in proxy.requests if h.method == "POST" and "uploadId=" in h.target]
    assert len(completes) == 2, "the cut assembly was sent again"
    assert await digest_of(backend.read(path)) == (11 * MiB, reader.sha256.hexdigest())


async def test_declared_100_gib_gets_parts_that_fit_10000(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    session = await backend.open_multipart_session(f"{root}/huge.bin", size=100 * GiB)
    try:
        assert session.part_size == 11 * MiB
        assert -(-100 * GiB // session.part_size) <= 10_000
    finally:
        await session.abort()


async def test_unknown_size_is_multipart_when_large_and_one_put_when_small(
        scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    reader = PatternReader(12 * MiB)
    assert await backend.write(f"{root}/stream.bin", reader, None) == 12 * MiB
    assert backend.stats.multipart_uploads == 1 and backend.stats.parts_uploaded == 3
    assert await digest_of(backend.read(f"{root}/stream.bin")) == (
        12 * MiB, reader.sha256.hexdigest())
    puts = backend.stats.single_puts
    assert await backend.write(f"{root}/small.bin", PatternReader(100_000), None) == 100_000
    assert backend.stats.single_puts == puts + 1
    assert backend.stats.multipart_uploads == 1


async def test_a_source_longer_than_its_hint_switches_to_multipart(
        moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    reader = PatternReader(7 * MiB)
    assert await backend.write(f"{root}/liar.bin", reader, 1000) == 7 * MiB
    assert backend.stats.multipart_uploads == 1
    assert await digest_of(backend.read(f"{root}/liar.bin")) == (
        7 * MiB, reader.sha256.hexdigest())


async def test_part_progress_adds_up_to_the_part(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    session = await backend.open_multipart_session(f"{root}/p.bin", size=6 * MiB)
    seen: list[int] = []
    part = await session.upload_part(1, bytearray(5 * MiB), seen.append)
    assert sum(seen) == part.size == 5 * MiB and len(seen) > 1
    await session.upload_part(2, b"tail", seen.append)
    await session.complete()
    assert (await backend.stat(f"{root}/p.bin")).size == 5 * MiB + 4


async def test_failure_mid_upload_aborts_it(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    with pytest.raises(ConnectionResetError):
        await backend.write(f"{root}/broken.bin", FailingReader(30 * MiB, 12 * MiB), 30 * MiB)
    assert backend.stats.multipart_uploads == 1
    assert await backend.list_multipart_uploads(bucket_of(root), key_prefix(root)) == []
    with pytest.raises(NotFound):
        await backend.stat(f"{root}/broken.bin")


async def test_cancel_mid_upload_aborts_it(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    reader = FailingReader(30 * MiB, 12 * MiB, gate=asyncio.Event())
    task = asyncio.create_task(backend.write(f"{root}/cancelled.bin", reader, 30 * MiB))
    await asyncio.wait_for(reader.reached.wait(), 60)
    assert await backend.list_multipart_uploads(bucket_of(root), key_prefix(root)) != []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await backend.list_multipart_uploads(bucket_of(root), key_prefix(root)) == []


async def test_resume_from_an_upload_id_sends_only_the_missing_parts(
        scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    path = f"{root}/resumed.bin"
    size = 23 * MiB
    data = pattern_bytes(size)
    sessions: list[MultipartSession] = []
    with pytest.raises(ConnectionResetError):  # dies after three whole parts
        await backend.upload(path, FailingReader(size, 15 * MiB), size,
                             keep_on_failure=True, on_session=sessions.append)
    upload_id = sessions[0].upload_id
    pending = await backend.list_multipart_uploads(bucket_of(root), key_prefix(root))
    assert [u.upload_id for u in pending] == [upload_id]

    # Another run (say after a restart): only the upload id was kept.
    session = await backend.open_multipart_session(path, size=size, upload_id=upload_id)
    assert sorted(session.parts) == [1, 2, 3]
    parts_before = backend.stats.parts_uploaded
    done_parts, offset = session.contiguous()
    assert (done_parts, offset) == (3, 15 * MiB)
    written = await backend.upload(path, BytesReader(data[offset:]), size - offset,
                                   session=session)
    assert written == size
    assert backend.stats.parts_uploaded - parts_before == 2  # parts 4 and 5 only
    assert await get(backend, path) == data
    assert await backend.list_multipart_uploads(bucket_of(root), key_prefix(root)) == []


async def test_a_part_changed_on_the_store_stops_the_assembly(
        moto: tuple[S3Backend, str]) -> None:
    """complete() checks the parts the store holds against the ones sent: a part
    replaced meanwhile (here by another session on the same upload; rclone refuses
    that) is caught before the object exists, and the upload stays for a resume."""
    backend, root = moto
    path = f"{root}/swapped.bin"
    session = await backend.open_multipart_session(path, size=6 * MiB)
    await session.upload_part(1, pattern_bytes(5 * MiB))
    await session.upload_part(2, b"the real tail")
    other = await backend.open_multipart_session(path, size=6 * MiB,
                                                 upload_id=session.upload_id)
    await other.upload_part(2, b"a longer tail from elsewhere")
    with pytest.raises(IntegrityError, match="part 2 is stored with 28 bytes"):
        await session.complete()
    with pytest.raises(NotFound):
        await backend.stat(path)
    assert [u.upload_id for u in await backend.list_multipart_uploads(
        bucket_of(root), key_prefix(root))] == [session.upload_id]
    await session.abort()


async def test_parts_that_do_not_add_up_are_not_assembled(
        scratch: tuple[S3Backend, str]) -> None:
    """complete(size=...) refuses parts whose sizes miss what was sent (say, a stale
    part past the end) before the object exists."""
    backend, root = scratch
    path = f"{root}/short.bin"
    session = await backend.open_multipart_session(path, size=6 * MiB)
    await session.upload_part(1, pattern_bytes(5 * MiB))
    await session.upload_part(2, b"tail")
    with pytest.raises(IntegrityError, match="add up to 5242884 bytes where 6291456"):
        await session.complete(size=6 * MiB)
    with pytest.raises(NotFound):
        await backend.stat(path)
    await session.complete(size=5 * MiB + 4)
    assert (await backend.stat(path)).size == 5 * MiB + 4


async def test_resuming_a_vanished_upload_is_not_found(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    with pytest.raises(NotFound):
        await backend.open_multipart_session(f"{root}/x.bin", upload_id="no-such-upload")


async def test_overwrite_off_refuses_at_completion_too(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    path = f"{root}/raced.bin"
    session = await backend.open_multipart_session(path, size=10,
                                                   options=WriteOptions(overwrite=False))
    await session.upload_part(1, b"mine")
    await put(backend, path, b"someone else's")  # appears meanwhile
    with pytest.raises(AlreadyExists):
        await session.complete()
    await session.abort()
    assert await get(backend, path) == b"someone else's"


# -- listing -------------------------------------------------------------------------------


async def test_listing_pages_lazily_counted_by_real_requests(
        moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    gate = asyncio.Semaphore(32)

    async def make(i: int) -> None:
        async with gate:
            await put(backend, f"{root}/many/k{i:05d}", b"")

    await asyncio.gather(*(make(i) for i in range(2500)))
    requests: list[dict[str, Any]] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        requests.append(params)

    backend.client.meta.events.register("before-parameter-build.s3.ListObjectsV2", count)
    pages = backend.stats.list_pages
    listing = backend.list(f"{root}/many", ListOptions(page_size=1000))
    first = await anext(listing)
    await listing.aclose()  # type: ignore[attr-defined]
    assert first.name == "k00000"
    assert len(requests) == 1 and backend.stats.list_pages - pages == 1

    requests.clear()
    names = [e.name async for e in backend.list(f"{root}/many", ListOptions(page_size=1000))]
    assert len(names) == len(set(names)) == 2500
    assert len(requests) == 3
    assert [r.get("MaxKeys") for r in requests] == [1000, 1000, 1000]
    assert all("ContinuationToken" in r for r in requests[1:])


async def test_common_prefixes_are_folders_and_markers_are_not_files(
        moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    await put(backend, f"{root}/a/x.txt", b"1")
    await backend.mkdir(f"{root}/b")
    await backend.mkdir(f"{root}/c")
    await put(backend, f"{root}/c/y.txt", b"2")
    await put(backend, f"{root}/top.txt", b"3")
    entries = [e async for e in backend.list(root)]
    assert [(e.name, e.is_dir) for e in entries] == [
        ("a", True), ("b", True), ("c", True), ("top.txt", False)]
    assert [e async for e in backend.list(f"{root}/b")] == []
    files = [e.path async for e in backend.list(root, ListOptions(recursive=True))]
    assert sorted(files) == [f"{root}/a/x.txt", f"{root}/c/y.txt", f"{root}/top.txt"]
    top = next(e for e in entries if e.name == "top.txt")
    assert top.size == 1 and top.etag and '"' not in top.etag and top.mtime
    assert top.extra.get("storage_class") == "STANDARD"
    assert (await backend.stat(f"{root}/b")).is_dir


async def test_the_root_lists_buckets(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    buckets = {e.name: e async for e in backend.list("/")}
    assert bucket_of(root) in buckets and buckets[bucket_of(root)].is_dir
    assert (await backend.stat(f"/{bucket_of(root)}")).is_dir


async def test_listing_a_file_as_a_folder_says_so(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    await put(backend, f"{root}/plain.txt", b"x")
    with pytest.raises(NotADirectory):
        [e async for e in backend.list(f"{root}/plain.txt")]


# -- errors and connections ----------------------------------------------------------------


async def test_wrong_credentials_fail_clearly_without_the_secret(rclone_s3: S3Server) -> None:
    for access, secret in ((rclone_s3.access_key, "not-the-secret-xyz"),
                           ("nobody-at-all", rclone_s3.secret_key)):
        backend = await S3Backend.from_profile(
            s3_profile_for(rclone_s3, access_key=access), secret)
        async with backend:
            with pytest.raises(AuthenticationFailed) as raised:
                await backend.stat("/anything")
        message = str(raised.value)
        assert secret not in message and rclone_s3.secret_key not in message
        assert "check the access key and secret for 127.0.0.1" in message


def s3_profile_for(server: S3Server, **options: Any) -> Any:
    from tests.engine.s3_helpers import s3_profile

    return s3_profile(server, **options)


async def test_missing_bucket_is_not_found_naming_it(server: S3Server) -> None:
    bucket = unique_name("missing")
    async with await open_s3(server) as backend:
        for attempt in (backend.stat(f"/{bucket}"), backend.stat(f"/{bucket}/k"),
                        get(backend, f"/{bucket}/k"), put(backend, f"/{bucket}/k", b"x")):
            with pytest.raises(NotFound) as raised:
                await attempt
            assert bucket in str(raised.value)
        with pytest.raises(NotFound) as raised:
            [e async for e in backend.list(f"/{bucket}/dir")]
        assert bucket in str(raised.value)


async def test_unreachable_endpoint_is_connection_failed(moto_s3: S3Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = await S3Backend.from_profile(
        s3_profile_for(moto_s3, endpoint_url=f"http://127.0.0.1:{port}", connect_timeout=5),
        "secret")
    async with backend:
        with pytest.raises(ConnectionFailed) as raised:
            await backend.stat("/bucket/key")
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert raised.value.retriable


async def test_bad_names_are_refused(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    for path in (f"{root}/../escape", f"{root}/nul\x00byte", f"{root}/{'k' * 1100}",
                 "/Not_A_Valid_Bucket!/k"):
        with pytest.raises(InvalidPath):
            await backend.stat(path)


@pytest.mark.parametrize("name", [
    "plus+and space.txt", "percent%2F%20.txt", "question?hash#.txt", "tilde~star*.txt",
    "ünïcødé 日本 🚀.txt", "quote'\"<xml>&.txt", "semi;colon=eq,comma.txt",
])
async def test_hostile_keys_round_trip(scratch: tuple[S3Backend, str], name: str) -> None:
    backend, root = scratch
    path = f"{root}/dir with space/{name}"
    await put(backend, path, name.encode())
    assert (await backend.stat(path)).name == name
    assert [e.name async for e in backend.list(f"{root}/dir with space")] == [name]
    assert await get(backend, path, 1, 3) == name.encode()[1:4]
    await backend.rename(path, f"{root}/{name}.moved")
    assert await get(backend, f"{root}/{name}.moved") == name.encode()


# -- reading -------------------------------------------------------------------------------


async def test_ranged_reads_are_exact_whatever_the_server_answers(
        scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    data = pattern_bytes(3 * MiB + 17)
    path = f"{root}/ranged.bin"
    await put(backend, path, data)
    for offset, length in ((0, 1), (1, None), (MiB - 1, 2), (3 * MiB, 100), (5, 2 * MiB),
                           (len(data) - 1, None), (len(data), None), (len(data) + 10, 5)):
        expected = data[offset: None if length is None else offset + length]
        assert await get(backend, path, offset, length) == expected, (offset, length)


async def test_reads_come_in_large_chunks(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    path = f"{root}/chunks.bin"
    await put(backend, path, pattern_bytes(4 * MiB))
    sizes = [len(c) async for c in backend.read(path)]
    assert sum(sizes) == 4 * MiB
    assert len(sizes) < 4 * MiB // 1024 // 8, "chunks must be far larger than 1 KiB"


async def test_if_match_refuses_a_changed_object(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    path = f"{root}/v.bin"
    await put(backend, path, b"version one")
    tag = (await backend.stat(path)).etag
    assert tag
    assert b"".join([c async for c in backend.read(path, 8, if_match=tag)]) == b"one"
    await put(backend, path, b"version two!")
    for offset, length in ((0, None), (8, 2), (100, None), (3, 0)):
        with pytest.raises(SourceChanged):
            [c async for c in backend.read(path, offset, length, if_match=tag)]


async def test_closing_a_read_early_frees_the_connection(
        scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    path = f"{root}/long.bin"
    await put(backend, path, pattern_bytes(8 * MiB))
    for _ in range(30):  # more than the pool holds: leaked connections would hang here
        stream = backend.read(path)
        await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
    assert await get(backend, path, 0, 4) == pattern_bytes(4)


# -- write options, folders, copies, deletes, links ----------------------------------------


async def test_write_options_round_trip(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    await put(backend, f"{root}/doc.json", b"{}", metadata={"owner": "ada", "n": "1"},
              storage_class="STANDARD_IA", sse="AES256")
    entry = await backend.stat(f"{root}/doc.json")
    assert entry.content_type == "application/json"  # guessed from the name
    assert entry.extra["x-amz-meta-owner"] == "ada" and entry.extra["x-amz-meta-n"] == "1"
    assert entry.extra["storage_class"] == "STANDARD_IA"
    assert entry.extra["server_side_encryption"] == "AES256"
    await put(backend, f"{root}/raw", b"x", content_type="text/x-custom")
    assert (await backend.stat(f"{root}/raw")).content_type == "text/x-custom"
    # Multipart uploads carry them too.
    await backend.write(f"{root}/big.csv", PatternReader(6 * MiB), 6 * MiB,
                        WriteOptions(metadata={"k": "v"}))
    big = await backend.stat(f"{root}/big.csv")
    assert big.content_type == "text/csv" and big.extra["x-amz-meta-k"] == "v"


async def test_kms_encryption_is_requested(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    seen: list[dict[str, Any]] = []
    backend.client.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: seen.append(params["headers"]))
    await put(backend, f"{root}/secret.bin", b"x", sse_kms_key_id="alias/orbit")
    assert seen[-1]["x-amz-server-side-encryption"] == "aws:kms"
    assert seen[-1]["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/orbit"


async def test_markers_keep_folders_like_a_file_system(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    await backend.mkdir(f"{root}/p/q/r")
    await put(backend, f"{root}/p/q/r/f.txt", b"1")
    await backend.delete(f"{root}/p/q/r", recursive=True)
    assert [e.name async for e in backend.list(f"{root}/p")] == ["q"]
    with pytest.raises(NotFound):
        await backend.mkdir(f"{root}/no/such/parent", parents=False)
    await backend.mkdir(f"{root}/p/single", parents=False)
    with pytest.raises(AlreadyExists):
        await backend.mkdir(f"{root}/p/single", parents=False)


async def test_delete_folder_without_recursive(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    await put(backend, f"{root}/full/x.txt", b"1")
    with pytest.raises(DirectoryNotEmpty):
        await backend.delete(f"{root}/full")
    assert await get(backend, f"{root}/full/x.txt") == b"1"
    if backend.features.empty_directories:
        await backend.mkdir(f"{root}/hollow")
        await backend.delete(f"{root}/hollow")
        with pytest.raises(NotFound):
            await backend.stat(f"{root}/hollow")


async def test_recursive_delete_uses_batches_of_1000(moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    gate = asyncio.Semaphore(32)

    async def make(i: int) -> None:
        async with gate:
            await put(backend, f"{root}/heap/{i % 7}/k{i:05d}", b"")

    await asyncio.gather(*(make(i) for i in range(1100)))
    batches = backend.stats.delete_batches
    await backend.delete(f"{root}/heap", recursive=True)
    assert backend.stats.delete_batches - batches == 2
    with pytest.raises(NotFound):
        await backend.stat(f"{root}/heap")


async def test_bucket_lifecycle(server: S3Server) -> None:
    bucket = unique_name("life")
    async with await open_s3(server) as backend:
        await backend.mkdir(f"/{bucket}")
        await backend.mkdir(f"/{bucket}")  # parents=True: existing is fine
        with pytest.raises(AlreadyExists):
            await backend.mkdir(f"/{bucket}", parents=False)
        await put(backend, f"/{bucket}/d/f.txt", b"1")
        with pytest.raises(DirectoryNotEmpty):
            await backend.delete(f"/{bucket}")
        await backend.delete(f"/{bucket}", recursive=True)
        with pytest.raises(NotFound):
            await backend.stat(f"/{bucket}")


async def test_server_side_copy_of_files_and_folders(scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    await put(backend, f"{root}/src/a.txt", b"alpha", metadata={"tag": "1"})
    await put(backend, f"{root}/src/sub/b.txt", b"beta")
    requests: list[str] = []
    backend.client.meta.events.register(
        "before-call.s3.*", lambda model, **_: requests.append(model.name))
    await backend.copy(f"{root}/src/a.txt", f"{root}/copy.txt")
    with pytest.raises(AlreadyExists):
        await backend.copy(f"{root}/src/a.txt", f"{root}/copy.txt")
    await backend.copy(f"{root}/src", f"{root}/dup")
    assert "CopyObject" in requests
    assert not {"GetObject", "PutObject", "UploadPart"} & set(requests), \
        "a server-side copy never moves the data through us"
    assert await get(backend, f"{root}/copy.txt") == b"alpha"
    assert (await backend.stat(f"{root}/copy.txt")).extra["x-amz-meta-tag"] == "1"
    copied = [e.path async for e in backend.list(f"{root}/dup", ListOptions(recursive=True))]
    assert sorted(copied) == [f"{root}/dup/a.txt", f"{root}/dup/sub/b.txt"]
    assert await get(backend, f"{root}/src/sub/b.txt") == b"beta"  # source untouched
    with pytest.raises(InvalidPath):
        await backend.rename(f"{root}/src", f"{root}/src/inside")


async def test_large_copies_use_upload_part_copy(moto_s3: S3Server) -> None:
    async with s3_scratch(moto_s3, {"copy_threshold": "6MiB", "copy_part_size": "5MiB"}
                          ) as (backend, root):
        data = pattern_bytes(12 * MiB + 3)
        await backend.write(f"{root}/big.bin", BytesReader(data), len(data),
                            WriteOptions(content_type="text/x-big", metadata={"m": "1"}))
        await backend.rename(f"{root}/big.bin", f"{root}/moved.bin")
        assert backend.stats.parts_copied == 3
        entry = await backend.stat(f"{root}/moved.bin")
        assert entry.content_type == "text/x-big" and entry.extra["x-amz-meta-m"] == "1"
        assert await get(backend, f"{root}/moved.bin") == data
        with pytest.raises(NotFound):
            await backend.stat(f"{root}/big.bin")


async def test_rclone_refuses_part_copies_clearly(rclone_s3: S3Server) -> None:
    # rclone serve s3 answers UploadPartCopy with an empty result and a 0-byte part:
    # that must fail, never produce a damaged copy.
    async with s3_scratch(rclone_s3, {"copy_threshold": "6MiB", "copy_part_size": "5MiB"}
                          ) as (backend, root):
        data = pattern_bytes(7 * MiB)
        await backend.write(f"{root}/big.bin", BytesReader(data), len(data))
        with pytest.raises(Unsupported):
            await backend.copy(f"{root}/big.bin", f"{root}/copy.bin")
        with pytest.raises(NotFound):
            await backend.stat(f"{root}/copy.bin")
        assert await get(backend, f"{root}/big.bin") == data


async def test_presigned_url_is_fetchable_without_credentials(
        scratch: tuple[S3Backend, str]) -> None:
    backend, root = scratch
    data = b"shared with a link " * 100
    await put(backend, f"{root}/shared file+1.txt", data)
    url = await backend.presign(f"{root}/shared file+1.txt", expires_in=600)
    assert "X-Amz-Signature" in url or "Signature" in url

    def fetch() -> bytes:
        with urllib.request.urlopen(url, timeout=30) as response:
            body: bytes = response.read()
        return body

    assert await asyncio.to_thread(fetch) == data
    with pytest.raises(ValueError):
        await backend.presign(f"{root}/shared file+1.txt", expires_in=8 * 24 * 3600)


async def test_features_follow_the_connection(server: S3Server) -> None:
    async with await open_s3(server) as backend:
        assert backend.features.part_write and backend.features.server_copy
        assert backend.features.presign and not backend.features.real_directories
        assert backend.features.empty_directories is (server.name != "rclone")


async def test_write_memory_stays_bounded_by_the_part_buffers(
        moto: tuple[S3Backend, str]) -> None:
    import tracemalloc

    backend, root = moto
    reader = PatternReader(40 * MiB)
    tracemalloc.start()
    try:
        await backend.write(f"{root}/m.bin", reader, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    parts = backend.settings.part_size * (backend.settings.parallel_operations + 1)
    assert peak < parts + 8 * MiB, f"peak {peak / MiB:.1f} MiB"
    digest = hashlib.sha256(pattern_bytes(40 * MiB)).hexdigest()
    assert await digest_of(backend.read(f"{root}/m.bin")) == (40 * MiB, digest)


async def test_no_credentials_anywhere_is_an_authentication_failure(
        moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    backend = await S3Backend.from_profile(s3_profile_for(moto_s3, access_key=""))
    async with backend:
        with pytest.raises(AuthenticationFailed) as raised:
            await backend.stat("/bucket/key")
    assert "AWS_ACCESS_KEY_ID" in str(raised.value)


async def test_credentials_from_the_environment_chain(
        moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    bucket = unique_name("chain")
    seen: list[dict[str, Any]] = []
    backend = await S3Backend.from_profile(s3_profile_for(moto_s3, access_key=""))
    async with backend:
        backend.client.meta.events.register(
            "before-send.s3.CreateBucket", lambda request, **_: seen.append(dict(request.headers)))
        await backend.mkdir(f"/{bucket}")
        assert (await backend.stat(f"/{bucket}")).is_dir
        await backend.delete(f"/{bucket}")
    assert seen, "the request was sent"
    assert seen[0].get("X-Amz-Security-Token") in (b"a-session-token", "a-session-token")


async def test_resume_leaves_out_stale_parts_past_the_new_end(
        moto: tuple[S3Backend, str]) -> None:
    backend, root = moto
    path = f"{root}/shrunk.bin"
    data = pattern_bytes(8 * MiB)
    first = await backend.open_multipart_session(path, size=15 * MiB)
    await first.upload_part(1, data[: 5 * MiB])
    await first.upload_part(3, b"stale" * 1000)  # from an earlier, longer source
    session = await backend.open_multipart_session(path, size=8 * MiB,
                                                   upload_id=first.upload_id)
    assert session.contiguous() == (1, 5 * MiB)
    assert await backend.upload(path, BytesReader(data[5 * MiB:]), 3 * MiB,
                                session=session) == 8 * MiB
    assert await get(backend, path) == data


async def test_requests_in_one_bucket_share_one_endpoint_resolution(
        moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore caches endpoints by every ruleset parameter, the object key too;
    the rules never read the key, so ten objects must not mean ten evaluations."""
    from botocore.endpoint_provider import RuleSet

    evaluations: list[dict[str, Any]] = []
    evaluate = RuleSet.evaluate

    def counted(self: RuleSet, parameters: dict[str, Any]) -> Any:
        evaluations.append(dict(parameters))
        return evaluate(self, parameters)

    async with s3_scratch(moto_s3) as (backend, root):
        for n in range(10):
            await backend.write(f"{root}/f{n}", PatternReader(100), 100)
        monkeypatch.setattr(RuleSet, "evaluate", counted)
        other = f"/{unique_name('other')}"
        await backend.mkdir(other)
        for n in range(10):
            assert await digest_of(backend.read(f"{root}/f{n}")) == (
                100, hashlib.sha256(pattern_bytes(100)).hexdigest())
            await backend.write(f"{other}/g{n}", PatternReader(10), 10)
        by_bucket = collections.Counter(e.get("Bucket") for e in evaluations)
        assert by_bucket[root.split("/")[1]] == 0  # resolved for the writes: keys differ
        assert 1 <= by_bucket[other[1:]] <= 2  # CreateBucket, then every object
        assert all("Key" not in e for e in evaluations)
        await backend.delete(other, recursive=True)


async def test_the_endpoint_ruleset_is_scanned_once_per_process(
        moto_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each connection has its own botocore loader; the ~9 ms scan of the ruleset for
    unread parameters must not be paid by every one of them."""
    from orbit_gui.engine.backends.s3 import endpoints

    scans: list[frozenset[str]] = []
    scan = endpoints.unread_parameters

    def counted(ruleset: Any) -> frozenset[str]:
        scans.append(scan(ruleset))
        return scans[-1]

    monkeypatch.setattr(endpoints, "_unread_by_file", {})
    monkeypatch.setattr(endpoints, "unread_parameters", counted)
    for _ in range(3):
        backend = await open_s3(moto_s3)
        await backend.aclose()
    assert scans == [frozenset({"Key", "Prefix", "CopySource"})]
