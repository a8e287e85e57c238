"""A big folder is sorted in bounded steps across turns of the event loop, and the
result is the same order, selection and current row as a sort at once."""

from __future__ import annotations

import asyncio
import gc
import random
from array import array
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from pytestqt.modeltest import ModelTester

from orbit_gui.engine import Entry, ListOptions
from orbit_gui.models.listing_model import Column, ListingModel, ListingState
from orbit_gui.models.sorting import natural_key, order_steps, run_steps, sort_entries, sort_steps

from .fakes import GeneratedBackend
from .qt_waits import listing_model, wait_until

ROOT = QModelIndex()


def shuffled_entries(count: int, seed: int = 7) -> list[Entry]:
    rnd = random.Random(seed)
    numbers = list(range(count))
    rnd.shuffle(numbers)
    return [Entry(name=f"{'Dir' if n % 9 == 0 else 'file'}{n}{rnd.choice(['', '.txt', 'A', 'a'])}",
                  path=f"/big/{n}", is_dir=n % 9 == 0, size=rnd.randrange(50)) for n in numbers]


class ShuffledBackend(GeneratedBackend):
    """``/big`` holds the given entries, listed in their (shuffled) order, in pages."""

    def __init__(self, entries: list[Entry], page_size: int = 250) -> None:
        super().__init__({"big": len(entries)}, page_size=page_size)
        self.entries = entries

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        for start in range(0, len(self.entries), self.page_size):
            await asyncio.sleep(0)
            self.stats.list_pages += 1
            for entry in self.entries[start:start + self.page_size]:
                yield entry


def walked(obj: object) -> list[object]:
    """What the cycle collector visits in ``obj`` (its type aside)."""
    return [o for o in gc.get_referents(obj) if not isinstance(o, type)]


def counting(key: Callable[[int], Any]) -> tuple[Callable[[int], Any], list[int]]:
    calls = [0]

    def counted(item: int) -> Any:
        calls[0] += 1
        return key(item)
    return counted, calls


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("step", [2, 5, 64, 1000])
def test_sort_steps_is_sorted_stable_and_bounded(step: int, descending: bool) -> None:
    rnd = random.Random(step)
    keys = [rnd.randrange(300) for _ in range(3000)]  # many equal keys: stability shows
    key, calls = counting(keys.__getitem__)
    steps = sort_steps(list(range(len(keys))), key, descending=descending, step=step)
    work: list[int] = []
    while True:
        before = calls[0]
        try:
            next(steps)
        except StopIteration as done:
            result = done.value
            break
        work.append(calls[0] - before)
    assert list(result) == sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
    assert not walked(result)  # machine integers: nothing for the collector to walk
    # Key calls measure the work of a step: a sorted() of a piece, or a bisect.
    assert max(work) <= 2 * max(step, 2) + 64
    if step < 1000:
        assert len(work) >= len(keys) // step


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("by_size", [False, True])
def test_order_steps_matches_sort_entries(descending: bool, by_size: bool) -> None:
    entries = shuffled_entries(5000)
    key = (lambda e: e.size) if by_size else None
    want = sort_entries(entries, key, descending=descending)
    for step in (3, 97, 10_000):
        got = run_steps(order_steps(entries, key, descending=descending, step=step))
        assert [entries[p] for p in got] == want
        assert not walked(got)
    steps: Generator[None, None, array[int]] = order_steps(entries, key, step=100)
    assert sum(1 for _ in steps) > 50  # in pieces


def names(model: ListingModel) -> list[str]:
    return [model.index(row, Column.NAME).data() for row in range(model.rowCount())]


def expected(entries: list[Entry], key: Callable[[Entry], Any] | None = None,
             descending: bool = False, text: str = "") -> list[str]:
    ordered = sort_entries(entries, key, descending=descending, name_key=natural_key)
    return [e.name for e in ordered if text in e.name.casefold()]


async def settle(model: ListingModel) -> None:
    await wait_until(lambda: model.state in (ListingState.DONE, ListingState.FAILED,
                                             ListingState.PAUSED), model.state_changed)


