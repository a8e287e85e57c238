"""One conformance suite that every backend must pass (in the spirit of rclone's fstests)."""

from __future__ import annotations

import asyncio
import tracemalloc
import unicodedata

import pytest

from orbit_gui.engine import (
    AlreadyExists,
    BytesReader,
    DirectoryNotEmpty,
    IsADirectory,
    IteratorReader,
    ListOptions,
    NotFound,
    SourceChanged,
    WriteOptions,
)

from .cases import Target
from .streams import PatternReader, digest_of, pattern_bytes

MiB = 1024 * 1024


async def put(target: Target, name: str, data: bytes, **options: object) -> str:
    path = target.path(name)
    written = await target.backend.write(
        path, BytesReader(data), len(data), WriteOptions(**options)  # type: ignore[arg-type]
    )
    assert written == len(data)
    return path


async def get(target: Target, path: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in target.backend.read(path, offset, length)])


async def names(target: Target, folder: str | None = None) -> set[str]:
    return {e.name async for e in target.backend.list(folder or target.root)}


# -- missing paths -------------------------------------------------------------------------


async def test_stat_of_missing_path_is_not_found(target: Target) -> None:
    with pytest.raises(NotFound):
        await target.backend.stat(target.path("nope.txt"))


async def test_list_of_missing_folder_is_not_found(target: Target) -> None:
    with pytest.raises(NotFound):
        [e async for e in target.backend.list(target.path("no-such-folder"))]


async def test_read_of_missing_file_is_not_found(target: Target) -> None:
    with pytest.raises(NotFound):
        await get(target, target.path("nope.bin"))


async def test_delete_of_missing_path_is_not_found(target: Target) -> None:
    with pytest.raises(NotFound):
        await target.backend.delete(target.path("nope.bin"))


# -- listing -------------------------------------------------------------------------------


async def test_list_of_empty_folder_is_empty(target: Target) -> None:
    if not target.backend.features.empty_directories:
        pytest.skip("this store cannot hold empty folders")
    folder = target.path("empty")
    await target.backend.mkdir(folder)
    assert [e async for e in target.backend.list(folder)] == []


async def test_list_shows_files_and_folders_with_sizes(target: Target) -> None:
    await put(target, "a.txt", b"12345")
    await put(target, "sub/b.txt", b"x")
    entries = {e.name: e async for e in target.backend.list(target.root)}
    assert set(entries) == {"a.txt", "sub"}
    assert entries["a.txt"].size == 5 and not entries["a.txt"].is_dir
    assert entries["a.txt"].path == target.path("a.txt")
    assert entries["sub"].is_dir


async def test_recursive_list_yields_every_file_with_full_path(target: Target) -> None:
    for path in ("top.txt", "d1/one.txt", "d1/d2/two.txt"):
        await put(target, path, b"data")
    found = {e.path async for e in target.backend.list(target.root, ListOptions(recursive=True))
             if not e.is_dir}
    assert found == {target.path(p) for p in ("top.txt", "d1/one.txt", "d1/d2/two.txt")}


async def test_list_is_lazy_and_pages_on_demand(target: Target) -> None:
    folder = target.path("many")
    count = 2500
    gate = asyncio.Semaphore(16)

    async def make(i: int) -> None:
        async with gate:
            await put(target, f"many/f{i:05d}", b"")

    await asyncio.gather(*(make(i) for i in range(count)))
    backend = target.backend
    options = ListOptions(page_size=1000)

    before = backend.stats.list_pages
    listing = backend.list(folder, options)
    first = await anext(listing)
    assert first.name.startswith("f")
    assert backend.stats.list_pages - before <= 1, "the first entry must need one page at most"
    await listing.aclose()  # type: ignore[attr-defined]
    assert backend.stats.list_pages - before <= 1, "closing early must fetch nothing more"

    before = backend.stats.list_pages
    seen = [e.name async for e in backend.list(folder, options)]
    assert len(seen) == count and len(set(seen)) == count
    assert backend.stats.list_pages - before >= 3


# -- reading and writing -------------------------------------------------------------------


@pytest.mark.parametrize("hint", ["exact", "none"])
async def test_write_with_and_without_size_hint(target: Target, hint: str) -> None:
    data = pattern_bytes(300_000)
    path = target.path("hinted.bin")
    size_hint = len(data) if hint == "exact" else None
    written = await target.backend.write(path, BytesReader(data), size_hint)
    assert written == len(data)
    assert (await target.backend.stat(path)).size == len(data)
    assert await get(target, path) == data


