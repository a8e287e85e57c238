"""The transfer queue as a Qt tree: one row per transfer, child rows for what is in flight.

:class:`TransferModel` listens to a :class:`~orbit_gui.engine.transfer.TransferQueue`'s
progress hub (in the app, a :class:`~.queue_bridge.QueueBridge`'s: the events of the
queue on the engine's thread, handed on on the GUI loop). Events are only stored as
they arrive (the newest per transfer replaces the older one); a QTimer applies them
at ``rate`` Hz (10 by default: bars move smoothly, figures stay readable, and each
tick repaints the changed rows, which takes the GIL from the engine), so a queue of
ten thousand busy transfers costs one pass over the *changed* transfers per tick.
Each pass compares the new texts of a row with the ones shown, writes the changed
cells and emits ``dataChanged`` for those columns and roles alone; child rows (the
parts or download-window slots in flight right now) are inserted and removed as
they come and go. Rows are found through a dict by transfer id: no scan per event.

What a view paints lives in C++ (the cells of a :class:`QStandardItemModel`), not
behind a Python ``data()``: Qt asks about eight roles of every cell it paints or
measures, through the tab proxy, and each of those calls into Python took the GIL
from the engine's loop thread (bench/results/profiles.md, section 5). The Python
side keeps what the cells are made from and writes them only when they change.

:class:`TransferFilter` splits the rows into the panel's tabs.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSignalBlocker,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QStandardItemModel

from ..engine.transfer import (
    Direction,
    PartProgress,
    PartState,
    TransferEvent,
    TransferQueue,
    TransferRecord,
    TransferRemoved,
    TransferSnapshot,
    TransferState,
)
from ..engine.transfer.progress import SpeedMeter
from .formatting import exact_bytes, human_count, human_size
from .queue_bridge import QueueBridge
from .transfer_text import bytes_text, human_duration, human_speed, transfer_name

__all__ = [
    "Column",
    "QueueSummary",
    "Role",
    "Tab",
    "TransferFilter",
    "TransferModel",
]

Index = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    NAME = 0
    PROGRESS = 1
    PARTS = 2
    BYTES = 3
    SPEED = 4
    ETA = 5
    STATE = 6


_HEADERS = ("Transfer", "Progress", "Parts", "Size", "Speed", "Time left", "State")
_COLUMNS = len(Column)


class Role(enum.IntEnum):
    ID = Qt.ItemDataRole.UserRole + 1
    """The transfer's id (str), in every cell of its row and of its child rows."""
    FRACTION = enum.auto()
    """0..1 for the progress bar, None when the size is unknown (progress column)."""
    SEGMENTS = enum.auto()
    """Every part of the files in flight (tuple of PartProgress), parts column of a
    transfer row."""
    STATE = enum.auto()
    """The state's value, state column: a TransferState's on a transfer row, a
    PartState's on a child row (str, equal to the enum member)."""
    POSITION = enum.auto()
    """The transfer's place in the queue (int), first column: the sort role."""


_IN_FLIGHT = frozenset({PartState.IN_FLIGHT, PartState.RETRYING})
_RUNNING = frozenset({TransferState.PREPARING, TransferState.TRANSFERRING,
                      TransferState.RETRYING, TransferState.VERIFYING,
                      TransferState.ASSEMBLING})
_TEXT_ROLES: list[int] = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole]
_COLUMN_ROLES: dict[Column, list[int]] = {
    Column.NAME: _TEXT_ROLES,
    Column.PROGRESS: [*_TEXT_ROLES, Role.FRACTION],
    Column.PARTS: [*_TEXT_ROLES, Role.SEGMENTS],
    Column.BYTES: _TEXT_ROLES,
    Column.SPEED: _TEXT_ROLES,
    Column.ETA: _TEXT_ROLES,
    Column.STATE: [*_TEXT_ROLES, Role.STATE],
}
_PART_ROLES: dict[Column, list[int]] = {
    **{column: _TEXT_ROLES for column in Column},
    Column.PROGRESS: [*_TEXT_ROLES, Role.FRACTION],
    Column.STATE: [*_TEXT_ROLES, Role.STATE],
}
_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_NUMERIC = frozenset({Column.BYTES, Column.SPEED, Column.ETA})
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
"""Of every cell: no editing, no dragging."""


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """The queue's summary line, kept up to date incrementally."""

    active: int = 0
    queued: int = 0
    paused: int = 0
    failed: int = 0
    finished: int = 0
    interrupted: int = 0
    up: float = 0.0
    """Bytes per second of uploads (and copies) together."""
    down: float = 0.0