@pytest.mark.qt
async def test_streamed_folder_is_sorted_in_steps_keeping_selection(
        qtmodeltester: ModelTester) -> None:
    entries = shuffled_entries(3000)
    backend = ShuffledBackend(entries)
    async with listing_model(backend, batch_interval_ms=10, sort_step=100) as model:
        qtmodeltester.check(model)
        turns = [0]

        async def ticker() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        ticking = asyncio.get_running_loop().create_task(ticker())
        marks: dict[str, int] = {}
        kept: list[QPersistentModelIndex] = []

        def inserted(*_: object) -> None:
            marks["last insert"] = turns[0]
            if not kept and model.rowCount() >= 1000:
                # The user picks a row while the listing still streams.
                kept.append(QPersistentModelIndex(model.index(500, Column.SIZE)))

        model.rowsInserted.connect(inserted)
        model.layoutChanged.connect(lambda *_: marks.setdefault("sorted", turns[0]))
        model.set_path("/big")
        await settle(model)
        ticking.cancel()
        assert model.state is ListingState.DONE
        assert names(model) == expected(entries)
        # Sorting 3000 rows 100 at a time took many turns of the loop after the
        # last rows came in, not one long step.
        assert marks["sorted"] - marks["last insert"] >= 3000 // 100
        assert kept[0].isValid() and kept[0].column() == Column.SIZE
        picked = model.entry(model.index(kept[0].row(), 0))
        assert picked == next(e for e in entries if e.name == picked.name)

        # The user sorts by size, descending: in steps again, selection kept.
        name = picked.name
        before = names(model)
        model.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
        assert names(model) == before  # nothing moved yet: the sort is under way
        await wait_until(lambda: names(model) == expected(entries, lambda e: e.size, True),
                         model.layoutChanged)
        assert model.index(kept[0].row(), 0).data() == name
        qtmodeltester.check(model)


@pytest.mark.qt
async def test_filter_and_sort_changes_while_sorting_in_steps() -> None:
    entries = shuffled_entries(2000, seed=3)
    async with listing_model(ShuffledBackend(entries), batch_interval_ms=10,
                             sort_step=50) as model:
        model.set_filter("a")
        model.set_path("/big")
        await wait_until(lambda: model.loaded_count == len(entries), model.rowsInserted,
                         model.state_changed)
        # Every row is in; the final sort is under way: change the order and the
        # filter under it, and pick a row.
        assert model.state.value == "listing"
        model.sort(Column.NAME, Qt.SortOrder.DescendingOrder)
        model.set_filter("1")
        kept = QPersistentModelIndex(model.index(7, 0))
        name = kept.data()
        await settle(model)
        assert model.state is ListingState.DONE
        assert names(model) == expected(entries, None, True, "1")
        assert kept.isValid() and kept.data() == name
        assert not model.canFetchMore(ROOT)


@pytest.mark.qt
async def test_final_order_lands_in_long_lived_lists() -> None:
    """Applying the sorted order makes no fresh list of all rows: a young garbage
    collection walks every item of such a list, and with a million rows (in sorted
    order, scattered in memory) the first collection after the sort froze the
    window 70-200 ms. The sorted rows go into lists the model already held."""
    step = 100
    entries = shuffled_entries(3000, seed=11)
    gc.disable()  # only the collections below: whatever the sort makes stays young
    try:
        async with listing_model(ShuffledBackend(entries), batch_interval_ms=10,
                                 sort_step=step) as model:
            model.set_path("/big")
            gc.collect()  # what exists now is old, the model's lists included
            await settle(model)
            assert model.state is ListingState.DONE
            assert names(model) == expected(entries)
            young = [o for o in gc.get_objects(0) + gc.get_objects(1) if type(o) is list]
            assert max(map(len, young), default=0) <= 2 * step
            # Sorting again (another column) reuses the lists the last sort freed.
            model.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
            await wait_until(lambda: names(model) == expected(entries, lambda e: e.size, True),
                             model.layoutChanged)
            young = [o for o in gc.get_objects(0) + gc.get_objects(1) if type(o) is list]
            assert max(map(len, young), default=0) <= 2 * step
    finally:
        gc.enable()
