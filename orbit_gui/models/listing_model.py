"""A flat table of one folder, filled from ``Backend.list()`` while it streams.

Entries are buffered by a consumer task and inserted in batches at most
``batch_interval_ms`` apart, appended at the end; the rows are put in sort
order whenever the stream comes to rest (finished, or paused for more). A
big folder is sorted in steps of at most ``sort_step`` rows, one per turn of
the event loop, and the result is applied in one layout change: a million
rows never freeze the window (the state changes once the rows are sorted).
That change only swaps lists the steps filled: no pass over all rows happens
in one turn, and the lists kept are long-lived ones (see ``_spare``), never
fresh million-item lists the next young garbage collection would walk. The
consumer stops pulling once ``fetch_size`` entries beyond the last
``fetchMore()`` have arrived, so a huge folder costs pages only as the user
scrolls. Sorting and filtering happen here, never in a dynamic proxy.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from array import array
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QDateTime,
    QLocale,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from ..engine import Backend, Entry, NotADirectory, NotFound, OrbitError, PermissionDenied
from ..engine.transfer.request import is_local
from .drag import ENTRIES_MIME, DraggedItems, decode_drag, encode_drag
from .file_kinds import FileKinds
from .formatting import exact_bytes, human_size, iso_time
from .rows import CONTENT_TYPE, ETAG, IS_DIR, MTIME, NAME, PATH, SIZE, Row, entry_of, row_of
from .sorting import SORT_STEP, natural_key, order_steps, run_steps

__all__ = [
    "ENTRY_ROLE",
    "SORT_ROLE",
    "Column",
    "ListingModel",
    "ListingState",
    "listing_error_sentence",
]

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
"""data() role returning the row's :class:`~orbit_gui.engine.Entry`."""
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
"""data() role returning the value a column sorts by (bytes, seconds, ...)."""

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class Column(enum.IntEnum):
    NAME = 0
    SIZE = 1
    MODIFIED = 2
    KIND = 3


_COLUMNS = len(Column)
_HEADERS = {Column.NAME: "Name", Column.SIZE: "Size", Column.MODIFIED: "Modified",
            Column.KIND: "Kind"}


class ListingState(enum.Enum):
    IDLE = "idle"
    """No folder set yet."""
    LISTING = "listing"
    """Entries are arriving."""
    PAUSED = "paused"
    """Stopped pulling at the fetch threshold; fetchMore() resumes."""
    DONE = "done"
    FAILED = "failed"


def listing_error_sentence(path: str, error: BaseException) -> str:
    """What to tell the user when listing ``path`` failed."""
    if isinstance(error, NotFound):
        return f"{path} does not exist."
    if isinstance(error, NotADirectory):
        return f"{path} is not a folder."
    if isinstance(error, PermissionDenied):
        return f"You are not allowed to open {path}."
    if isinstance(error, OrbitError):
        hint = " Try again in a moment." if error.retriable else ""
        return f"Could not list {path}: {error}.{hint}"
    return f"Could not list {path} because of an internal error ({type(error).__name__})."


class _Listing:
    """One run of ``Backend.list()``.

    Each run buffers into its own object, so rows from a cancelled run can
    never reach the model even if its task wakes once more.
    """

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.received = 0
        self.pending: list[Entry] = []
        self.paused = False
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


@dataclass
class _Sorted:
    """The outcome of one sort job, applied in a single layout change."""

    entries: list[Row]
    """The first ``len(entries)`` entries of the model, in order."""
    rows: list[Row]
    """What passes the filter of ``entries``: the first ``len(rows)`` rows."""
    old_rows: int
    """How many rows there were when the job began (rows after them are newer)."""
    new_row: array[int]
    """The new row of each old entry position (-1: filtered out)."""
    row_entry: array[int] | None
    """The entry position of each old row (None: no filter, the same number)."""
    order: tuple[Column, Qt.SortOrder]


_VERTICAL = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
_WITH_HINT = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")
"""The layout signals' overload that says rows moved, columns did not."""