@dataclass(slots=True)
class _Child:
    key: tuple[str, bool, int]
    """See :func:`_lane`."""
    part: PartProgress
    meter: SpeedMeter
    speed: float = 0.0
    carried: int = 0
    """Bytes of the earlier ranges its slot fetched (the meter counts them all)."""
    several: bool = False
    """Its file has more than one part (the name then says which)."""
    texts: tuple[str, ...] = ()
    tips: tuple[str, ...] = ()


@dataclass(slots=True)
class _Row:
    snapshot: TransferSnapshot
    texts: tuple[str, ...]
    tips: tuple[str, ...]
    segments: tuple[PartProgress, ...]
    children: list[_Child]


def _lane(part: PartProgress) -> tuple[str, bool, int]:
    """What a child row stands for: a download-window slot, which moves on from range
    to range (its row stays: no row removed and inserted per range, each of which
    re-lays out and repaints the whole tree), or one upload part."""
    if part.slot is not None:
        return part.file, True, part.slot
    return part.file, False, part.index


def _is_folder(snapshot: TransferSnapshot) -> bool:
    return snapshot.counting or snapshot.files_total > 1


def _state_text(snapshot: TransferSnapshot) -> str:
    text = snapshot.state_text()
    if snapshot.files_failed and snapshot.state is not TransferState.FAILED:
        text += f", {human_count(snapshot.files_failed)} failed"
    return text


def _texts(snapshot: TransferSnapshot, segments: tuple[PartProgress, ...]) -> tuple[str, ...]:
    fraction = snapshot.fraction
    running = snapshot.state in _RUNNING
    done_parts = sum(1 for p in segments if p.state is PartState.DONE)
    return (
        transfer_name(snapshot),
        "" if fraction is None else f"{int(fraction * 100)}%",
        f"{human_count(done_parts)} of {human_count(len(segments))} parts" if segments else "",
        bytes_text(snapshot.bytes_done, snapshot.total, counting=snapshot.counting),
        human_speed(snapshot.speed) if running else "",
        human_duration(snapshot.eta) if running and snapshot.eta is not None else "",
        _state_text(snapshot),
    )


def _transfer_tips(snapshot: TransferSnapshot, texts: tuple[str, ...],
                   segments: tuple[PartProgress, ...]) -> tuple[str, ...]:
    total = "unknown" if snapshot.total is None else exact_bytes(snapshot.total)
    amount = f"{exact_bytes(snapshot.bytes_done)} of {total}"
    if snapshot.resumed_bytes:
        amount += f"\n{exact_bytes(snapshot.resumed_bytes)} were already in place"
    if _is_folder(snapshot):
        amount += (f"\nfiles: {human_count(snapshot.files_done)} done, "
                   f"{human_count(snapshot.files_skipped)} skipped, "
                   f"{human_count(snapshot.files_failed)} failed of "
                   f"{human_count(snapshot.files_total)}")
    tips = list(texts)
    tips[Column.NAME] = f"{snapshot.source}\n→ {snapshot.destination}"
    tips[Column.PROGRESS] = tips[Column.BYTES] = amount
    if segments:
        states = Counter(p.state for p in segments)
        tips[Column.PARTS] = ", ".join(f"{human_count(n)} {state.value}"
                                       for state, n in states.items())
    if snapshot.error:
        tips[Column.STATE] = snapshot.error
    return tuple(tips)


def _part_texts(snapshot: TransferSnapshot, child: _Child) -> tuple[str, ...]:
    part = child.part
    noun = "range" if part.slot is not None else "part"
    name = f"{noun} {human_count(part.index + 1)}"
    if part.slot is not None:
        name = f"slot {part.slot + 1} · {name}"
    if part.file:
        name = f"{part.file} · {name}" if child.several else part.file
    left = part.length - part.bytes_done
    if part.state is PartState.RETRYING:
        attempts = snapshot.max_attempts
        state = f"retry {part.attempt}/{attempts}" if attempts else f"retry {part.attempt}"
    else:
        state = "in flight" if part.attempt <= 1 else f"in flight, attempt {part.attempt}"
    return (
        name,
        f"{part.bytes_done * 100 // part.length}%" if part.length else "",
        f"at {human_size(part.offset)}",
        bytes_text(part.bytes_done, part.length),
        human_speed(child.speed),
        human_duration(left / child.speed) if child.speed > 0 and left else "",
        state,
    )


