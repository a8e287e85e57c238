"""What the conformance suite cannot say generically about SMB: logging in, ports,
shares, encryption, large streams, long listings, the part API, resumes,
server-side copies and the error mapping.

All against the private Samba smbd of ``smbd_server`` (never on port 445).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from smbprotocol.exceptions import SMBResponseException
from smbprotocol.header import SMB2HeaderResponse
from smbprotocol.open import CreateDisposition

from orbit_gui.engine import (
    AlreadyExists,
    AuthenticationFailed,
    BytesReader,
    ConnectionFailed,
    DirectoryNotEmpty,
    InvalidPath,
    IsADirectory,
    ListOptions,
    NoSpace,
    NotADirectory,
    NotFound,
    PermissionDenied,
    Profile,
    SourceChanged,
    WriteOptions,
    open_backend,
)
from orbit_gui.engine.backends.local import TEMP_PREFIX
from orbit_gui.engine.backends.smb import (
    NTSTATUS,
    ErrorContext,
    SmbBackend,
    decode_name,
    encode_name,
    map_error,
    split_path,
)
from orbit_gui.engine.backends.smb import ops as smb_ops
from tests.contract.streams import PatternReader, digest_of, pattern_bytes
from tests.servers._process import free_port
from tests.servers.info import SmbServer

MiB = 1024 * 1024


# -- helpers -------------------------------------------------------------------------------


def profile(server: SmbServer, *, share: str | None = None, **options: object) -> Profile:
    return Profile(
        name="smb-test", kind="smb", host=server.host, port=server.port, user=server.user,
        root=f"/{share or server.share}", options=dict(options),
    )


@pytest.fixture
async def smb(smbd_server: SmbServer) -> AsyncIterator[SmbBackend]:
    backend = await open_backend(profile(smbd_server), smbd_server.password)
    assert isinstance(backend, SmbBackend)
    async with backend:
        yield backend


@pytest.fixture
def folder(smbd_server: SmbServer) -> Iterator[tuple[str, Path]]:
    """A fresh folder in the plain share: (its SMB path, its local path)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    local = smbd_server.root / name
    local.mkdir()
    yield f"/{smbd_server.share}/{name}", local
    shutil.rmtree(local, ignore_errors=True)


async def get(backend: SmbBackend, path: str, offset: int = 0, length: int | None = None,
              **kwargs: str) -> bytes:
    return b"".join([c async for c in backend.read(path, offset, length, **kwargs)])


# -- connecting ----------------------------------------------------------------------------


async def test_wrong_password_is_authentication_failed(smbd_server: SmbServer) -> None:
    wrong = "not-the-password-" + uuid.uuid4().hex
    with pytest.raises(AuthenticationFailed) as caught:
        await open_backend(profile(smbd_server), wrong)
    message = str(caught.value)
    assert wrong not in message and smbd_server.password not in message
    assert f"{smbd_server.user}@{smbd_server.host}" in message
    assert "rejected the user name or password" in message
    assert not caught.value.retriable


async def test_unreachable_port_is_connection_failed(smbd_server: SmbServer) -> None:
    port = free_port()
    closed = Profile(name="nobody", kind="smb", host="127.0.0.1", port=port, user="u",
                     root="/data", options={"connect_timeout": 5})
    with pytest.raises(ConnectionFailed) as caught:
        await open_backend(closed, "pw")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert caught.value.retriable


