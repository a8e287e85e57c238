"""``orbit cp`` killed with SIGKILL mid-transfer, then ``orbit resume``: the file ends
byte-identical, parts the journal had confirmed are not sent again, nothing partial
is left behind; and ``orbit resume --discard`` cleans up instead."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from orbit_gui.engine.backends.local import TEMP_PREFIX
from tests.cli.conftest import Orbit, follow, json_lines
from tests.cli.test_cli import sftp_profile
from tests.servers.info import SshServer
from tests.transfer_support import sha256_file, write_pattern

MiB = 1024 * 1024
SIZE = 40 * MiB + 321


def kill_after_parts(process: subprocess.Popen[str], parts: int) -> dict[str, Any]:
    """Read progress until ``parts`` parts are done, then SIGKILL the process."""
    last: dict[str, Any] = {}
    for line in follow(process):
        last = line
        if sum(p["state"] == "done" for p in line["parts"]) >= parts:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    assert last and last["state"] != "done"
    return last


def confirmed_in_journal(orbit: Orbit, transfer: str) -> set[int]:
    """Part or range numbers the journal recorded as done for a single-file transfer."""
    db = sqlite3.connect(orbit.journal_path())
    try:
        (method, checkpoint), = db.execute(
            "SELECT method, checkpoint FROM files WHERE transfer_id = ?", (transfer,))
        if method == "window":
            runs = json.loads(checkpoint)["done"] if checkpoint else []
            return {index for start, stop in runs for index in range(start, stop)}
        return {row[0] for row in db.execute("SELECT idx FROM parts WHERE transfer_id = ?",
                                              (transfer,))}
    finally:
        db.close()


def check_resume(orbit: Orbit, transfer: str, confirmed: set[int]) -> list[dict[str, Any]]:
    history = json_lines(orbit.run("transfers", "--json", check=True).stdout)
    assert [(h["transfer"], h["state"]) for h in history] == [(transfer, "interrupted")]
    listed = orbit.run("resume", "--list", check=True)
    assert transfer in listed.stdout
    resumed = orbit.run("resume", "--progress", "json")
    assert resumed.returncode == 0, resumed.stderr
    lines = json_lines(resumed.stdout)
    assert {line["transfer"] for line in lines} == {transfer}
    assert lines[-1]["state"] == "done"
    for line in lines:  # a confirmed part is never in flight again
        for part in line["parts"]:
            if part["index"] in confirmed:
                assert part["state"] == "done", part
    assert max(line["resumed_bytes"] for line in lines) >= len(confirmed) * MiB
    history = json_lines(orbit.run("transfers", "--json", check=True).stdout)
    assert history[0]["state"] == "done"
    assert orbit.run("resume", check=True).stderr.strip() == "orbit: nothing to resume"
    return lines


def test_killed_download_resumes_without_fetching_confirmed_ranges(
        orbit: Orbit, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    write_pattern(src, SIZE, seed=3)
    dst = tmp_path / "out" / "big.bin"
    process = orbit.start("cp", str(src), str(dst), "--progress", "json", "--part-size", "1M",
                          "--window", "2", "--bwlimit", "8M")
    last = kill_after_parts(process, 4)
    confirmed = confirmed_in_journal(orbit, last["transfer"])
    assert len(confirmed) >= 1
    assert not dst.exists()
    check_resume(orbit, last["transfer"], confirmed)
    assert sha256_file(dst) == sha256_file(src)
    assert [p.name for p in dst.parent.iterdir()] == ["big.bin"]


def test_killed_part_upload_resumes_without_resending_confirmed_parts(
        orbit: Orbit, sshd_server: SshServer, tmp_path: Path) -> None:
    sftp_profile(orbit, sshd_server, "box", sshd_server.known_hosts)
    folder = sshd_server.root / f"resume-{os.urandom(4).hex()}"
    folder.mkdir()
    src = tmp_path / "up.bin"
    write_pattern(src, SIZE, seed=4)
    process = orbit.start("cp", str(src), f"box:{folder}/up.bin", "--progress", "json",
                          "--part-size", "1M", "--window", "2", "--bwlimit", "8M")
    last = kill_after_parts(process, 4)
    confirmed = confirmed_in_journal(orbit, last["transfer"])
    assert len(confirmed) >= 1
    partial = [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(partial) == 1 and not (folder / "up.bin").exists()
    check_resume(orbit, last["transfer"], confirmed)
    assert sha256_file(folder / "up.bin") == sha256_file(src)
    assert [p.name for p in folder.iterdir()] == ["up.bin"]  # no partial file left


def test_discarding_an_interrupted_transfer_removes_its_partial_file(
        orbit: Orbit, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    write_pattern(src, SIZE, seed=5)
    out = tmp_path / "out"
    process = orbit.start("cp", str(src), str(out / "big.bin"), "--progress", "json",
                          "--part-size", "1M", "--bwlimit", "8M")
    last = kill_after_parts(process, 2)
    assert [p.name for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]
    discarded = orbit.run("resume", "--discard", last["transfer"][:6], check=True)
    assert "discarded" in discarded.stderr
    assert list(out.iterdir()) == []
    history = json_lines(orbit.run("transfers", "--json", check=True).stdout)
    assert history[0]["state"] == "cancelled"
    assert orbit.run("resume", check=True).stderr.strip() == "orbit: nothing to resume"


def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_transfer(orbit: Orbit,
                                                              tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    write_pattern(src, SIZE, seed=6)
    dst = tmp_path / "out" / "big.bin"
    process = orbit.start("cp", str(src), str(dst), "--progress", "json", "--part-size", "1M",
                          "--bwlimit", "8M")
    transfer = ""
    for line in follow(process):
        transfer = line["transfer"]
        if sum(p["state"] == "done" for p in line["parts"]) >= 2:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "orbit resume" in stderr and "Traceback" not in stderr
    history = json_lines(orbit.run("transfers", "--json", check=True).stdout)
    assert [(h["transfer"], h["state"]) for h in history] == [(transfer, "interrupted")]
    assert history[0]["bytes_done"] >= 2 * MiB
    orbit.run("resume", transfer, check=True)
    assert sha256_file(dst) == sha256_file(src)