def _part_tips(child: _Child, texts: tuple[str, ...]) -> tuple[str, ...]:
    part = child.part
    where = (f"bytes {human_count(part.offset)} to {human_count(part.offset + part.length)}: "
             f"{exact_bytes(part.bytes_done)} of {exact_bytes(part.length)}")
    tips = list(texts)
    tips[Column.PROGRESS] = tips[Column.PARTS] = tips[Column.BYTES] = where
    return tuple(tips)


def _changed_columns(old: tuple[str, ...], new: tuple[str, ...]) -> set[Column]:
    return {Column(c) for c, (a, b) in enumerate(zip(old, new, strict=True)) if a != b}


def _transfer_cell(row: _Row, column: Column) -> dict[int, object]:
    """What a transfer row's cell shows, by role."""
    values: dict[int, object] = {Qt.ItemDataRole.DisplayRole: row.texts[column],
                                 Qt.ItemDataRole.ToolTipRole: row.tips[column]}
    if column is Column.NAME:
        values[Role.POSITION] = row.snapshot.position
    elif column is Column.PROGRESS:
        values[Role.FRACTION] = row.snapshot.fraction
    elif column is Column.PARTS:
        values[Role.SEGMENTS] = row.segments
    elif column is Column.STATE:
        values[Role.STATE] = row.snapshot.state.value
    return values


def _part_cell(child: _Child, column: Column) -> dict[int, object]:
    """What a child row's cell shows, by role."""
    values: dict[int, object] = {Qt.ItemDataRole.DisplayRole: child.texts[column],
                                 Qt.ItemDataRole.ToolTipRole: child.tips[column]}
    part = child.part
    if column is Column.PROGRESS:
        values[Role.FRACTION] = part.bytes_done / part.length if part.length else None
    elif column is Column.STATE:
        values[Role.STATE] = part.state.value
    return values


def _finish_segments(segments: tuple[PartProgress, ...]) -> tuple[PartProgress, ...]:
    return tuple(p if p.state is PartState.DONE else dataclasses.replace(
        p, state=PartState.DONE, bytes_done=p.length, slot=None) for p in segments)


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def _record_snapshot(record: TransferRecord,
                     state: TransferState = TransferState.INTERRUPTED) -> TransferSnapshot:
    return TransferSnapshot(
        id=record.id, direction=Direction(record.direction), source=record.source,
        destination=record.destination, state=state,
        bytes_done=record.bytes_done, total=record.total, files_done=record.files_done,
        files_total=record.files_total, error=record.error, position=-1)


