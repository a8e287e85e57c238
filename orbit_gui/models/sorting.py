"""Sort order of folder entries: folders first, names in natural order.

:func:`sort_entries` sorts at once; :func:`order_steps` computes the same order
in steps of bounded work, so a million rows sort without freezing the window.

The steps keep positions in arrays of machine integers, never in lists of int
objects: a list is a container Python's cycle collector walks, item by item,
in every collection of its generation, and a young collection during a sort
walked a million positions in scattered memory (~190 ms, a frozen window). An
array is invisible to the collector and needs no int object per position.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Generator, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Any, TypeVar, cast

from ..engine import Entry

__all__ = ["SORT_STEP", "natural_key", "order_steps", "run_steps", "sort_entries",
           "sort_steps"]

SORT_STEP = 10_000
"""Items one step of :func:`sort_steps` handles at most (well under 100 ms of CPU)."""

_T = TypeVar("_T")

_DIGITS = re.compile(r"\d+")


def _number(match: re.Match[str]) -> str:
    digits = match.group().lstrip("0") or "0"
    return f"{len(digits):02d}{digits}"


def natural_key(name: str) -> str:
    """Case-insensitive key where digit runs compare as numbers ("img2" < "img10").

    Each digit run becomes its length (two digits) followed by the digits, so
    plain string comparison, much faster than comparing tuples, orders the
    runs as numbers.
    """
    return _DIGITS.sub(_number, name.casefold())


def sort_entries(entries: list[Entry], key: Callable[[Entry], Any] | None = None, *,
                 descending: bool = False,
                 name_key: Callable[[str], str] = natural_key) -> list[Entry]:
    """Return ``entries`` ordered by ``key`` (None: by name), ties by natural name.

    Folders stay above files in both directions, as in every file manager.
    ``name_key`` may be a memo of :func:`natural_key`. Two stable sorts on
    simple keys beat one sort on tuples by a wide margin.
    """
    ordered = sorted(entries, key=lambda e: name_key(e.name), reverse=descending)
    if key is not None:
        ordered.sort(key=key, reverse=descending)
    return [e for e in ordered if e.is_dir] + [e for e in ordered if not e.is_dir]


def sort_steps(items: Sequence[int], key: Callable[[int], Any], *, descending: bool = False,
               step: int = SORT_STEP) -> Generator[None, None, array[int]]:
    """Sort ``items`` by ``key`` a bounded piece at a time; the sorted items (an
    ``array("q")``) are the generator's return value (``yield from``).

    Each ``next()`` does at most about ``step`` items' work, so a caller can let
    its event loop turn between pieces. Stable like :func:`sorted`,
    ``reverse=descending`` included: equal keys keep their order in ``items``.

    A sample sort: pivots from a sample split the items into buckets of about
    ``step / 2``, each sorted in one piece (a bucket that comes out too big, as
    with many equal keys, is merge-sorted in pieces instead).
    """
    step = max(2, step)
    # Descending and stable: sort the reversed input ascending, then reverse it back.
    work = items[::-1] if descending else items
    if len(work) <= step:
        result = array("q", sorted(work, key=key))
    else:
        result = yield from _sample_sort_steps(work, key, step)
    if descending:
        result.reverse()
    return result


def _sample_sort_steps(work: Sequence[int], key: Callable[[int], Any], step: int
                       ) -> Generator[None, None, array[int]]:
    count = len(work)
    buckets = -(-2 * count // step)
    # A sample of up to 16 keys a bucket, and never more than one step's worth.
    sample = sorted(map(key, work[::max(1, count // min(16 * buckets, step))]))
    pivots = [sample[k * len(sample) // buckets] for k in range(1, buckets)]
    parts = [array("q") for _ in range(len(pivots) + 1)]
    appends = [part.append for part in parts]
    for start in range(0, count, step):
        chunk = work[start:start + step]
        # Equal keys go to one bucket, in input order: the sort stays stable.
        for item, where in zip(chunk, map(bisect_right, repeat(pivots),
                                          map(key, chunk)), strict=True):
            appends[where](item)
        yield
    result = array("q")
    for number, part in enumerate(parts):
        if len(part) <= 2 * step:
            result.extend(sorted(part, key=key))
        else:
            result.extend((yield from _merge_sort_steps(part, key, step)))
        parts[number] = array("q")
        yield
    return result


def _merge_sort_steps(work: Sequence[int], key: Callable[[int], Any], step: int
                      ) -> Generator[None, None, array[int]]:
    """Bottom-up merge sort in pieces of about ``step`` items (stable)."""
    runs: list[array[int]] = []
    for start in range(0, len(work), step):
        runs.append(array("q", sorted(work[start:start + step], key=key)))
        yield
    while len(runs) > 1:
        merged: list[array[int]] = []
        for i in range(0, len(runs) - 1, 2):
            out = array("q")
            yield from _merge_steps(runs[i], runs[i + 1], key, step // 2, out)
            merged.append(out)
        if len(runs) % 2:
            merged.append(runs[-1])
        runs = merged
    return runs[0] if runs else array("q")


def _merge_steps(first: array[int], second: array[int], key: Callable[[int], Any], width: int,
                 out: array[int]) -> Generator[None, None, None]:
    """Merge two sorted runs into ``out``, at most ``2 * width`` items per step; on equal
    keys ``first``'s items come first."""
    i = j = 0
    while i < len(first) and j < len(second):
        i_end = min(len(first), i + width)
        j_end = min(len(second), j + width)
        last_first = key(first[i_end - 1])
        last_second = key(second[j_end - 1])
        if not last_second < last_first:
            # All of first[i:i_end]; of second only what sorts before its last item
            # (what equals it follows every equal item of first, even later ones).
            j_take = bisect_left(second, last_first, j, j_end, key=key)
            piece = first[i:i_end] + second[j:j_take]
            i, j = i_end, j_take
        else:
            # All of second[j:j_end]; of first what sorts before or with its last item.
            i_take = bisect_right(first, last_second, i, i_end, key=key)
            piece = first[i:i_take] + second[j:j_end]
            i, j = i_take, j_end
        # Two sorted runs, first's part first: a linear, stable merge.
        out.extend(sorted(piece, key=key))
        yield
    out.extend(first[i:])
    out.extend(second[j:])


