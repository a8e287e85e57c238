"""The transfer journal: what it records, crash survival, interrupted transfers, pruning."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orbit_gui.engine.transfer import AsyncJournal, Journal
from orbit_gui.engine.transfer.journal import default_journal_path


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def add(journal: Journal, transfer_id: str, **kwargs: object) -> None:
    journal.add_transfer(transfer_id, direction="upload", source="/a", destination="s3:/b/a",
                         spec={"source": {"ref": None, "path": "/a"}}, **kwargs)  # type: ignore[arg-type]


def test_lives_in_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORBIT_CONFIG_DIR", str(tmp_path))
    assert default_journal_path() == tmp_path / "state" / "journal.sqlite3"
    journal = Journal()
    try:
        assert journal.path.exists()
        assert oct(journal.path.stat().st_mode & 0o777) == "0o600"
        mode = journal._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        journal.close()


def test_records_files_parts_and_drops_them_when_done(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    add(journal, "t1")
    journal.file_started("t1", "a/b", size=10, etag="e", mtime=1.0, dest_path="/b/a/b",
                         method="parts", part_size=5)
    journal.set_upload("t1", "a/b", "upload-1", 5)
    journal.part_done("t1", "a/b", 0, 0, 5, "etag0", bytes_done=5)
    file = journal.file("t1", "a/b")
    assert file is not None and file.upload_id == "upload-1" and file.part_size == 5
    assert [(p.index, p.etag) for p in journal.parts("t1", "a/b")] == [(0, "etag0")]
    assert [f.rel for f in journal.unfinished_files("t1")] == ["a/b"]
    record = journal.get("t1")
    assert record is not None and record.bytes_done == 5 and not record.interrupted

    journal.file_failed("t1", "a/b")  # a failure keeps what a retry needs
    failed = journal.file("t1", "a/b")
    assert failed is not None and failed.state == "failed" and failed.upload_id == "upload-1"

    journal.file_finished("t1", "a/b", "done", size=10, files_done=1, bytes_done=10)
    assert journal.parts("t1", "a/b") == []
    assert journal.finished_files("t1") == {"a/b": (10, "e")}
    journal.finish_transfer("t1", "done", bytes_done=10, total=10, files_done=1, files_total=1)
    assert journal.files("t1") == []
    record = journal.get("t1")
    assert record is not None and record.state == "done" and record.total == 10
    journal.close()


def test_a_transfer_whose_process_is_gone_is_interrupted(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    add(journal, "mine")
    add(journal, "orphan")
    add(journal, "finished")
    journal.finish_transfer("finished", "done")
    journal._db.execute("UPDATE transfers SET owner_pid = ? WHERE id = 'orphan'", (dead_pid(),))
    assert [r.id for r in journal.unfinished()] == ["orphan"]
    assert journal.get("orphan").interrupted  # type: ignore[union-attr]
    assert not journal.get("mine").interrupted  # type: ignore[union-attr]
    assert journal.claim("orphan")
    assert journal.unfinished() == []
    journal.release("orphan")
    assert [r.id for r in journal.unfinished()] == ["orphan"]
    assert [r.id for r in journal.find("orph")] == ["orphan"]
    assert journal.find("%") == []  # ids are matched literally
    journal.close()


def test_the_journal_survives_a_kill_mid_transfer(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    script = textwrap.dedent(f"""
        import os, signal, sys
        from orbit_gui.engine.transfer import Journal
        journal = Journal({str(path)!r})
        journal.add_transfer("crash", direction="download", source="s3:/b/k",
                             destination="/tmp/k", spec={{}})
        journal.file_started("crash", "", size=100, etag="e", mtime=None, dest_path="/tmp/k",
                             method="window")
        journal.set_temp("crash", "", "/tmp/.orbit-partial-x")
        for index in range(1, 6):
            journal.set_checkpoint("crash", "", {{"done": [[0, index]]}})
        print("ready", flush=True)
        journal._db.execute("BEGIN IMMEDIATE")
        journal._db.execute("UPDATE transfers SET state = 'torn' WHERE id = 'crash'")
        os.kill(os.getpid(), signal.SIGKILL)  # in the middle of a transaction
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           cwd=Path(__file__).parents[2])
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "ready\n"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    journal = Journal(path)
    [record] = journal.unfinished()
    assert record.id == "crash" and record.state == "queued"  # the torn write is gone
    file = journal.file("crash", "")
    assert file is not None and file.temp_path == "/tmp/.orbit-partial-x"
    assert file.checkpoint == {"done": [[0, 5]]}
    journal.close()


def test_history_is_pruned_by_count_and_age(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3", keep=5)
    for index in range(12):
        add(journal, f"t{index:02}")
        journal.file_failed(f"t{index:02}", "f")
        journal.finish_transfer(f"t{index:02}", "failed", error="x")
    add(journal, "running")
    journal._db.execute("UPDATE transfers SET finished = 1000 + CAST(substr(id, 2) AS REAL) "
                        "WHERE id != 'running'")
    assert journal.prune(now=2000, max_age=10**9) == 7
    ids = [r.id for r in journal.transfers()]
    assert sorted(ids) == ["running", "t07", "t08", "t09", "t10", "t11"]
    assert journal.files("t00") == []  # the rows of pruned transfers go with them
    # older than 100 s at t=1110: finished before 1010 (t07, t08, t09)
    assert journal.prune(now=1110, max_age=100) == 3
    assert sorted(r.id for r in journal.transfers()) == ["running", "t10", "t11"]
    journal.close()
    reopened = Journal(tmp_path / "j.sqlite3", keep=1, max_age=10**12)  # opening prunes too
    assert sorted(r.id for r in reopened.transfers()) == ["running", "t11"]
    reopened.close()


async def test_async_journal_keeps_writes_in_order(tmp_path: Path) -> None:
    journal = await AsyncJournal.open(tmp_path / "j.sqlite3")
    journal.post(journal.journal.add_transfer, "t", direction="copy", source="a",
                 destination="b", spec={})
    for index in range(100):
        journal.post(journal.journal.update_transfer, "t", bytes_done=index)
    record = await journal.call(journal.journal.get, "t")
    assert record is not None and record.bytes_done == 99 and record.owner_pid == os.getpid()
    await journal.aclose()