class TransferModel(QStandardItemModel):
    """The queue's transfers (top level) and their parts in flight (children)."""

    summary_changed = Signal()
    """Emitted after a tick that changed anything; read :meth:`summary`."""
    state_changed = Signal(object, str)
    """(snapshot, previous state text) when a transfer's state text changes (the log)."""
    flushed = Signal(int)
    """After each tick that applied events: how many transfers it touched."""

    def __init__(self, queue: TransferQueue | QueueBridge, parent: QObject | None = None, *,
                 rate: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(0, _COLUMNS, parent)
        self.setHorizontalHeaderLabels(list(_HEADERS))
        for column in _NUMERIC:
            self.setHeaderData(column, Qt.Orientation.Horizontal, _ALIGN_RIGHT,
                               Qt.ItemDataRole.TextAlignmentRole)
        self.setSortRole(Role.POSITION)
        self._clock = clock
        self._rows: list[_Row] = []
        self._row_of: dict[str, int] = {}
        self._records: dict[str, TransferRecord] = {}
        self._history: set[str] = set()
        """Rows of transfers an earlier run finished: shown, never driven."""
        self._pending: dict[str, TransferEvent] = {}
        self._counts: Counter[TransferState] = Counter()
        self._speeds: dict[str, tuple[Direction, float]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, round(1000 / rate)))
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._insert([s for s in queue.snapshots()])
        self._unlisten = queue.hub.add_listener(self._on_event)

    def close(self) -> None:
        """Stop listening to the queue (the rows stay as they are)."""
        self._unlisten()
        self._timer.stop()

    # -- events -------------------------------------------------------------------------------

    def _on_event(self, event: TransferEvent) -> None:
        self._pending[event.id] = event
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Apply every event received since the last tick (the timer calls this)."""
        self._timer.stop()
        pending, self._pending = self._pending, {}
        if not pending:
            return
        self._remove([key for key, event in pending.items()
                      if isinstance(event, TransferRemoved)])
        fresh: list[TransferSnapshot] = []
        moved = False
        for event in pending.values():
            if isinstance(event, TransferRemoved):
                continue
            row = self._row_of.get(event.id)
            if row is None:
                fresh.append(event)
                continue
            moved |= self._rows[row].snapshot.position != event.position
            self._records.pop(event.id, None)
            self._update(row, event)
        self._insert(fresh)
        if moved or (fresh and self._records):
            self._restore_order()
        self.flushed.emit(len(pending))
        self.summary_changed.emit()

    # -- the journal's transfers of earlier runs ---------------------------------------------

    def add_interrupted(self, records: Iterable[TransferRecord]) -> None:
        """Show transfers an earlier run left unfinished, as "interrupted" rows first."""
        fresh = []
        for record in records:
            if record.id in self._row_of:
                continue
            self._records[record.id] = record
            fresh.append(_record_snapshot(record))
        self._insert(fresh)
        self._restore_order()
        self.summary_changed.emit()

    def add_history(self, records: Iterable[TransferRecord]) -> None:
        """Show transfers earlier runs finished (done, failed, cancelled), for the
        Finished and Failed tabs; they take no commands but Remove."""
        fresh = []
        for record in records:
            if record.id in self._row_of or not record.is_finished:
                continue
            self._history.add(record.id)
            fresh.append(_record_snapshot(record, TransferState(record.state)))
        self._insert(fresh)
        self.summary_changed.emit()

    def is_history(self, transfer_id: str) -> bool:
        return transfer_id in self._history

    def history_ids(self) -> list[str]:
        return [key for key in self._history if key in self._row_of]

    def record(self, transfer_id: str) -> TransferRecord | None:
        """The journal record of an interrupted row not (yet) resumed."""
        return self._records.get(transfer_id)

    def forget(self, *transfer_ids: str) -> None:
        """Drop rows not in the queue: interrupted ones discarded, history cleared."""
        for key in transfer_ids:
            self._records.pop(key, None)
            self._history.discard(key)
        self._remove(list(transfer_ids))
        self.summary_changed.emit()

    # -- lookups ------------------------------------------------------------------------------

    def summary(self) -> QueueSummary:
        counts = self._counts
        up = sum(s for d, s in self._speeds.values() if d is not Direction.DOWNLOAD)
        down = sum(s for d, s in self._speeds.values() if d is Direction.DOWNLOAD)
        return QueueSummary(
            active=sum(counts[s] for s in _RUNNING), queued=counts[TransferState.QUEUED],
            paused=counts[TransferState.PAUSED], failed=counts[TransferState.FAILED],
            finished=counts[TransferState.DONE] + counts[TransferState.CANCELLED],
            interrupted=counts[TransferState.INTERRUPTED], up=up, down=down)

    def snapshot(self, transfer_id: str) -> TransferSnapshot | None:
        row = self._row_of.get(transfer_id)
        return None if row is None else self._rows[row].snapshot

    def state_at(self, row: int) -> TransferState:
        return self._rows[row].snapshot.state

    def row_of(self, transfer_id: str) -> QModelIndex:
        row = self._row_of.get(transfer_id)
        return QModelIndex() if row is None else self.index(row, 0)

    def ids(self) -> list[str]:
        return [row.snapshot.id for row in self._rows]

    # -- applying changes ---------------------------------------------------------------------
    #
    # Cells are written with the model's signals blocked, and the changes are then
    # signalled here, once per run of changed columns (or inserted rows): a
    # QStandardItem signals each role it is given on its own, and every signal
    # costs the tab proxy and the view a pass.

    def _insert(self, snapshots: Sequence[TransferSnapshot]) -> None:
        if not snapshots:
            return
        first = len(self._rows)
        now = self._clock()
        for offset, snapshot in enumerate(snapshots):
            segments = snapshot.parts
            texts = _texts(snapshot, segments)
            row = _Row(snapshot, texts, _transfer_tips(snapshot, texts, segments), segments, [])
            self._rows.append(row)
            self._row_of[snapshot.id] = first + offset
            self._count(None, snapshot)
        # The rows are known (filterAcceptsRow reads them) before they are announced;
        # their cells are filled before anything paints them.
        self.insertRows(first, len(snapshots))
        with QSignalBlocker(self):
            for number in range(first, len(self._rows)):
                row = self._rows[number]
                self._new_cells(QModelIndex(), number, row.snapshot.id,
                                functools.partial(_transfer_cell, row))
        for number in range(first, len(self._rows)):
            self._children_of(self._rows[number], now, number)
        for snapshot in snapshots:
            self.state_changed.emit(snapshot, "")

    def _remove(self, ids: Iterable[str]) -> None:
        rows = sorted(self._row_of[key] for key in ids if key in self._row_of)
        if not rows:
            return
        for first, last in reversed(_runs(rows)):
            for row in self._rows[first : last + 1]:
                key = row.snapshot.id
                del self._row_of[key]
                self._records.pop(key, None)
                self._count(row.snapshot, None)
            del self._rows[first : last + 1]
            self.removeRows(first, last - first + 1)
        for number in range(rows[0], len(self._rows)):
            self._row_of[self._rows[number].snapshot.id] = number

    def _count(self, old: TransferSnapshot | None, new: TransferSnapshot | None) -> None:
        if old is not None:
            self._counts[old.state] -= 1
            self._speeds.pop(old.id, None)
        if new is not None:
            self._counts[new.state] += 1
            if new.state in _RUNNING and new.speed > 0:
                self._speeds[new.id] = (new.direction, new.speed)

    def _update(self, number: int, snapshot: TransferSnapshot) -> None:
        row = self._rows[number]
        old = row.snapshot
        if snapshot.parts:
            segments = snapshot.parts
        elif snapshot.state is TransferState.DONE:
            segments = _finish_segments(row.segments)  # every part landed
        else:
            segments = row.segments  # paused, failed...: show where it stopped
        texts = _texts(snapshot, segments)
        tips = _transfer_tips(snapshot, texts, segments)
        changed = _changed_columns(row.texts, texts) | _changed_columns(row.tips, tips)
        if segments != row.segments:
            changed.add(Column.PARTS)
        if old.state is not snapshot.state:
            changed.add(Column.STATE)
        if snapshot.fraction != old.fraction:
            changed.add(Column.PROGRESS)
        self._count(old, snapshot)
        row.snapshot, row.texts, row.tips, row.segments = snapshot, texts, tips, segments
        with QSignalBlocker(self):
            for column in changed:
                self.setItemData(self.index(number, column), _transfer_cell(row, column))
            if old.position != snapshot.position and Column.NAME not in changed:
                self.setData(self.index(number, 0), snapshot.position, Role.POSITION)
        self._signal(QModelIndex(), number, changed, _COLUMN_ROLES)
        self._children_of(row, self._clock(), number)
        if old.state_text() != snapshot.state_text():
            self.state_changed.emit(snapshot, old.state_text())

    def _new_cells(self, parent: QModelIndex, number: int, transfer_id: str,
                   values: Callable[[Column], dict[int, object]]) -> None:
        # Qt makes a row's cells as they are first written. None is held in Python
        # afterwards: a QStandardItem is no QObject, and a wrapper kept past its row's
        # removal would outlive the item.
        for column in Column:
            cell = self.index(number, column, parent)
            self.itemFromIndex(cell).setFlags(_FLAGS)
            fixed: dict[int, object] = {Role.ID: transfer_id}
            if column in _NUMERIC:
                fixed[Qt.ItemDataRole.TextAlignmentRole] = _ALIGN_RIGHT
            self.setItemData(cell, fixed | values(column))

    def _signal(self, parent: QModelIndex, number: int, columns: Iterable[Column],
                roles_of: dict[Column, list[int]]) -> None:
        for first, last in _runs(sorted(columns)):
            roles = sorted({r for c in range(first, last + 1) for r in roles_of[Column(c)]})
            self.dataChanged.emit(self.index(number, first, parent),
                                  self.index(number, last, parent), roles)

    def _children_of(self, row: _Row, now: float, number: int) -> None:
        """Bring the child rows of transfer row ``number`` in line with the parts in
        flight in its snapshot."""
        snapshot = row.snapshot
        parent = self.index(number, 0)
        per_file = Counter(p.file for p in snapshot.parts)
        flying = {_lane(p): p for p in snapshot.parts if p.state in _IN_FLIGHT}
        children = row.children
        gone = [n for n, child in enumerate(children) if child.key not in flying]
        for first, last in reversed(_runs(gone)):
            del children[first : last + 1]
            self.removeRows(first, last - first + 1, parent)
        known = set()
        for child_row, child in enumerate(children):
            known.add(child.key)
            part = flying[child.key]
            if part == child.part:
                continue
            if part.index != child.part.index:  # the slot finished a range, took the next
                child.carried += child.part.length
            child.part = part
            child.meter.add(now, child.carried + part.bytes_done)
            child.speed = child.meter.speed(now)
            texts = _part_texts(snapshot, child)
            tips = _part_tips(child, texts)
            changed = _changed_columns(child.texts, texts) | _changed_columns(child.tips, tips)
            child.texts, child.tips = texts, tips
            with QSignalBlocker(self):
                for column in changed:
                    self.setItemData(self.index(child_row, column, parent),
                                     _part_cell(child, column))
            self._signal(parent, child_row, changed, _PART_ROLES)
        added = sorted((p for key, p in flying.items() if key not in known),
                       key=lambda p: (p.file, p.offset))
        if not added:
            return
        first = len(children)
        for part in added:
            meter = SpeedMeter(3.0)
            meter.add(now, part.bytes_done)
            child = _Child(_lane(part), part, meter, several=per_file[part.file] > 1)
            child.texts = _part_texts(snapshot, child)
            child.tips = _part_tips(child, child.texts)
            children.append(child)
        if self.columnCount(parent) < _COLUMNS:  # its first children: give them columns
            self.insertColumns(0, _COLUMNS - self.columnCount(parent), parent)
        self.insertRows(first, len(added), parent)
        with QSignalBlocker(self):
            for child_row in range(first, len(children)):
                self._new_cells(parent, child_row, snapshot.id,
                                functools.partial(_part_cell, children[child_row]))

    def _restore_order(self) -> None:
        """Rows follow the queue's order (interrupted rows first) after a move."""
        positions = [row.snapshot.position for row in self._rows]
        if positions == sorted(positions):
            return
        # A stable sort on Role.POSITION, in C++: Qt moves the rows and the persistent
        # indexes (selection, current row) in one layout change.
        self.sort(Column.NAME)
        rows = {row.snapshot.id: row for row in self._rows}
        self._rows = [rows[self.index(n, 0).data(Role.ID)] for n in range(len(self._rows))]
        for number, row in enumerate(self._rows):
            self._row_of[row.snapshot.id] = number