async def test_write_from_a_chunk_stream(target: Target) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(10):
            yield bytes([i]) * 10_000

    path = target.path("streamed.bin")
    written = await target.backend.write(path, IteratorReader(chunks()), None)
    assert written == 100_000
    assert await get(target, path) == b"".join(bytes([i]) * 10_000 for i in range(10))


async def test_zero_length_file(target: Target) -> None:
    path = await put(target, "empty.bin", b"")
    entry = await target.backend.stat(path)
    assert entry.size == 0 and not entry.is_dir
    assert await get(target, path) == b""
    assert "empty.bin" in await names(target)


async def test_large_write_and_read_stream_in_bounded_memory(target: Target) -> None:
    size = 64 * MiB
    path = target.path("large.bin")
    reader = PatternReader(size)
    tracemalloc.start()
    try:
        written = await target.backend.write(path, reader, size)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read_size, read_digest = await digest_of(target.backend.read(path))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == size == read_size
    assert read_digest == reader.sha256.hexdigest()
    assert write_peak < 32 * MiB, f"write peaked at {write_peak / MiB:.1f} MiB"
    assert read_peak < 32 * MiB, f"read peaked at {read_peak / MiB:.1f} MiB"


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (0, 10, slice(0, 10)),
        (1000, 5000, slice(1000, 6000)),
        (99_990, None, slice(99_990, 100_000)),
        (99_990, 50, slice(99_990, 100_000)),
        (100_000, None, slice(0, 0)),
        (150_000, 10, slice(0, 0)),
        (500, 0, slice(0, 0)),
    ],
    ids=["start", "middle", "end", "across-end", "at-end", "past-end", "zero-length"],
)
async def test_ranged_reads(
    target: Target, offset: int, length: int | None, expected: slice
) -> None:
    if not target.backend.features.ranged_read:
        pytest.skip("this store cannot read ranges")
    data = pattern_bytes(100_000)
    path = await put(target, "ranged.bin", data)
    assert await get(target, path, offset, length) == data[expected]


async def test_read_if_match_refuses_a_changed_file(target: Target) -> None:
    path = await put(target, "versioned.bin", b"first version")
    tag = (await target.backend.stat(path)).etag
    assert tag, "files must carry a version tag (ETag) so resumes can detect changes"
    assert await get_if_match(target, path, tag) == b"version"
    await put(target, "versioned.bin", b"second version, longer")
    with pytest.raises(SourceChanged):
        await get_if_match(target, path, tag)


async def get_if_match(target: Target, path: str, tag: str) -> bytes:
    return b"".join([c async for c in target.backend.read(path, 6, None, if_match=tag)])


async def test_overwrite_replaces_by_default(target: Target) -> None:
    path = await put(target, "f.txt", b"old contents")
    await put(target, "f.txt", b"new")
    assert await get(target, path) == b"new"
    assert (await target.backend.stat(path)).size == 3


async def test_overwrite_off_refuses_and_keeps_the_original(target: Target) -> None:
    path = await put(target, "f.txt", b"original")
    with pytest.raises(AlreadyExists):
        await put(target, "f.txt", b"intruder", overwrite=False)
    assert await get(target, path) == b"original"


async def test_failed_write_leaves_nothing_behind(target: Target) -> None:
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        async def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise ConnectionResetError("source went away")
            return b"x" * min(n if n > 0 else 65536, 65536)

    path = target.path("broken.bin")
    with pytest.raises(ConnectionResetError):
        await target.backend.write(path, Broken(), 10 * MiB)
    with pytest.raises(NotFound):
        await target.backend.stat(path)
    assert await names(target) == set()


async def test_file_being_written_is_not_visible_under_its_final_name(target: Target) -> None:
    release = asyncio.Event()
    half_way = asyncio.Event()

    class Slow:
        def __init__(self) -> None:
            self.sent = 0

        async def read(self, n: int = -1) -> bytes:
            if self.sent >= 2 * MiB:
                half_way.set()
                await release.wait()
            if self.sent >= 4 * MiB:
                return b""
            chunk = b"y" * min(n if n > 0 else 65536, 65536, 4 * MiB - self.sent)
            self.sent += len(chunk)
            return chunk

    path = target.path("growing.bin")
    writing = asyncio.create_task(target.backend.write(path, Slow(), 4 * MiB))
    await asyncio.wait_for(half_way.wait(), 60)
    with pytest.raises(NotFound):
        await target.backend.stat(path)
    assert "growing.bin" not in await names(target)
    release.set()
    assert await writing == 4 * MiB
    assert (await target.backend.stat(path)).size == 4 * MiB