class ListingModel(QAbstractTableModel):
    """The entries of one folder of one backend, sorted and filtered."""

    listing_started = Signal(str)
    """A listing of the path began (set_path or refresh)."""
    listing_finished = Signal(str)
    """Every entry of the path has been listed."""
    listing_failed = Signal(str, str)
    """The path, and a sentence for the user saying what went wrong."""
    state_changed = Signal()
    count_changed = Signal(int)
    """Entries received so far, before the filter; rowCount() is what passes it."""
    drop_requested = Signal(object, str)
    """:class:`DraggedItems` were dropped to go into the folder (a path of this backend)."""

    def __init__(self, backend: Backend | None, parent: QObject | None = None, *,
                 batch_interval_ms: int = 100, fetch_size: int = 5000,
                 sort_step: int = SORT_STEP) -> None:
        super().__init__(parent)
        self._backend: Backend | None = backend
        self.token = uuid.uuid4().hex
        """Names this model in drags (see :mod:`.drag`)."""
        self._fetch_size = fetch_size
        self._kinds = FileKinds()
        self._locale = QLocale()
        # The C locale's short form ("25 11 2026 04:42") reads badly: use ISO order there.
        self._date_format: str | QLocale.FormatType = (
            "yyyy-MM-dd HH:mm" if self._locale.language() == QLocale.Language.C
            else QLocale.FormatType.ShortFormat)
        self._path: str | None = None
        self._listing: _Listing | None = None
        self._state = ListingState.IDLE
        self._error = ""
        self._entries: list[Row] = []
        """Every entry listed, as plain tuples (see :mod:`.rows`)."""
        self._rows: list[Row] = []
        self._name_keys: dict[str, str] = {}
        """natural_key() of every name listed, computed as batches arrive."""
        self._filter = ""
        self._sort_column = Column.NAME
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._entries_order: tuple[Column, Qt.SortOrder] | None = None
        """The order self._entries is in; None after unsorted appends."""
        self._timer = QTimer(self)
        self._timer.setInterval(batch_interval_ms)
        self._timer.timeout.connect(self._flush)
        self._sort_step = max(2, sort_step)
        self._sort_job: Generator[None, None, _Sorted] | None = None
        self._sort_job_order: tuple[Column, Qt.SortOrder] | None = None
        self._spare: tuple[list[Row], list[Row]] = ([], [])
        """Empty lists the next sort fills (entries, rows); the lists it replaces
        are emptied and become the spares. A young collection walks every item of
        each list made since the one before: a fresh list of a million rows (in
        sorted order, so scattered in memory) froze the window ~250 ms in the first
        collection after the sort. The spares were made with the model or shown
        while a folder streamed, so by the time a big folder is sorted they are in
        the oldest generation, which only full collections walk."""
        self._settle: tuple[ListingState, Callable[[], None] | None] | None = None
        """What to announce once the rows are sorted (the stream came to rest)."""
        self._sort_timer = QTimer(self)
        self._sort_timer.setInterval(0)
        self._sort_timer.timeout.connect(self._sort_some)

    # -- public API --------------------------------------------------------

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def backend(self) -> Backend | None:
        return self._backend

    async def set_backend(self, backend: Backend | None) -> None:
        """Browse ``backend`` from now on (None: nothing); the table empties until
        the next :meth:`set_path`."""
        await self.aclose()
        self.beginResetModel()
        self._backend = backend
        self._forget_rows(None)
        self.endResetModel()
        self._set_state(ListingState.IDLE)
        self.count_changed.emit(0)

    @property
    def state(self) -> ListingState:
        return self._state

    @property
    def error(self) -> str:
        """The sentence of the last failure ("" unless the state is FAILED)."""
        return self._error

    @property
    def loaded_count(self) -> int:
        """Entries received so far, whether or not they pass the filter."""
        return len(self._entries)

    def set_path(self, path: str) -> None:
        """Show ``path``: the listing in flight is cancelled and its rows dropped."""
        if self._backend is None:
            raise RuntimeError("the listing model has no backend to list")
        self._cancel()
        self.beginResetModel()
        self._forget_rows(path)
        listing = self._listing = _Listing(path, self._fetch_size)
        self.endResetModel()
        listing.task = asyncio.get_running_loop().create_task(self._consume(listing))
        listing.task.add_done_callback(lambda task: self._on_done(listing, task))
        self._timer.start()
        self._set_state(ListingState.LISTING)
        self.listing_started.emit(path)
        self.count_changed.emit(0)

    def refresh(self) -> None:
        """List the current folder again."""
        if self._path is not None:
            self.set_path(self._path)

    def set_filter(self, text: str) -> None:
        """Show only entries whose name contains ``text``, ignoring case."""
        text = text.casefold()
        if text == self._filter:
            return
        sorting = self._sort_job is not None
        self._stop_sorting()
        self.beginResetModel()
        self._filter = text
        self._rows = self._matching(self._entries)
        self.endResetModel()
        if sorting:
            self._reorder()  # the sort under way starts over on the new rows
        self.count_changed.emit(len(self._entries))

    def entry(self, index: AnyIndex) -> Entry:
        return entry_of(self._rows[index.row()])

    async def aclose(self) -> None:
        """Stop listing and wait until the backend's iterator is closed."""
        task = self._listing.task if self._listing is not None else None
        self._cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    # -- Qt model interface --------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = _ROOT) -> QModelIndex:
        # The bounds checked here, not by QAbstractTableModel's hasIndex(): views ask
        # for the index of every cell they paint, and hasIndex() calls back into
        # Python twice (rowCount, columnCount).
        if parent.isValid() or not (0 <= row < len(self._rows) and 0 <= column < _COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column)

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[Column(section)]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(Column(section))
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column == Column.NAME:
            return self._kinds.icon(row[NAME], row[IS_DIR], row[CONTENT_TYPE])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(column)
        if role == ENTRY_ROLE:
            return entry_of(row)
        if role == SORT_ROLE:
            return self._sort_key(column)(row)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            # The view's empty area: a drop there goes into the folder shown.
            return Qt.ItemFlag.ItemIsDropEnabled if self._path is not None \
                else Qt.ItemFlag.NoItemFlags
        flags = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                 | Qt.ItemFlag.ItemNeverHasChildren | Qt.ItemFlag.ItemIsDragEnabled)
        if self._rows[index.row()][IS_DIR]:
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        return flags

    # -- drag and drop ------------------------------------------------------------

    def mimeTypes(self) -> list[str]:
        return [ENTRIES_MIME, "text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({index.row() for index in indexes if index.isValid()})
        local = self._backend is not None and is_local(self._backend)
        return encode_drag(self.token, [self._rows[row][PATH] for row in rows], local=local)

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def drop_target(self, parent: AnyIndex) -> str | None:
        """The folder a drop on ``parent`` (a row, or the empty area) goes into."""
        if parent.isValid():
            row = self._rows[parent.row()]
            return row[PATH] if row[IS_DIR] else self._path
        return self._path

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: AnyIndex) -> bool:
        return self._accepted_drop(data, parent) is not None

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: AnyIndex) -> bool:
        accepted = self._accepted_drop(data, parent)
        if accepted is None:
            return False
        items, target = accepted
        self.drop_requested.emit(items, target)
        return True  # a copy: supportedDragActions() never lets a view delete the source

    def _accepted_drop(self, data: QMimeData, parent: AnyIndex
                       ) -> tuple[DraggedItems, str] | None:
        target = self.drop_target(parent)
        items = decode_drag(data)
        if target is None or items is None:
            return None
        if items.source == self.token:
            return None  # within one pane: that would be a move, which panes do not do
        return items, target

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(Column):
            return
        self._sort_column = Column(column)
        self._sort_order = order
        self._reorder()

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return not parent.isValid() and self._state == ListingState.PAUSED

    def fetchMore(self, parent: AnyIndex) -> None:
        """Let the paused listing pull another ``fetch_size`` entries.

        Rows arrive with the next batches, not before this returns.
        """
        listing = self._listing
        if parent.isValid() or listing is None or self._state != ListingState.PAUSED:
            return
        listing.limit = listing.received + self._fetch_size
        listing.wake.set()
        self._timer.start()
        self._set_state(ListingState.LISTING)

    # -- streaming -------------------------------------------------------------

    async def _consume(self, listing: _Listing) -> None:
        assert self._backend is not None
        entries = self._backend.list(listing.path)
        try:
            async for entry in entries:
                listing.pending.append(entry)
                listing.received += 1
                while listing.received >= listing.limit:
                    listing.paused = True
                    listing.wake.clear()
                    await listing.wake.wait()
                listing.paused = False
        finally:
            # Leaving `async for` early does not close the generator: do it,
            # so the backend fetches nothing more.
            aclose: Callable[[], Any] | None = getattr(entries, "aclose", None)
            if aclose is not None:
                await aclose()

    def _on_done(self, listing: _Listing, task: asyncio.Task[None]) -> None:
        if task.cancelled() or listing is not self._listing:
            return
        error = task.exception()
        if error is not None and not isinstance(error, OrbitError):
            # A bug rather than a store's refusal: the app's handler logs and shows it.
            task.get_loop().call_exception_handler({
                "message": f"Listing {listing.path} failed", "exception": error, "task": task,
            })
        self._flush()

    def _flush(self) -> None:
        """Insert the buffered entries; settle the state when the stream rests."""
        listing = self._listing
        if listing is None:
            return
        batch, listing.pending = listing.pending, []
        if batch:
            self._append(batch)
        task = listing.task
        if task is not None and task.done():
            error = None if task.cancelled() else task.exception()
            if error is None:
                self._rest(ListingState.DONE, lambda: self.listing_finished.emit(listing.path))
            else:
                self._error = listing_error_sentence(listing.path, error)
                self._rest(ListingState.FAILED,
                           lambda: self.listing_failed.emit(listing.path, self._error))
        elif listing.paused and not listing.pending:
            self._rest(ListingState.PAUSED)
        if batch:
            self.count_changed.emit(len(self._entries))

    def _rest(self, state: ListingState, announce: Callable[[], None] | None = None) -> None:
        """The stream stopped: sort the rows, then announce ``state`` (and call
        ``announce``), at once or when a sort in steps is done.

        The state is set before the layout change, because a view answers a
        layout change by asking canFetchMore() again: a user who waits at the
        bottom of a paused listing gets the next rows without scrolling again.
        """
        self._timer.stop()
        self._settle = (state, announce)
        self._reorder()

    def _settle_state(self) -> Callable[[], None] | None:
        """Set the state the stream rests in, if it does; what to emit after."""
        if self._settle is None:
            return None
        (state, announce), self._settle = self._settle, None
        changed = state != self._state
        self._state = state

        def emit() -> None:
            if changed:
                self.state_changed.emit()
            if announce is not None:
                announce()
        return emit

    def _append(self, batch: list[Entry]) -> None:
        rows = [row_of(entry) for entry in batch]
        self._entries.extend(rows)
        self._entries_order = None
        keys = self._name_keys
        for entry in batch:
            if entry.name not in keys:
                keys[entry.name] = natural_key(entry.name)
        visible = self._matching(rows)
        if visible:
            first = len(self._rows)
            self.beginInsertRows(_ROOT, first, first + len(visible) - 1)
            self._rows.extend(visible)
            self.endInsertRows()

    def _cancel(self) -> None:
        listing, self._listing = self._listing, None
        self._timer.stop()
        self._stop_sorting()
        self._settle = None
        if listing is not None and listing.task is not None:
            listing.task.cancel()

    def _forget_rows(self, path: str | None) -> None:
        """Empty the table for ``path`` (inside a model reset)."""
        self._stop_sorting()
        self._settle = None
        self._entries = []
        self._rows = []
        self._name_keys = {}
        self._entries_order = (self._sort_column, self._sort_order)
        self._error = ""
        self._path = path

    def _set_state(self, state: ListingState) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit()

    # -- sorting, filtering, display ------------------------------------------

    def _matching(self, rows: Sequence[Row]) -> list[Row]:
        if not self._filter:
            return list(rows)
        return [row for row in rows if self._filter in row[NAME].casefold()]

    def _reorder(self) -> None:
        """Put the entries in sort order, keeping selections and the current row:
        at once for up to ``sort_step`` entries, else in steps (see :meth:`_sort_some`).
        A stream at rest is announced once its rows are in order."""
        order = (self._sort_column, self._sort_order)
        if self._entries_order == order or not self._entries:
            self._stop_sorting()
            self._entries_order = order
            emit = self._settle_state()
            if emit is not None:
                emit()
            return
        if self._sort_job is not None and self._sort_job_order == order:
            return  # under way already
        self._stop_sorting()
        job = self._sort_steps(order)
        if len(self._entries) <= self._sort_step:
            self._apply(run_steps(job))
            return
        self._sort_job, self._sort_job_order = job, order
        self._sort_timer.start()

    def _sort_some(self) -> None:
        """One step of the sort under way (a turn of the event loop between steps)."""
        job = self._sort_job
        if job is None:
            self._sort_timer.stop()
            return
        try:
            next(job)
        except StopIteration as done:
            self._sort_job = self._sort_job_order = None
            self._sort_timer.stop()
            self._apply(done.value)

    def _stop_sorting(self) -> None:
        self._sort_timer.stop()
        job, self._sort_job, self._sort_job_order = self._sort_job, None, None
        if job is not None:
            job.close()
            for spare in self._spare:
                spare.clear()  # what the job had filled

    def _sort_steps(self, order: tuple[Column, Qt.SortOrder]
                    ) -> Generator[None, None, _Sorted]:
        """Sort the entries there are now, ``sort_step`` at a time; rows appended
        meanwhile stay after them. Nothing of the model changes until :meth:`_apply`.

        Every pass over the rows is cut in steps, the last one included: the
        sorted lists are filled piece by piece, into the spare lists. (Before, the
        last step copied the sorted list of a million rows and freed a million
        positions' int objects in sorted order: 60-155 ms.)"""
        column, sort_order = order
        step = self._sort_step
        # Only appended to while the job runs (a reset or a new filter stops the
        # job first): its first `count` entries are the ones sorted, no copy.
        entries = self._entries
        count = len(entries)
        old_rows = len(self._rows)
        text = self._filter
        key = None if column == Column.NAME else self._sort_key(column)
        positions = yield from order_steps(
            entries, key, descending=sort_order == Qt.SortOrder.DescendingOrder,
            name_key=self._name_keys.__getitem__, name=itemgetter(NAME),
            is_dir=itemgetter(IS_DIR), step=step)
        new_row = array("q", [-1]) * count
        ordered, rows = self._spare
        ordered.clear()
        rows.clear()
        for start in range(0, count, step):
            chunk = positions[start:start + step]
            if text:
                for position in chunk:
                    item = entries[position]
                    ordered.append(item)
                    if text in item[NAME].casefold():
                        new_row[position] = len(rows)
                        rows.append(item)
            else:
                for row, position in enumerate(chunk, start):
                    new_row[position] = row
                items = list(map(entries.__getitem__, chunk))
                ordered.extend(items)
                rows.extend(items)
            yield
        row_entry: array[int] | None = None
        if text:
            row_entry = array("q")
            for start in range(0, count, step):
                row_entry.extend(p for p in range(start, min(count, start + step))
                                 if text in entries[p][NAME].casefold())
                yield
        return _Sorted(ordered, rows, old_rows, new_row, row_entry, order)

    def _apply(self, result: _Sorted) -> None:
        """Show the sorted rows in one layout change; persistent indexes follow
        their entries."""
        self.layoutAboutToBeChanged[_WITH_HINT].emit([], _VERTICAL)  # type: ignore[index]
        old = self.persistentIndexList()
        moved: list[QModelIndex] = []
        for index in old:
            row = index.row()
            if row < result.old_rows:
                position = row if result.row_entry is None else result.row_entry[row]
                row = result.new_row[position]
            moved.append(self.index(row, index.column()))
        count = len(result.entries)
        result.entries.extend(self._entries[count:])
        result.rows.extend(self._rows[result.old_rows:])
        stale = self._entries, self._rows
        self._entries, self._rows = result.entries, result.rows
        complete = count == len(self._entries)
        self._entries_order = result.order if complete else None
        emit = self._settle_state() if complete else None
        self.changePersistentIndexList(old, moved)
        self.layoutChanged[_WITH_HINT].emit([], _VERTICAL)  # type: ignore[index]
        for shown_before in stale:
            shown_before.clear()  # ~10 ms a million (no row dies: the new lists hold them)
        self._spare = stale
        if emit is not None:
            emit()
        elif self._settle is not None:
            self._reorder()  # rows came while sorting: sort again, then settle

    def _sort_key(self, column: Column) -> Callable[[Row], Any]:
        if column == Column.SIZE:
            return lambda row: -1 if row[SIZE] is None else row[SIZE]
        if column == Column.MODIFIED:
            return lambda row: 0.0 if row[MTIME] is None else row[MTIME]
        if column == Column.KIND:
            return lambda row: self._kind(row).casefold()
        return lambda row: row[NAME].casefold()

    def _kind(self, row: Row) -> str:
        return self._kinds.kind(row[NAME], row[IS_DIR], row[CONTENT_TYPE])

    def _display(self, row: Row, column: Column) -> str:
        if column == Column.NAME:
            return row[NAME]
        if column == Column.SIZE:
            if row[IS_DIR]:
                return "—"
            size = row[SIZE]
            return "" if size is None else human_size(size)
        if column == Column.MODIFIED:
            mtime = row[MTIME]
            if mtime is None:
                return ""
            when = QDateTime.fromMSecsSinceEpoch(round(mtime * 1000))
            return self._locale.toString(when, self._date_format)
        return self._kind(row)

    def _tooltip(self, row: Row) -> str:
        lines = [row[PATH], self._kind(row)]
        size, mtime, etag = row[SIZE], row[MTIME], row[ETAG]
        if size is not None:
            lines.append(f"Size: {exact_bytes(size)}")
        if mtime is not None:
            lines.append(f"Modified: {iso_time(mtime)}")
        if etag:
            lines.append(f"ETag: {etag}")
        return "\n".join(lines)

    @staticmethod
    def _alignment(column: Column) -> Qt.AlignmentFlag:
        horizontal = Qt.AlignmentFlag.AlignRight if column == Column.SIZE \
            else Qt.AlignmentFlag.AlignLeft
        return horizontal | Qt.AlignmentFlag.AlignVCenter