class Tab(enum.IntEnum):
    QUEUE = 0
    FINISHED = 1
    FAILED = 2
    ALL = 3


_TAB_STATES: dict[Tab, Callable[[TransferState], bool]] = {
    Tab.QUEUE: lambda s: not s.finished,
    Tab.FINISHED: lambda s: s in (TransferState.DONE, TransferState.CANCELLED),
    Tab.FAILED: lambda s: s is TransferState.FAILED,
    Tab.ALL: lambda s: True,
}


class TransferFilter(QSortFilterProxyModel):
    """The rows of one tab (queue, finished, failed).

    A proxy rather than a filter inside the model: the model stays one flat
    list indexed by id, and the view's tabs share it. Dynamic filtering is on
    so that a transfer moves between tabs the moment its state changes; the
    proxy re-tests only the rows a ``dataChanged`` names. The proxy never
    sorts (no ``sort()`` call, sort column -1): a sorting proxy re-sorts on
    every progress tick, which DESIGN.md measured at ~166 ms per 1000 rows.
    Rows keep the queue's order, which is the order that matters here.
    """

    def __init__(self, model: TransferModel, tab: Tab = Tab.QUEUE,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._accepts = _TAB_STATES[tab]
        self._tab = tab
        self.setDynamicSortFilter(True)
        self.setFilterRole(Role.STATE)
        self.setFilterKeyColumn(Column.STATE)
        self.setSourceModel(model)

    @property
    def tab(self) -> Tab:
        return self._tab

    def set_tab(self, tab: Tab) -> None:
        if tab is self._tab:
            return
        self.beginFilterChange()
        self._tab = tab
        self._accepts = _TAB_STATES[tab]
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if source_parent.isValid():
            return True
        return self._accepts(self._model.state_at(source_row))
