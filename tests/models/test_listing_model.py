"""ListingModel against the real LocalBackend in a temporary folder (and a
generated backend where a listing must stream slowly or fail)."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon
from pytestqt.modeltest import ModelTester

from orbit_gui.engine import ConnectionFailed, Entry
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.models.listing_model import (
    ENTRY_ROLE,
    SORT_ROLE,
    Column,
    ListingModel,
    ListingState,
)

from .fakes import GeneratedBackend
from .qt_waits import listing_model, wait_until

pytestmark = pytest.mark.qt
ROOT = QModelIndex()


def make_files(folder: Path, count: int, *, prefix: str = "file") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}{i:06d}").touch()
    return folder


async def settle(model: ListingModel) -> None:
    """Wait until the listing has finished, failed or paused for more."""
    await wait_until(lambda: model.state in (ListingState.DONE, ListingState.FAILED,
                                             ListingState.PAUSED), model.state_changed)


async def yield_to_loop(times: int = 50) -> None:
    """Let every ready callback run (no timed wait): a late row would show up now."""
    for _ in range(times):
        await asyncio.sleep(0)


def names(model: ListingModel) -> list[str]:
    return [model.index(row, Column.NAME).data() for row in range(model.rowCount())]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    folder = tmp_path / "sample"
    folder.mkdir()
    for name in ("beta", "Alpha", "dir10", "dir9"):
        (folder / name).mkdir()
    for name, size, age in (("img10.jpg", 300, 1), ("img2.jpg", 10, 3), ("Notes.txt", 2000, 2),
                            ("archive.tar.gz", 1_500_000, 4), ("empty", 0, 5)):
        (folder / name).write_bytes(b"x" * size)
        stamp = 1_700_000_000 - age * 86_400
        os.utime(folder / name, (stamp, stamp))
    return folder


async def test_lists_folders_first_in_natural_order(sample: Path,
                                                    qtmodeltester: ModelTester) -> None:
    async with listing_model(LocalBackend()) as model:
        qtmodeltester.check(model)
        model.set_path(str(sample))
        await settle(model)
        assert model.state == ListingState.DONE
        assert names(model) == ["Alpha", "beta", "dir9", "dir10", "archive.tar.gz", "empty",
                                "img2.jpg", "img10.jpg", "Notes.txt"]
        assert model.loaded_count == 9
        qtmodeltester.check(model)


async def test_roles(sample: Path) -> None:
    async with listing_model(LocalBackend()) as model:
        model.set_path(str(sample))
        await settle(model)
        row = names(model).index("archive.tar.gz")
        entry = model.index(row, 0).data(ENTRY_ROLE)
        assert isinstance(entry, Entry) and entry.size == 1_500_000
        assert model.entry(model.index(row, 0)) == entry
        assert model.index(row, Column.SIZE).data() == "1.5 MB"
        assert model.index(row, Column.SIZE).data(SORT_ROLE) == 1_500_000
        assert model.index(row, Column.KIND).data() == "Tar archive"
        tooltip = model.index(row, Column.SIZE).data(Qt.ItemDataRole.ToolTipRole)
        assert "1,500,000 bytes" in tooltip and str(sample / "archive.tar.gz") in tooltip
        assert "2023-11-" in tooltip  # ISO time
        alignment = model.index(row, Column.SIZE).data(Qt.ItemDataRole.TextAlignmentRole)
        assert Qt.AlignmentFlag(alignment) & Qt.AlignmentFlag.AlignRight
        assert model.index(row, Column.MODIFIED).data()
        icon = model.index(row, Column.NAME).data(Qt.ItemDataRole.DecorationRole)
        assert isinstance(icon, QIcon) and not icon.isNull()
        folder = names(model).index("Alpha")
        assert model.index(folder, Column.SIZE).data() == "—"
        assert model.index(folder, Column.KIND).data() == "Folder"
        assert model.headerData(Column.MODIFIED, Qt.Orientation.Horizontal) == "Modified"


async def test_sorts_by_size_modified_and_kind_keeping_folders_first(sample: Path) -> None:
    async with listing_model(LocalBackend()) as model:
        model.set_path(str(sample))
        await settle(model)
        folders = ["Alpha", "beta", "dir9", "dir10"]
        model.sort(Column.SIZE, Qt.SortOrder.AscendingOrder)
        assert names(model) == [*folders, "empty", "img2.jpg", "img10.jpg", "Notes.txt",
                                "archive.tar.gz"]
        model.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
        assert names(model) == [*reversed(folders), "archive.tar.gz", "Notes.txt",
                                "img10.jpg", "img2.jpg", "empty"]
        model.sort(Column.MODIFIED, Qt.SortOrder.AscendingOrder)
        assert names(model)[4:] == ["empty", "archive.tar.gz", "img2.jpg", "Notes.txt",
                                    "img10.jpg"]
        model.sort(Column.KIND, Qt.SortOrder.AscendingOrder)
        kinds = [model.index(row, Column.KIND).data() for row in range(model.rowCount())]
        assert kinds[:4] == ["Folder"] * 4
        assert kinds[4:] == sorted(kinds[4:], key=str.casefold)


async def test_sorting_keeps_the_selection_on_its_entry(sample: Path) -> None:
    async with listing_model(LocalBackend()) as model:
        model.set_path(str(sample))
        await settle(model)
        kept = QPersistentModelIndex(model.index(names(model).index("Notes.txt"), 1))
        model.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
        assert kept.isValid() and kept.column() == 1
        assert model.index(kept.row(), 0).data() == "Notes.txt"


async def test_filter_is_case_insensitive_and_applies_to_later_rows(sample: Path) -> None:
    async with listing_model(LocalBackend()) as model:
        model.set_filter("IMG")
        model.set_path(str(sample))
        await settle(model)
        assert names(model) == ["img2.jpg", "img10.jpg"]
        assert model.loaded_count == 9
        model.set_filter("t")
        assert names(model) == ["beta", "archive.tar.gz", "empty", "Notes.txt"]
        model.set_filter("")
        assert model.rowCount() == 9


async def test_rows_arrive_in_batches_appended_at_the_end(tmp_path: Path,
                                                          qtmodeltester: ModelTester) -> None:
    folder = make_files(tmp_path / "many", 5000)
    async with listing_model(LocalBackend()) as model:
        qtmodeltester.check(model)  # stays attached: checks every insert while streaming
        inserts: list[tuple[int, int]] = []
        model.rowsAboutToBeInserted.connect(
            lambda parent, first, last: inserts.append((first, last)))
        started = time.monotonic()
        model.set_path(str(folder))
        await settle(model)
        elapsed = time.monotonic() - started
        assert model.rowCount() == 5000
        assert sum(last - first + 1 for first, last in inserts) == 5000
        expected_first = 0
        for first, last in inserts:
            assert first == expected_first  # appended, never spliced in
            expected_first = last + 1
        # At most one batch per 100 ms tick, plus the final one when the stream ends.
        assert len(inserts) <= elapsed / 0.1 + 2
        assert len(inserts) < 100


async def test_huge_folder_is_pulled_only_as_far_as_asked(tmp_path: Path) -> None:
    folder = make_files(tmp_path / "huge", 20_000)
    backend = LocalBackend()
    async with listing_model(backend, fetch_size=5000) as model:
        model.set_path(str(folder))
        await settle(model)
        assert model.state == ListingState.PAUSED
        assert model.rowCount() == 5000
        assert model.canFetchMore(ROOT)
        pages = backend.stats.list_pages
        assert pages <= 6  # 1000 entries a page
        await yield_to_loop()
        assert backend.stats.list_pages == pages
        assert model.rowCount() == 5000

        model.fetchMore(ROOT)
        assert not model.canFetchMore(ROOT)
        assert model.state == ListingState.LISTING
        await settle(model)
        assert model.rowCount() == 10_000
        assert backend.stats.list_pages <= 11

        while model.canFetchMore(ROOT):
            model.fetchMore(ROOT)
            await settle(model)
        assert model.state == ListingState.DONE
        assert model.rowCount() == 20_000
        assert names(model)[:3] == ["file000000", "file000001", "file000002"]


async def test_navigating_away_closes_the_listing_and_drops_its_rows() -> None:
    backend = GeneratedBackend({"big": 100_000, "small": 3}, page_size=100, hold_after=5)
    async with listing_model(backend, batch_interval_ms=10) as model:
        model.set_path("/big")
        await wait_until(lambda: model.rowCount() == 500, model.rowsInserted)
        await backend.holding.wait()  # the next page is "in flight"
        assert model.state == ListingState.LISTING
        model.set_path("/small")
        assert model.rowCount() == 0
        backend.hold_after = None
        backend.release.set()
        await settle(model)
        await yield_to_loop()
        assert backend.closed == ["/big", "/small"]
        assert names(model) == ["f0", "f1", "f2"]
        assert all(model.entry(model.index(r, 0)).path.startswith("/small/")
                   for r in range(model.rowCount()))
        assert backend.stats.list_pages == 5 + 1  # nothing more of /big after leaving it
        assert model.path == "/small"


async def test_paused_listing_is_closed_on_navigation(tmp_path: Path) -> None:
    big = make_files(tmp_path / "big", 6000)
    small = make_files(tmp_path / "small", 2)
    backend = LocalBackend()
    async with listing_model(backend, fetch_size=1000) as model:
        model.set_path(str(big))
        await settle(model)
        assert model.state == ListingState.PAUSED
        pages = backend.stats.list_pages
        model.set_path(str(small))
        await settle(model)
        await yield_to_loop()
        assert backend.stats.list_pages == pages + 1
        assert names(model) == ["file000000", "file000001"]


@pytest.mark.parametrize(("make", "sentence"), [
    (lambda tmp: tmp / "missing", "{path} does not exist."),
    (lambda tmp: (tmp / "plain.txt", (tmp / "plain.txt").write_text("x"))[0],
     "{path} is not a folder."),
])
async def test_errors_are_reported_as_a_sentence(tmp_path: Path, make: Any,
                                                 sentence: str) -> None:
    path = str(make(tmp_path))
    async with listing_model(LocalBackend()) as model:
        failures: list[tuple[str, str]] = []
        model.listing_failed.connect(lambda p, message: failures.append((p, message)))
        model.set_path(path)
        await settle(model)
        assert model.state == ListingState.FAILED
        assert failures == [(path, sentence.format(path=path))]
        assert model.error == sentence.format(path=path)
        assert model.rowCount() == 0


async def test_error_mid_stream_keeps_rows_and_says_what_to_do() -> None:
    backend = GeneratedBackend({"flaky": 1000}, page_size=100, fail_after=3,
                               error=ConnectionFailed("server.example: connection reset"))
    async with listing_model(backend) as model:
        model.set_path("/flaky")
        await settle(model)
        assert model.state == ListingState.FAILED
        assert model.rowCount() == 300
        assert model.error == ("Could not list /flaky: server.example: connection reset. "
                               "Try again in a moment.")
        backend.fail_after = None
        model.refresh()
        await settle(model)
        assert model.state == ListingState.DONE
        assert model.rowCount() == 1000


async def test_unexpected_exception_is_reported_not_lost() -> None:
    backend = GeneratedBackend({"buggy": 500}, fail_after=1, error=RuntimeError("boom"))
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        async with listing_model(backend) as model:
            model.set_path("/buggy")
            await settle(model)
    finally:
        loop.set_exception_handler(None)
    assert model.state == ListingState.FAILED
    assert "internal error (RuntimeError)" in model.error
    assert [str(c["exception"]) for c in reported] == ["boom"]


async def test_rows_cost_full_garbage_collections_nothing(tmp_path: Path) -> None:
    # A full collection walks every object the collector tracks, with the app
    # frozen meanwhile: a million tracked rows froze it for ~0.5 s each time.
    count = 20_000
    folder = make_files(tmp_path / "many", count)
    (folder / "sub").mkdir()
    async with listing_model(LocalBackend(), fetch_size=2 * count) as model:
        gc.collect()
        tracked_before = len(gc.get_objects())
        model.set_path(str(folder))
        await settle(model)
        assert model.rowCount() == count + 1
        gc.collect()
        assert len(gc.get_objects()) - tracked_before < count // 20
        # What the rows hold is still all there for the views.
        entry = model.index(0, Column.NAME).data(ENTRY_ROLE)
        assert (entry.name, entry.path, entry.is_dir) == ("sub", str(folder / "sub"), True)
        assert entry.extra["mode"].startswith("d")
        assert model.entry(model.index(count, 0)).name == f"file{count - 1:06d}"


async def test_refresh_lists_again(sample: Path) -> None:
    async with listing_model(LocalBackend()) as model:
        model.set_path(str(sample))
        await settle(model)
        (sample / "new.txt").write_text("hello")
        started: list[str] = []
        model.listing_started.connect(started.append)
        model.refresh()
        await settle(model)
        assert started == [str(sample)]
        assert "new.txt" in names(model)
