"""The crash-safe transfer journal: SQLite in the state folder.

Every transfer is recorded when it is queued; each file's resumable state
(the multipart upload id, the partial temp file, a download checkpoint) is
written before the first byte that depends on it, and every finished part,
range and file as it completes. After a crash or ``kill -9`` the next run finds
the transfers whose owner process is gone (:meth:`Journal.unfinished`) and can
continue them without sending again what was confirmed, or discard them
(aborting multipart uploads and removing partial files).

The :class:`Journal` itself is synchronous and owned by one thread;
:class:`AsyncJournal` runs it on a private single worker thread so the event
loop never waits on the disk: ``post`` queues a write in order and returns at
once, ``call`` awaits a result. WAL mode keeps each transaction tiny and lets
several Orbit processes (the app and the CLI) share the file. History is
pruned when the journal opens: finished transfers beyond ``keep`` or older
than ``max_age`` go, and a finished transfer's per-file rows go with its end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from ..locations import state_dir

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_MAX_AGE",
    "AsyncJournal",
    "FileRecord",
    "Journal",
    "PartRecord",
    "TransferRecord",
    "default_journal_path",
]

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_KEEP = 500
"""Finished transfers kept in the history."""
DEFAULT_MAX_AGE = 30 * 24 * 3600.0
"""Seconds a finished transfer stays in the history."""

_FINISHED = ("done", "failed", "cancelled")
_OPEN_STATES = "('done', 'cancelled')"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    state TEXT NOT NULL,
    direction TEXT NOT NULL,
    source TEXT NOT NULL,
    destination TEXT NOT NULL,
    spec TEXT NOT NULL,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    files_done INTEGER NOT NULL DEFAULT 0,
    files_total INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    owner_pid INTEGER
);
CREATE INDEX IF NOT EXISTS transfers_finished ON transfers (finished);
CREATE TABLE IF NOT EXISTS files (
    transfer_id TEXT NOT NULL,
    rel TEXT NOT NULL,
    state TEXT NOT NULL,
    size INTEGER,
    etag TEXT,
    mtime REAL,
    dest_path TEXT,
    method TEXT,
    upload_id TEXT,
    temp_path TEXT,
    part_size INTEGER,
    checkpoint TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (transfer_id, rel)
);
CREATE TABLE IF NOT EXISTS parts (
    transfer_id TEXT NOT NULL,
    rel TEXT NOT NULL,
    idx INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    etag TEXT,
    PRIMARY KEY (transfer_id, rel, idx)
);
"""


def default_journal_path() -> Path:
    return state_dir() / "journal.sqlite3"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) is gone for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass(frozen=True, slots=True)
class TransferRecord:
    id: str
    created: float
    updated: float
    finished: float | None
    state: str
    direction: str
    source: str
    destination: str
    spec: Mapping[str, Any]
    """How to run it again: endpoints (profile names and paths) and options."""
    bytes_done: int
    total: int | None
    files_done: int
    files_total: int
    error: str | None
    owner_pid: int | None

    @property
    def is_finished(self) -> bool:
        return self.state in _FINISHED

    @property
    def owned_elsewhere(self) -> bool:
        """Another live process is running it right now."""
        return self.owner_pid != os.getpid() and _pid_alive(self.owner_pid)

    @property
    def interrupted(self) -> bool:
        """Left unfinished by a process that is gone."""
        return self.state not in _FINISHED and not _pid_alive(self.owner_pid)

    def to_json(self) -> dict[str, Any]:
        state = "interrupted" if self.interrupted else self.state
        return {"transfer": self.id, "state": state, "direction": self.direction,
                "source": self.source, "destination": self.destination,
                "bytes_done": self.bytes_done, "total": self.total,
                "files_done": self.files_done, "files_total": self.files_total,
                "error": self.error, "created": self.created, "finished": self.finished}


@dataclass(frozen=True, slots=True)
class FileRecord:
    transfer_id: str
    rel: str
    state: str
    size: int | None
    etag: str | None
    mtime: float | None
    dest_path: str | None
    method: str | None
    upload_id: str | None
    temp_path: str | None
    part_size: int | None
    checkpoint: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class PartRecord:
    index: int
    offset: int
    length: int
    etag: str | None


def _transfer(row: sqlite3.Row) -> TransferRecord:
    return TransferRecord(
        id=row["id"], created=row["created"], updated=row["updated"], finished=row["finished"],
        state=row["state"], direction=row["direction"], source=row["source"],
        destination=row["destination"], spec=json.loads(row["spec"]),
        bytes_done=row["bytes_done"], total=row["total"], files_done=row["files_done"],
        files_total=row["files_total"], error=row["error"], owner_pid=row["owner_pid"])