# -- folders, deletion, renames ------------------------------------------------------------


async def test_mkdir_with_parents_and_stat_of_folder(target: Target) -> None:
    if not target.backend.features.empty_directories:
        pytest.skip("this store cannot hold empty folders")
    folder = target.path("a", "b", "c")
    await target.backend.mkdir(folder, parents=True)
    await target.backend.mkdir(folder, parents=True)  # existing folder: fine
    entry = await target.backend.stat(target.path("a", "b"))
    assert entry.is_dir
    assert await names(target, target.path("a", "b")) == {"c"}


async def test_mkdir_over_a_file_fails(target: Target) -> None:
    path = await put(target, "plain", b"file")
    with pytest.raises(AlreadyExists):
        await target.backend.mkdir(path)


async def test_delete_file(target: Target) -> None:
    path = await put(target, "gone.txt", b"bye")
    await target.backend.delete(path)
    with pytest.raises(NotFound):
        await target.backend.stat(path)


async def test_delete_folder_needs_recursive_when_not_empty(target: Target) -> None:
    await put(target, "tree/x/y.txt", b"1")
    await put(target, "tree/z.txt", b"2")
    folder = target.path("tree")
    if target.backend.features.real_directories:
        with pytest.raises(DirectoryNotEmpty):
            await target.backend.delete(folder)
        assert (await target.backend.stat(folder)).is_dir
    await target.backend.delete(folder, recursive=True)
    with pytest.raises(NotFound):
        await target.backend.stat(folder)
    assert await names(target) == set()


async def test_rename_file(target: Target) -> None:
    src = await put(target, "before.txt", b"content")
    dst = target.path("after.txt")
    await target.backend.rename(src, dst)
    assert await get(target, dst) == b"content"
    with pytest.raises(NotFound):
        await target.backend.stat(src)


async def test_rename_folder(target: Target) -> None:
    await put(target, "old/inner.txt", b"in")
    await target.backend.rename(target.path("old"), target.path("new"))
    assert await get(target, target.path("new", "inner.txt")) == b"in"
    assert await names(target) == {"new"}


async def test_rename_onto_existing_refuses(target: Target) -> None:
    src = await put(target, "one.txt", b"1")
    dst = await put(target, "two.txt", b"2")
    with pytest.raises(AlreadyExists):
        await target.backend.rename(src, dst)
    assert await get(target, dst) == b"2"
    assert await get(target, src) == b"1"


async def test_rename_missing_is_not_found(target: Target) -> None:
    with pytest.raises(NotFound):
        await target.backend.rename(target.path("ghost"), target.path("other"))


async def test_read_of_a_folder_fails_clearly(target: Target) -> None:
    await target.backend.mkdir(target.path("dir"))
    await put(target, "dir/inside.txt", b"1")
    with pytest.raises((IsADirectory, NotFound)):
        await get(target, target.path("dir"))


# -- names ---------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "spaces": "a file  with spaces .txt",
    "hash": "report #1.txt",
    "percent": "100% done %20.txt",
    "question": "why?.txt",
    "plus": "a+b=c.txt",
    "ampersand": "tom & jerry's (copy) [1].txt",
    "emoji": "rocket 🚀 launch.txt",
    "cjk": "日本語のファイル.txt",
    "rtl": "שלום עולם.txt",
    "leading-dash": "-rf.txt",
    "dotfile": ".hidden",
    "long-200-bytes": "n" * 196 + ".txt",
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
async def test_awkward_names_round_trip(target: Target, name: str) -> None:
    path = await put(target, name, name.encode())
    entry = await target.backend.stat(path)
    assert entry.name == name
    assert await names(target) == {name}
    assert await get(target, path) == name.encode()
    await target.backend.delete(path)
    assert await names(target) == set()


async def test_nfc_and_nfd_names_are_kept_apart(target: Target) -> None:
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    assert nfc != nfd
    await put(target, nfc, b"composed")
    if target.backend.features.unicode_normalizing:
        assert await get(target, target.path(nfd)) == b"composed"
        return
    await put(target, nfd, b"decomposed")
    assert await names(target) == {nfc, nfd}
    assert await get(target, target.path(nfc)) == b"composed"
    assert await get(target, target.path(nfd)) == b"decomposed"