def order_steps(entries: Sequence[_T], key: Callable[[_T], Any] | None = None, *,
                descending: bool = False, name_key: Callable[[str], str] = natural_key,
                name: Callable[[_T], str] = attrgetter("name"),
                is_dir: Callable[[_T], bool] = attrgetter("is_dir"),
                step: int = SORT_STEP) -> Generator[None, None, array[int]]:
    """The positions of ``entries`` in :func:`sort_entries` order (an ``array("q")``),
    computed a bounded piece at a time (see :func:`sort_steps`): the return value of
    ``yield from``.

    ``entries`` are :class:`Entry` objects, or anything ``name`` and ``is_dir``
    read those two fields of (the listing model's plain rows)."""
    step = max(2, step)
    keys: list[Any] = []
    folders = array("q")
    files = array("q")
    # Key functions may be Python code (a kind's name): smaller pieces for them.
    piece = max(1, step // 4)
    for start in range(0, len(entries), piece):
        chunk = entries[start:start + piece]
        names = map(name_key, map(name, chunk))
        if key is None:
            keys.extend(names)
        else:
            keys.extend(zip(map(key, chunk), names, strict=True))
        for position, folder in enumerate(map(is_dir, chunk), start):
            (folders if folder else files).append(position)
        yield
    by_key = keys.__getitem__
    folders = yield from sort_steps(folders, by_key, descending=descending, step=step)
    files = yield from sort_steps(files, by_key, descending=descending, step=step)
    folders.extend(files)  # a copy of machine integers: ~1 ms a million
    return folders


def run_steps(steps: Generator[None, None, _T]) -> _T:
    """Run a generator of steps to the end at once; its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast(_T, done.value)