def _file(row: sqlite3.Row) -> FileRecord:
    checkpoint = row["checkpoint"]
    return FileRecord(
        transfer_id=row["transfer_id"], rel=row["rel"], state=row["state"], size=row["size"],
        etag=row["etag"], mtime=row["mtime"], dest_path=row["dest_path"], method=row["method"],
        upload_id=row["upload_id"], temp_path=row["temp_path"], part_size=row["part_size"],
        checkpoint=None if checkpoint is None else json.loads(checkpoint))


class Journal:
    """The journal database; use from one thread at a time (see AsyncJournal)."""

    def __init__(self, path: Path | str | None = None, *, keep: int = DEFAULT_KEEP,
                 max_age: float = DEFAULT_MAX_AGE, prune: bool = True) -> None:
        self.path = Path(path) if path is not None else default_journal_path()
        memory = str(path) == ":memory:"
        if not memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.max_age = max_age
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)
        if not memory:
            with suppress(OSError):
                os.chmod(self.path, 0o600)
        if prune:
            self.prune()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Transfers

    def add_transfer(self, transfer_id: str, *, direction: str, source: str, destination: str,
                     spec: Mapping[str, Any], state: str = "queued",
                     total: int | None = None) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO transfers (id, created, updated, state, direction, source, "
                "destination, spec, total, owner_pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated=excluded.updated, state=excluded.state, "
                "owner_pid=excluded.owner_pid, finished=NULL, error=NULL",
                (transfer_id, now, now, state, direction, source, destination,
                 json.dumps(dict(spec)), total, os.getpid()))

    def claim(self, transfer_id: str) -> bool:
        """Make this process the owner of an interrupted transfer; False if a live one is."""
        with self._tx() as db:
            row = db.execute("SELECT owner_pid, state FROM transfers WHERE id = ?",
                             (transfer_id,)).fetchone()
            if row is None:
                return False
            if row["owner_pid"] not in (None, os.getpid()) and _pid_alive(row["owner_pid"]):
                return False
            db.execute("UPDATE transfers SET owner_pid = ?, updated = ?, finished = NULL "
                       "WHERE id = ?", (os.getpid(), time.time(), transfer_id))
        return True

    def release(self, transfer_id: str) -> None:
        """This process stops running it (it stays unfinished, resumable by anyone)."""
        with self._tx() as db:
            db.execute("UPDATE transfers SET owner_pid = NULL WHERE id = ? AND owner_pid = ?",
                       (transfer_id, os.getpid()))

    def update_transfer(self, transfer_id: str, *, state: str | None = None,
                        bytes_done: int | None = None, total: int | None = None,
                        files_done: int | None = None, files_total: int | None = None,
                        error: str | None = None) -> None:
        sets = ["updated = ?"]
        values: list[Any] = [time.time()]
        for column, value in (("state", state), ("bytes_done", bytes_done), ("total", total),
                              ("files_done", files_done), ("files_total", files_total),
                              ("error", error)):
            if value is not None:
                sets.append(f"{column} = ?")
                values.append(value)
        with self._tx() as db:
            db.execute(f"UPDATE transfers SET {', '.join(sets)} WHERE id = ?",
                       (*values, transfer_id))

    def finish_transfer(self, transfer_id: str, state: str, *, error: str | None = None,
                        bytes_done: int | None = None, total: int | None = None,
                        files_done: int | None = None, files_total: int | None = None) -> None:
        """Record the end; per-file rows are dropped unless a retry may need them."""
        if state not in _FINISHED:
            raise ValueError(f"{state!r} is not a finished state")
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE transfers SET state = ?, error = ?, finished = ?, updated = ?, "
                "owner_pid = NULL, bytes_done = COALESCE(?, bytes_done), "
                "total = COALESCE(?, total), files_done = COALESCE(?, files_done), "
                "files_total = COALESCE(?, files_total) WHERE id = ?",
                (state, error, now, now, bytes_done, total, files_done, files_total,
                 transfer_id))
            if state != "failed":
                db.execute("DELETE FROM files WHERE transfer_id = ?", (transfer_id,))
                db.execute("DELETE FROM parts WHERE transfer_id = ?", (transfer_id,))

    def forget(self, transfer_id: str) -> None:
        with self._tx() as db:
            for table, column in (("parts", "transfer_id"), ("files", "transfer_id"),
                                  ("transfers", "id")):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (transfer_id,))

    def get(self, transfer_id: str) -> TransferRecord | None:
        row = self._db.execute("SELECT * FROM transfers WHERE id = ?",
                               (transfer_id,)).fetchone()
        return None if row is None else _transfer(row)

    def find(self, prefix: str) -> list[TransferRecord]:
        """Transfers whose id starts with ``prefix`` (ids can be abbreviated)."""
        rows = self._db.execute("SELECT * FROM transfers WHERE id LIKE ? ESCAPE '\\' "
                                "ORDER BY created", (_like_prefix(prefix),)).fetchall()
        return [_transfer(row) for row in rows]

    def transfers(self, *, limit: int | None = None) -> list[TransferRecord]:
        """Newest first."""
        query = "SELECT * FROM transfers ORDER BY created DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return [_transfer(row) for row in self._db.execute(query).fetchall()]

    def unfinished(self) -> list[TransferRecord]:
        """Transfers left unfinished by processes that are gone, oldest first."""
        rows = self._db.execute(
            f"SELECT * FROM transfers WHERE state NOT IN {_OPEN_STATES} AND state != 'failed' "
            "ORDER BY created").fetchall()
        return [record for record in map(_transfer, rows) if record.interrupted]

    def resumable(self) -> list[TransferRecord]:
        """Unfinished or failed transfers not being run by a live process."""
        rows = self._db.execute(
            f"SELECT * FROM transfers WHERE state NOT IN {_OPEN_STATES} ORDER BY created"
        ).fetchall()
        return [record for record in map(_transfer, rows) if not record.owned_elsewhere]

    # Files

    def file_started(self, transfer_id: str, rel: str, *, size: int | None, etag: str | None,
                     mtime: float | None, dest_path: str, method: str,
                     part_size: int | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO files (transfer_id, rel, state, size, etag, mtime, dest_path, "
                "method, part_size, updated) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(transfer_id, rel) DO UPDATE SET state='running', size=excluded.size, "
                "etag=excluded.etag, mtime=excluded.mtime, dest_path=excluded.dest_path, "
                "method=excluded.method, part_size=excluded.part_size, updated=excluded.updated",
                (transfer_id, rel, size, etag, mtime, dest_path, method, part_size, time.time()))

    def set_upload(self, transfer_id: str, rel: str, upload_id: str | None,
                   part_size: int | None = None) -> None:
        """Record (or clear) a file's multipart upload id before any part is sent."""
        with self._tx() as db:
            db.execute("UPDATE files SET upload_id = ?, part_size = COALESCE(?, part_size), "
                       "updated = ? WHERE transfer_id = ? AND rel = ?",
                       (upload_id, part_size, time.time(), transfer_id, rel))
            if upload_id is None:
                db.execute("DELETE FROM parts WHERE transfer_id = ? AND rel = ?",
                           (transfer_id, rel))

    def set_temp(self, transfer_id: str, rel: str, temp_path: str | None) -> None:
        """Record (or clear) the partial file a download writes into."""
        with self._tx() as db:
            db.execute("UPDATE files SET temp_path = ?, updated = ? "
                       "WHERE transfer_id = ? AND rel = ?",
                       (temp_path, time.time(), transfer_id, rel))

    def set_checkpoint(self, transfer_id: str, rel: str,
                       checkpoint: Mapping[str, Any] | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE files SET checkpoint = ?, updated = ? "
                       "WHERE transfer_id = ? AND rel = ?",
                       (None if checkpoint is None else json.dumps(dict(checkpoint)),
                        time.time(), transfer_id, rel))

    def part_done(self, transfer_id: str, rel: str, index: int, offset: int, length: int,
                  etag: str | None = None, *, bytes_done: int | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO parts (transfer_id, rel, idx, offset, length, "
                       "etag) VALUES (?, ?, ?, ?, ?, ?)",
                       (transfer_id, rel, index, offset, length, etag))
            if bytes_done is not None:
                db.execute("UPDATE transfers SET bytes_done = ?, updated = ? WHERE id = ?",
                           (bytes_done, time.time(), transfer_id))

    def file_finished(self, transfer_id: str, rel: str, state: str, *,
                      size: int | None = None, etag: str | None = None,
                      dest_path: str | None = None, files_done: int | None = None,
                      bytes_done: int | None = None) -> None:
        """``state``: "done", "skipped" or "failed"; its resumable details are dropped."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO files (transfer_id, rel, state, size, etag, dest_path, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(transfer_id, rel) DO UPDATE SET "
                "state = excluded.state, upload_id = NULL, temp_path = NULL, checkpoint = NULL, "
                "size = COALESCE(excluded.size, size), etag = COALESCE(excluded.etag, etag), "
                "dest_path = COALESCE(excluded.dest_path, dest_path), updated = excluded.updated",
                (transfer_id, rel, state, size, etag, dest_path, now))
            db.execute("DELETE FROM parts WHERE transfer_id = ? AND rel = ?", (transfer_id, rel))
            if files_done is not None or bytes_done is not None:
                db.execute("UPDATE transfers SET files_done = COALESCE(?, files_done), "
                           "bytes_done = COALESCE(?, bytes_done), updated = ? WHERE id = ?",
                           (files_done, bytes_done, now, transfer_id))

    def file_failed(self, transfer_id: str, rel: str) -> None:
        """The file failed; what it left stays recorded for a retry (or a cleanup)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO files (transfer_id, rel, state, updated) VALUES (?, ?, 'failed', ?) "
                "ON CONFLICT(transfer_id, rel) DO UPDATE SET state = 'failed', "
                "updated = excluded.updated", (transfer_id, rel, now))

    def unfinished_files(self, transfer_id: str) -> list[FileRecord]:
        """Files with something left behind to resume from or to clean up."""
        rows = self._db.execute(
            "SELECT * FROM files WHERE transfer_id = ? AND state IN ('running', 'failed') AND "
            "(upload_id IS NOT NULL OR temp_path IS NOT NULL)", (transfer_id,)).fetchall()
        return [_file(row) for row in rows]

    def finished_files(self, transfer_id: str) -> dict[str, tuple[int | None, str | None]]:
        """Files done or skipped in earlier runs: rel -> (size, etag)."""
        rows = self._db.execute("SELECT rel, size, etag FROM files WHERE transfer_id = ? AND "
                                "state IN ('done', 'skipped')", (transfer_id,)).fetchall()
        return {row["rel"]: (row["size"], row["etag"]) for row in rows}

    def files(self, transfer_id: str, state: str | None = None) -> list[FileRecord]:
        if state is None:
            rows = self._db.execute("SELECT * FROM files WHERE transfer_id = ?",
                                    (transfer_id,)).fetchall()
        else:
            rows = self._db.execute("SELECT * FROM files WHERE transfer_id = ? AND state = ?",
                                    (transfer_id, state)).fetchall()
        return [_file(row) for row in rows]

    def file(self, transfer_id: str, rel: str) -> FileRecord | None:
        row = self._db.execute("SELECT * FROM files WHERE transfer_id = ? AND rel = ?",
                               (transfer_id, rel)).fetchone()
        return None if row is None else _file(row)

    def parts(self, transfer_id: str, rel: str) -> list[PartRecord]:
        rows = self._db.execute("SELECT idx, offset, length, etag FROM parts "
                                "WHERE transfer_id = ? AND rel = ? ORDER BY idx",
                                (transfer_id, rel)).fetchall()
        return [PartRecord(row["idx"], row["offset"], row["length"], row["etag"])
                for row in rows]

    # History

    def prune(self, *, keep: int | None = None, max_age: float | None = None,
              now: float | None = None) -> int:
        """Drop finished transfers beyond the newest ``keep`` or older than ``max_age``."""
        keep = self.keep if keep is None else keep
        max_age = self.max_age if max_age is None else max_age
        cutoff = (time.time() if now is None else now) - max_age
        with self._tx() as db:
            doomed = [row[0] for row in db.execute(
                "SELECT id FROM transfers WHERE finished IS NOT NULL AND (finished < ? OR id "
                "NOT IN (SELECT id FROM transfers WHERE finished IS NOT NULL "
                "ORDER BY finished DESC LIMIT ?))", (cutoff, keep)).fetchall()]
            for start in range(0, len(doomed), 500):
                chunk = doomed[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                db.execute(f"DELETE FROM parts WHERE transfer_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM files WHERE transfer_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM transfers WHERE id IN ({marks})", chunk)
        return len(doomed)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _report(future: concurrent.futures.Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        log.error("the transfer journal could not record a change: %s", error)


class AsyncJournal:
    """A :class:`Journal` run on its own worker thread, writes kept in order."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="orbit-journal")
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str | None = None, **kwargs: Any) -> AsyncJournal:
        journal = await asyncio.to_thread(Journal, path, **kwargs)
        return cls(journal)

    def post(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue a write; returns at once. Errors are reported by the next ``call``."""
        if self._closed:
            return
        self._executor.submit(fn, *args, **kwargs).add_done_callback(_report)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` after every queued write; await its result."""
        future = self._executor.submit(fn, *args, **kwargs)
        return await asyncio.wrap_future(future)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.wrap_future(self._executor.submit(self.journal.close))
        self._executor.shutdown(wait=False)
