"""The pure helpers behind sizes, counts, times, status lines and sort order."""

from __future__ import annotations

from datetime import datetime

import pytest

from orbit_gui.engine import Entry
from orbit_gui.models.formatting import (
    exact_bytes,
    human_count,
    human_size,
    iso_time,
    listing_status,
)
from orbit_gui.models.sorting import natural_key, sort_entries


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (1, "1 B"), (999, "999 B"), (1000, "1.0 kB"), (1049, "1.0 kB"),
    (4_100_000, "4.1 MB"), (99_949, "99.9 kB"), (99_950, "100 kB"), (120_400_000, "120 MB"),
    (999_499, "999 kB"), (999_960, "1.0 MB"), (12_345_678_901, "12.3 GB"),
    (3 * 10**15, "3.0 PB"), (5 * 10**21, "5000 EB"),
])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_counts_and_exact_bytes() -> None:
    assert human_count(0) == "0"
    assert human_count(1_204) == "1,204"
    assert human_count(12_345_678) == "12,345,678"
    assert exact_bytes(1) == "1 byte"
    assert exact_bytes(0) == "0 bytes"
    assert exact_bytes(4_123_456) == "4,123,456 bytes"


def test_iso_time_is_local_with_offset() -> None:
    text = iso_time(1_700_000_000.7)
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None
    assert parsed.timestamp() == 1_700_000_000
    assert "T" in text and "." not in text


@pytest.mark.parametrize(("shown", "loaded", "listing", "more", "text"), [
    (1204, 1204, False, False, "1,204 entries"),
    (1, 1, False, False, "1 entry"),
    (0, 0, False, False, "0 entries"),
    (12_345, 12_345, True, False, "12,345 entries, still listing…"),
    (5000, 5000, False, True, "5,000 entries so far, more as you scroll"),
    (3, 1204, False, False, "3 of 1,204 entries match the filter"),
    (3, 500, True, False, "3 of 500 entries match the filter, still listing…"),
])
def test_listing_status(shown: int, loaded: int, listing: bool, more: bool, text: str) -> None:
    assert listing_status(shown, loaded, listing=listing, more=more) == text


def test_natural_key_orders_numbers_by_value_ignoring_case() -> None:
    names = ["img10.jpg", "IMG2.jpg", "img1.jpg", "img002b", "a", "B", "10", "9", "x100y2",
             "x100y10", "x99"]
    assert sorted(names, key=natural_key) == ["9", "10", "a", "B", "img1.jpg", "IMG2.jpg",
                                              "img002b", "img10.jpg", "x99", "x100y2",
                                              "x100y10"]
    assert natural_key("File007") == natural_key("file7")


def test_sort_entries_keeps_folders_first_both_ways() -> None:
    entries = [Entry("b", "/b", False, size=1), Entry("Z", "/Z", True),
               Entry("a", "/a", False, size=5), Entry("c", "/c", True),
               Entry("d", "/d", False, size=1)]
    by_name = [e.name for e in sort_entries(entries)]
    assert by_name == ["c", "Z", "a", "b", "d"]
    by_name_desc = [e.name for e in sort_entries(entries, descending=True)]
    assert by_name_desc == ["Z", "c", "d", "b", "a"]

    def size(entry: Entry) -> int:
        return entry.size or 0

    assert [e.name for e in sort_entries(entries, size)] == ["c", "Z", "b", "d", "a"]
    assert [e.name for e in sort_entries(entries, size, descending=True)] == [
        "Z", "c", "a", "d", "b"]