async def test_custom_port_is_used_for_listing_stat_and_read(
    smbd_server: SmbServer, smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    assert smbd_server.port != 445
    path, local = folder
    (local / "hello.txt").write_bytes(b"hello over a custom port")
    entries = [e async for e in smb.list(path)]
    assert [e.name for e in entries] == ["hello.txt"]
    entry = await smb.stat(f"{path}/hello.txt")
    assert entry.size == 24 and entry.etag == entries[0].etag
    assert await get(smb, entry.path) == b"hello over a custom port"
    assert smb._client is not None and smb._client.connection.port == smbd_server.port


async def test_backends_have_their_own_sessions(smbd_server: SmbServer,
                                                folder: tuple[str, Path]) -> None:
    path, local = folder
    (local / "x").write_bytes(b"x")
    first = await open_backend(profile(smbd_server), smbd_server.password)
    second = await open_backend(profile(smbd_server), smbd_server.password)
    try:
        await first.aclose()
        assert (await second.stat(f"{path}/x")).size == 1
    finally:
        await second.aclose()
    with pytest.raises(ConnectionFailed):
        await first.stat(f"{path}/x")


async def test_a_lost_connection_is_replaced_on_the_next_call(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    (folder[1] / "still-here").write_bytes(b"yes")
    first = smb._client
    assert first is not None
    await smb._run(first.connection.transport.close)  # the network drops the session
    assert not first.alive
    assert await get(smb, f"{folder[0]}/still-here") == b"yes"
    assert smb._client is not first and smb._client is not None and smb._client.alive


async def test_root_lists_the_shares(smbd_server: SmbServer, smb: SmbBackend) -> None:
    shares = {e.name: e async for e in smb.list("/")}
    assert {smbd_server.share, smbd_server.encrypted_share} <= set(shares)
    assert "IPC$" not in shares
    assert all(e.is_dir and e.path == f"/{e.name}" for e in shares.values())
    assert (await smb.stat("/")).is_dir
    assert (await smb.stat(f"/{smbd_server.share}")).is_dir
    with pytest.raises(NotFound):
        await smb.stat("/no-such-share/file")


# -- encryption ----------------------------------------------------------------------------


async def test_required_encryption_works_on_the_secure_share(smbd_server: SmbServer) -> None:
    backend = await open_backend(
        profile(smbd_server, share=smbd_server.encrypted_share, encrypt="required"),
        smbd_server.password,
    )
    assert isinstance(backend, SmbBackend)
    async with backend:
        path = f"/{smbd_server.encrypted_share}/enc-{uuid.uuid4().hex[:8]}.bin"
        data = pattern_bytes(5 * MiB + 123)
        await backend.write(path, BytesReader(data), len(data))
        assert await get(backend, path) == data
        assert backend._client is not None and backend._client.session.encrypt_data
        await backend.delete(path)


async def test_the_secure_share_is_encrypted_even_when_not_asked(
    smbd_server: SmbServer, smb: SmbBackend
) -> None:
    share = smbd_server.encrypted_share
    assert share in {e.name async for e in smb.list("/")}
    path = f"/{share}/auto-{uuid.uuid4().hex[:8]}.txt"
    await smb.write(path, BytesReader(b"secret"), 6)
    assert await get(smb, path) == b"secret"
    assert smb._client is not None and smb._client.tree(share).encrypt_data
    assert not smb._client.tree(smbd_server.share).encrypt_data
    await smb.delete(path)


async def test_signing_required_round_trip(smbd_server: SmbServer,
                                          folder: tuple[str, Path]) -> None:
    backend = await open_backend(profile(smbd_server, signing="required"), smbd_server.password)
    assert isinstance(backend, SmbBackend)
    async with backend:
        assert backend._client is not None and backend._client.session.signing_required
        data = pattern_bytes(6 * MiB + 7)
        path = f"{folder[0]}/signed.bin"
        await backend.write(path, BytesReader(data), len(data))
        assert await get(backend, path) == data
        assert (folder[1] / "signed.bin").read_bytes() == data


# -- large streams and long listings -------------------------------------------------------


async def test_256_mib_round_trip_in_bounded_memory(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    size = 256 * MiB
    path = f"{folder[0]}/big.bin"
    reader = PatternReader(size)
    tracemalloc.start()
    try:
        assert await smb.write(path, reader, size) == size
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read_size, read_digest = await digest_of(smb.read(path))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read_size == size and read_digest == reader.sha256.hexdigest()
    assert hashlib.sha256((folder[1] / "big.bin").read_bytes()).hexdigest() == read_digest
    assert write_peak < 48 * MiB, f"write peaked at {write_peak / MiB:.1f} MiB"
    assert read_peak < 48 * MiB, f"read peaked at {read_peak / MiB:.1f} MiB"


async def test_stopping_or_cancelling_a_read_leaves_nothing_behind(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    data = pattern_bytes(24 * MiB)
    (folder[1] / "long.bin").write_bytes(data)
    path = f"{folder[0]}/long.bin"
    client = smb._client
    assert client is not None

    stream = smb.read(path)
    assert await anext(stream) == data[: smb.read_chunk]
    await stream.aclose()  # type: ignore[attr-defined]
    assert not client.connection.outstanding_requests
    assert not client.session.open_table

    started = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(smb.read(path)) as chunks:
            async for _ in chunks:
                started.set()
                await asyncio.sleep(0)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not client.connection.outstanding_requests
    assert not client.session.open_table
    assert await get(smb, path, 5 * MiB, 10) == data[5 * MiB : 5 * MiB + 10]


async def test_a_cancelled_write_leaves_nothing_behind(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    halfway = asyncio.Event()
    never = asyncio.Event()

    class Stalls:
        def __init__(self) -> None:
            self.sent = 0

        async def read(self, n: int = -1) -> bytes:
            if self.sent >= 16 * MiB:
                halfway.set()
                await never.wait()
            self.sent += MiB
            return b"z" * MiB

    task = asyncio.create_task(smb.write(f"{folder[0]}/stalled.bin", Stalls(), 64 * MiB))
    await halfway.wait()
    assert next(p.name for p in folder[1].iterdir()).startswith(TEMP_PREFIX)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(folder[1].iterdir()) == []
    client = smb._client
    assert client is not None
    assert not client.connection.outstanding_requests and not client.session.open_table


async def test_listing_20000_entries_streams_lazily(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    path, local = folder
    count = 20_000
    for i in range(count):
        os.close(os.open(local / f"entry-{i:05d}.dat", os.O_CREAT | os.O_WRONLY, 0o644))
    (local / f"{TEMP_PREFIX}hidden").write_bytes(b"partial")
    options = ListOptions(page_size=1000)

    before = smb.stats.list_pages
    listing = smb.list(path, options)
    first = await anext(listing)
    assert first.name.startswith("entry-") and first.size == 0
    assert smb.stats.list_pages - before == 1
    await listing.aclose()  # type: ignore[attr-defined]
    assert smb.stats.list_pages - before == 1

    before = smb.stats.list_pages
    names = [e.name async for e in smb.list(path, options)]
    pages = smb.stats.list_pages - before
    assert len(names) == count and len(set(names)) == count
    assert not any(n.startswith(TEMP_PREFIX) for n in names)
    assert pages >= count // 1000, f"{pages} pages for {count} entries"


async def test_recursive_listing_and_recursive_delete(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    path, local = folder
    for sub in ("a", "a/b", "c"):
        (local / sub).mkdir()
    for i in range(50):
        (local / "a" / "b" / f"f{i}").write_bytes(b"1")
    (local / "c" / "g").write_bytes(b"22")
    found = {e.path async for e in smb.list(path, ListOptions(recursive=True))}
    assert found == {f"{path}/a/b/f{i}" for i in range(50)} | {f"{path}/c/g"}
    with pytest.raises(DirectoryNotEmpty):
        await smb.delete(f"{path}/a")
    await smb.delete(f"{path}/a", recursive=True)
    assert not (local / "a").exists()


# -- the part API --------------------------------------------------------------------------


async def test_parts_out_of_order_then_commit(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    path = f"{folder[0]}/sub/dir/parts.bin"
    part = 3 * MiB + 17
    data = pattern_bytes(5 * part - 1000)
    upload = await smb.open_part_upload(path, len(data))
    seen: list[int] = []
    offsets = list(range(0, len(data), part))
    for start in reversed(offsets):  # last part first
        await upload.write_part(start, data[start : start + part], seen.append)
    assert sum(seen) == len(data)
    with pytest.raises(NotFound):
        await smb.stat(path)
    await upload.commit()
    assert upload.closed
    assert (folder[1] / "sub" / "dir" / "parts.bin").read_bytes() == data
    assert {e.name async for e in smb.list(f"{folder[0]}/sub/dir")} == {"parts.bin"}
    assert not [p for p in (folder[1] / "sub" / "dir").iterdir() if p.name != "parts.bin"]


async def test_parts_in_parallel(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    path = f"{folder[0]}/parallel.bin"
    part = 2 * MiB
    data = pattern_bytes(8 * part)
    upload = await smb.open_part_upload(path, len(data))
    await asyncio.gather(*(upload.write_part(at, data[at : at + part])
                           for at in range(0, len(data), part)))
    await upload.commit()
    assert await get(smb, path) == data


async def test_resume_after_abort_without_discard(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    path = f"{folder[0]}/resumed.bin"
    part = 4 * MiB
    data = pattern_bytes(3 * part)
    first = await smb.open_part_upload(path, len(data))
    await first.write_part(0, data[:part])
    await first.write_part(part, data[part : 2 * part])
    await first.abort(discard=False)
    temp = folder[1] / f"{TEMP_PREFIX}{first.session_id}"
    assert temp.exists()
    assert [e async for e in smb.list(folder[0])] == []  # partial files stay hidden

    # A later session (another connection) picks it up by its session id.
    async with await open_backend(profile_of(smb), smb._password) as again:
        assert isinstance(again, SmbBackend)
        resumed = await again.open_part_upload(path, len(data), session_id=first.session_id,
                                               resume=True)
        assert await resumed.current_size() >= 2 * part
        await resumed.write_part(2 * part, data[2 * part :])
        await resumed.commit()
        assert await get(again, path) == data
    assert not temp.exists()

    with pytest.raises(NotFound):
        await smb.open_part_upload(path, len(data), session_id="gone0123", resume=True)


def profile_of(backend: SmbBackend) -> Profile:
    s = backend.settings
    return Profile(name="again", kind="smb", host=s.host, port=s.port, user=s.user,
                   root=f"/{s.shares[0]}")


async def test_commit_checks_the_size(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    from orbit_gui.engine import IntegrityError

    path = f"{folder[0]}/short.bin"
    upload = await smb.open_part_upload(path, 100)
    await upload.write_part(0, b"x" * 60)
    with pytest.raises(IntegrityError):
        await upload.commit()
    await upload.abort()
    assert list(folder[1].iterdir()) == []


async def test_abort_discards_the_partial_file(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    upload = await smb.open_part_upload(f"{folder[0]}/dropped.bin", 2 * MiB)
    await upload.write_part(0, b"y" * MiB)
    await upload.abort()
    assert list(folder[1].iterdir()) == []


# -- server-side copy, times, names --------------------------------------------------------


async def test_server_side_copy(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    assert smb.features.server_copy
    data = pattern_bytes(40 * MiB + 5)
    (folder[1] / "orig.bin").write_bytes(data)
    tracemalloc.start()
    try:
        copied = await smb.copy(f"{folder[0]}/orig.bin", f"{folder[0]}/copy/dup.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert copied == len(data)
    assert peak < 4 * MiB, "the bytes must stay on the server"
    assert (folder[1] / "copy" / "dup.bin").read_bytes() == data
    with pytest.raises(AlreadyExists):
        await smb.copy(f"{folder[0]}/orig.bin", f"{folder[0]}/copy/dup.bin",
                       WriteOptions(overwrite=False))


async def test_write_sets_the_modification_time(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    assert smb.features.set_mtime
    when = 1_600_000_000.5
    path = f"{folder[0]}/dated.txt"
    await smb.write(path, BytesReader(b"old news"), 8, WriteOptions(mtime=when))
    assert (await smb.stat(path)).mtime == pytest.approx(when, abs=1e-3)
    assert (folder[1] / "dated.txt").stat().st_mtime == pytest.approx(when, abs=1e-3)


async def test_names_smb_forbids_travel_as_private_use_characters(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    name = 'a:b*c?"d<e>f|g.txt'
    await smb.write(f"{folder[0]}/{name}", BytesReader(b"odd"), 3)
    assert [p.name for p in folder[1].iterdir()] == [encode_name(name)]
    assert [e.name async for e in smb.list(folder[0])] == [name]
    assert await get(smb, f"{folder[0]}/{name}") == b"odd"
    assert decode_name(encode_name(name)) == name


async def test_names_are_case_insensitive(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    assert not smb.features.case_sensitive
    await smb.write(f"{folder[0]}/Report.TXT", BytesReader(b"r"), 1)
    assert await get(smb, f"{folder[0]}/report.txt") == b"r"


async def test_if_match_tag_follows_the_file(smb: SmbBackend, folder: tuple[str, Path]) -> None:
    path = f"{folder[0]}/tagged.bin"
    await smb.write(path, BytesReader(b"one"), 3)
    tag = (await smb.stat(path)).etag
    listed = [e async for e in smb.list(folder[0])]
    assert listed[0].etag == tag
    assert await get(smb, path, if_match=tag) == b"one"  # type: ignore[arg-type]
    await smb.write(path, BytesReader(b"two"), 3)  # same size, new file
    with pytest.raises(SourceChanged):
        await get(smb, path, if_match=tag)  # type: ignore[arg-type]


# -- errors ----------------------------------------------------------------------------------


async def test_write_onto_a_folder_is_is_a_directory(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    (folder[1] / "dir").mkdir()
    for overwrite in (True, False):
        with pytest.raises(IsADirectory):
            await smb.write(f"{folder[0]}/dir", BytesReader(b"x"), 1,
                            WriteOptions(overwrite=overwrite))
    assert [p.name for p in folder[1].iterdir()] == ["dir"]


async def test_paths_through_a_file_are_not_a_directory(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    (folder[1] / "file").write_bytes(b"f")
    with pytest.raises((NotADirectory, NotFound)):
        await smb.stat(f"{folder[0]}/file/inside")
    with pytest.raises(NotADirectory):
        [e async for e in smb.list(f"{folder[0]}/file")]


async def test_shares_cannot_be_deleted_or_written(
    smbd_server: SmbServer, smb: SmbBackend
) -> None:
    with pytest.raises(PermissionDenied):
        await smb.delete(f"/{smbd_server.share}", recursive=True)
    with pytest.raises(InvalidPath):
        await smb.write(f"/{smbd_server.share}", BytesReader(b""), 0)
    with pytest.raises(PermissionDenied):
        await smb.mkdir("/brand-new-share")


async def test_a_file_open_elsewhere_without_sharing_is_a_retriable_denial(
    smb: SmbBackend, folder: tuple[str, Path]
) -> None:
    (folder[1] / "locked.bin").write_bytes(b"busy")
    client = smb._client
    assert client is not None
    where = split_path(f"{folder[0]}/locked.bin")
    handle, _ = await smb._run(
        smb_ops.open_handle, client, client.tree(where.share), where.wire,
        access=0x120089, disposition=CreateDisposition.FILE_OPEN, sharing=0,
    )
    try:
        with pytest.raises(PermissionDenied) as caught:
            await get(smb, where.path)
        assert caught.value.retriable and "in use" in str(caught.value)
    finally:
        await smb._run(smb_ops.close_quietly, handle)
    assert await get(smb, where.path) == b"busy"


def _response_error(status: int) -> SMBResponseException:
    header = SMB2HeaderResponse()
    header["status"] = status
    return SMBResponseException(header)


@pytest.mark.parametrize(
    ("status", "kind", "retriable"),
    [
        ("ACCESS_DENIED", PermissionDenied, False),
        ("OBJECT_NAME_NOT_FOUND", NotFound, False),
        ("OBJECT_PATH_NOT_FOUND", NotFound, False),
        ("BAD_NETWORK_NAME", NotFound, False),
        ("OBJECT_NAME_COLLISION", AlreadyExists, False),
        ("SHARING_VIOLATION", PermissionDenied, True),
        ("DISK_FULL", NoSpace, False),
        ("LOGON_FAILURE", AuthenticationFailed, False),
        ("DIRECTORY_NOT_EMPTY", DirectoryNotEmpty, False),
        ("NOT_A_DIRECTORY", NotADirectory, False),
        ("FILE_IS_A_DIRECTORY", IsADirectory, False),
        ("OBJECT_NAME_INVALID", InvalidPath, False),
        ("NETWORK_NAME_DELETED", ConnectionFailed, True),
    ],
)
def test_status_mapping(status: str, kind: type[Exception], retriable: bool) -> None:
    ctx = ErrorContext("files.example", 4455, "alice")
    error = map_error(_response_error(NTSTATUS[status]), ctx, "/data/x")
    assert type(error) is kind
    assert error.retriable is retriable
    assert "files.example" in str(error)


def test_socket_failures_are_retriable_connection_errors() -> None:
    ctx = ErrorContext("files.example", 4455, "alice")
    for exc in (ConnectionResetError(104, "Connection reset by peer"),
                BrokenPipeError(32, "Broken pipe")):
        error = map_error(exc, ctx, "/data/x")
        assert isinstance(error, ConnectionFailed) and error.retriable
        assert "files.example:4455" in str(error)


def test_paths_split_into_share_and_name() -> None:
    where = split_path("/data/dir/file.txt")
    assert (where.share, where.parts, where.wire) == ("data", ("dir", "file.txt"), "dir\\file.txt")
    assert split_path("/").is_root and split_path("/data").is_share
    with pytest.raises(InvalidPath):
        split_path("/data/a\\b")
    with pytest.raises(InvalidPath):
        split_path("relative/path")
