"""The checkpoint of a windowed download: which ranges of which file version are done.

A :class:`WindowState` is all a later session needs to continue an interrupted
download without fetching again what it already has: the source path, its
version (ETag, size, mtime), how the file was cut into ranges, the finished
ranges (as compact runs of range numbers, so a 5 TB file stays small), the
bytes already written at the start of ranges that were cut off midway, and the
hidden partial file holding them. It converts to and from plain JSON-ready
dicts for the transfer journal.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WindowState"]


@dataclass(slots=True)
class WindowState:
    """Progress of one download, live while it runs and a checkpoint afterwards."""

    path: str
    """The source path on its backend."""
    size: int
    slot_size: int
    """Bytes per range; range ``i`` covers ``[i * slot_size, (i + 1) * slot_size)``."""
    etag: str | None = None
    """The source version the bytes came from; a resume refuses any other."""
    mtime: float | None = None
    """The source's modification time, compared on resume when there is no ETag."""
    done: list[tuple[int, int]] = field(default_factory=list)
    """Finished ranges as sorted, disjoint, non-touching runs ``[start, stop)`` of
    range numbers."""
    partial: dict[int, int] = field(default_factory=dict)
    """Range number -> bytes already written from that range's start (unfinished
    ranges only)."""
    partial_path: str | None = None
    """Where the sink keeps the bytes so far (a hidden temporary file)."""

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size must not be negative")
        if self.slot_size < 1:
            raise ValueError("slot_size must be positive")
        count = self.range_count
        previous_stop = -1
        for start, stop in self.done:
            if not 0 <= start < stop <= count or start <= previous_stop:
                raise ValueError(f"invalid done ranges {self.done!r} for {count} ranges")
            previous_stop = stop
        for index, written in self.partial.items():
            if not 0 <= index < count or self.is_done(index):
                raise ValueError(f"partial range {index} is not an unfinished range")
            if not 0 <= written < self.range_at(index)[1]:
                raise ValueError(f"partial range {index} has an impossible length {written}")

    @classmethod
    def from_offset(cls, path: str, size: int, offset: int, *, slot_size: int,
                    etag: str | None = None, mtime: float | None = None,
                    partial_path: str | None = None) -> WindowState:
        """A checkpoint saying the first ``offset`` bytes are already in place."""
        if not 0 <= offset <= size:
            raise ValueError(f"offset {offset} is outside a file of {size} bytes")
        full, rest = divmod(offset, slot_size)
        state = cls(path, size, slot_size, etag=etag, mtime=mtime, partial_path=partial_path)
        if full:
            state.done.append((0, full))
        if rest:
            state.partial[full] = rest
        return state

    @property
    def range_count(self) -> int:
        """How many ranges the file is cut into (0 for an empty file)."""
        return -(-self.size // self.slot_size)

    def range_at(self, index: int) -> tuple[int, int]:
        """``(offset, length)`` of range ``index``."""
        offset = index * self.slot_size
        return offset, min(self.slot_size, self.size - offset)

    def is_done(self, index: int) -> bool:
        run = bisect.bisect_right(self.done, index, key=_start) - 1
        return run >= 0 and self.done[run][0] <= index < self.done[run][1]

    def mark_done(self, index: int) -> None:
        """Record range ``index`` as finished, merging it into its neighbour runs."""
        self.partial.pop(index, None)
        done = self.done
        pos = bisect.bisect_right(done, index, key=_start)
        if pos > 0 and done[pos - 1][1] > index:
            return  # already recorded
        joins_left = pos > 0 and done[pos - 1][1] == index
        joins_right = pos < len(done) and done[pos][0] == index + 1
        if joins_left and joins_right:
            done[pos - 1] = (done[pos - 1][0], done[pos][1])
            del done[pos]
        elif joins_left:
            done[pos - 1] = (done[pos - 1][0], index + 1)
        elif joins_right:
            done[pos] = (index, done[pos][1])
        else:
            done.insert(pos, (index, index + 1))

    def missing(self) -> Iterator[int]:
        """Numbers of the ranges not finished yet, in file order (over a snapshot)."""
        runs = list(self.done)
        position = 0
        for start, stop in runs:
            yield from range(position, start)
            position = stop
        yield from range(position, self.range_count)

    def bytes_done(self) -> int:
        """Bytes already in place: finished ranges plus the written starts of others."""
        total = sum(self._run_bytes(start, stop) for start, stop in self.done)
        return total + sum(self.partial.values())

    def contiguous_bytes(self) -> int:
        """Length of the prefix of the file that is completely in place."""
        first = self.done[0][1] if self.done and self.done[0][0] == 0 else 0
        if first >= self.range_count:
            return self.size
        return first * self.slot_size + self.partial.get(first, 0)

    def extent(self) -> int:
        """End of the furthest byte written, so a sink can tell if its file is short."""
        ends = [self.range_at(stop - 1)[0] + self.range_at(stop - 1)[1] for _, stop in self.done]
        ends += [self.range_at(index)[0] + written for index, written in self.partial.items()]
        return max(ends, default=0)

    def is_complete(self) -> bool:
        return self.range_count == 0 or self.done == [(0, self.range_count)]

    def copy(self) -> WindowState:
        return WindowState(self.path, self.size, self.slot_size, etag=self.etag, mtime=self.mtime,
                           done=list(self.done), partial=dict(self.partial),
                           partial_path=self.partial_path)

    def _run_bytes(self, start: int, stop: int) -> int:
        end = min(self.size, stop * self.slot_size)
        return end - start * self.slot_size

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (partial keys become strings, as JSON needs)."""
        return {
            "path": self.path,
            "size": self.size,
            "slot_size": self.slot_size,
            "etag": self.etag,
            "mtime": self.mtime,
            "done": [[start, stop] for start, stop in self.done],
            "partial": {str(index): written for index, written in sorted(self.partial.items())},
            "partial_path": self.partial_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowState:
        """Rebuild a checkpoint from :meth:`to_dict`; ValueError if it is malformed."""
        try:
            etag, mtime, partial_path = data["etag"], data["mtime"], data["partial_path"]
            if etag is not None and not isinstance(etag, str):
                raise TypeError("etag")
            if partial_path is not None and not isinstance(partial_path, str):
                raise TypeError("partial_path")
            return cls(
                path=_str(data["path"]),
                size=_int(data["size"]),
                slot_size=_int(data["slot_size"]),
                etag=etag,
                mtime=None if mtime is None else float(mtime),
                done=[(_int(start), _int(stop)) for start, stop in data["done"]],
                partial={_int(int(k)): _int(v) for k, v in dict(data["partial"]).items()},
                partial_path=partial_path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid download checkpoint: {exc!r}") from exc


def _start(run: tuple[int, int]) -> int:
    return run[0]


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value
