"""Case 5, listing scale: one folder of N entries (default 1,000,000 empty files),
served as an SFTP folder by the sshd, and one of fewer (default 20,000) as an S3
bucket by `rclone serve s3`: every S3 client here parses XML pages at about
0.3 ms of CPU per entry, so 1M keys would take ~6 minutes per client and run.
At 200,000 entries or more each client runs once.

`orbit ls` vs `aws s3 ls` and `rclone lsf` (S3) and OpenSSH `sftp ls -1`
(SFTP): time to the first entry on stdout (from spawn: what a user waits),
total time, peak RSS. Then the GUI's ListingModel on a qasync loop with the
app's FileTable shown (offscreen): time to the first rows, rows/s, the worst
event-loop stall (a 10 ms QTimer heartbeat) and peak RSS, on both.
Targets: first entry < 0.5 s, CLI peak RSS < 100 MB, GUI worst stall < 100 ms.

    python -m bench.listing [--quick] [--listing 1000000] [--rounds 3]
    python -m bench.listing gui PROFILE PATH     # the GUI child (JSON on stdout)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness import (
    Contender,
    Measurement,
    MiB,
    Watch,
    alternate,
    ensure_awscli,
    first_output,
    same,
)
from bench._report import CaseResult, Options, Target, case_main
from bench._servers import Session
from bench.bench_s3 import aws_client, rclone_client, start_rclone_bench

__all__ = ["make_entries", "run"]

BUCKET = "big"


def make_entries(folder: Path, count: int) -> None:
    """``count`` empty files: cheap to make, and a listing is all that is measured."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_CREAT | os.O_WRONLY
    for n in range(count):
        os.close(os.open(folder / f"entry-{n:07}", flags, 0o644))


def _cli_contenders(session: Session, s3: Any, folder: Path, sftp: Any) -> dict[
        str, list[Contender]]:
    from tests.servers.rclone import rclone_binary

    peer_config = session.folder("peer-config")
    aws = aws_client(ensure_awscli(session.aws_venv), peer_config)
    rclone = rclone_client(rclone_binary(), peer_config)
    aws_bin = ensure_awscli(session.aws_venv)
    batch = session.work / "sftp-ls"
    batch.write_text(f"ls -1 {folder}\n")

    return {
        "S3": [
            Contender("orbit ls", same(session.orbit("ls", f"rclone-list:/{BUCKET}")),
                      session.env),
            Contender("aws s3 ls", same([str(aws_bin), "--endpoint-url", s3.endpoint_url,
                                          "s3", "ls", f"s3://{BUCKET}/"]), aws.env(s3)),
            Contender("rclone lsf", same([str(rclone_binary()), "lsf", f"bench:{BUCKET}",
                                           "--cache-dir", str(peer_config / "rclone-cache")]),
                      rclone.env(s3)),
        ],
        "SFTP": [
            Contender("orbit ls", same(session.orbit("ls", f"sftp:{folder}")), session.env),
            Contender("openssh sftp ls -1", same([
                "sftp", "-q", "-b", str(batch), "-P", str(sftp.port), "-i",
                str(sftp.client_key), "-o", f"UserKnownHostsFile={sftp.known_hosts}",
                "-o", "BatchMode=yes", f"{sftp.user}@{sftp.host}"]), dict(os.environ)),
        ],
    }


def _gui_contenders(session: Session, folder: Path) -> dict[str, Contender]:
    child = [sys.executable, "-m", "bench.listing", "gui"]
    return {"S3": Contender("GUI ListingModel", same([*child, "rclone-list", f"/{BUCKET}"]),
                            session.env),
            "SFTP": Contender("GUI ListingModel", same([*child, "sftp", str(folder)]),
                              session.env)}


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(session: Session, options: Options) -> CaseResult:
    counts = {"S3": options.listing_s3, "SFTP": options.listing}
    result = CaseResult("listing", f"5. Listing one folder of {counts['SFTP']:,} entries "
                        f"(SFTP) and one bucket of {counts['S3']:,} (S3): CLI and the GUI's "
                        "ListingModel", ["store", "entries", "client", "first entry s",
                                         "total s", "(min-max)", "entries/s", "peak RSS MiB",
                                         "worst stall ms", "runs"])
    started = time.perf_counter()

    def prepare(data_dir: Path) -> None:
        make_entries(data_dir / BUCKET, counts["S3"])

    s3 = session.start("rclone-list", lambda r: start_rclone_bench(r, prepare))
    session.s3_profile("rclone-list", s3, s3.endpoint_url)
    sftp = session.sftp()
    folder = session.folder("listing") / BUCKET
    make_entries(folder, counts["SFTP"])
    session.grant(folder)
    result.notes.append(f"{sum(counts.values()):,} empty files made in "
                        f"{time.perf_counter() - started:.0f} s on {session.work.parent}.")
    cli = _cli_contenders(session, s3, folder, sftp)
    gui = _gui_contenders(session, folder)
    for store in ("S3", "SFTP"):
        count = counts[store]
        rounds = options.rounds if count < 200_000 else 1
        watches: dict[str, list[Watch]] = {}
        contenders = [*cli[store], gui[store]]
        runs = alternate(contenders, rounds, label=f"list {store}", watches=watches)
        # One whole run of a huge folder per client, but the first entry still gets
        # its alternating rounds: those runs stop at the first entry.
        firsts: dict[str, list[float]] = {
            c.name: [w.first or float("nan") for w in watches[c.name]] for c in cli[store]}
        for round_no in range(rounds, options.rounds):
            for contender in cli[store]:
                firsts[contender.name].append(
                    first_output(contender.argv(round_no), env=contender.env))
        for contender in contenders:
            name = contender.name
            measured: list[Measurement] = runs[name]
            walls = [m.wall for m in measured]
            rss = _med([m.max_rss for m in measured])
            if name.startswith("GUI"):
                reports = [json.loads(w.tail.strip().splitlines()[-1]) for w in watches[name]]
                if any(r["rows"] != count for r in reports):
                    raise RuntimeError(f"GUI listing saw {[r['rows'] for r in reports]} rows")
                first = _med([r["first_rows"] for r in reports])
                total = _med([r["seconds"] for r in reports])
                worst = max(reports, key=lambda r: r["worst_stall"])
                stall = worst["worst_stall"]
                result.rows.append([store, f"{count:,}", name, f"{first:.2f}", f"{total:.1f}",
                                    f"({min(r['seconds'] for r in reports):.1f}-"
                                    f"{max(r['seconds'] for r in reports):.1f})",
                                    f"{count / total:,.0f}", f"{rss / MiB:.0f}",
                                    f"{stall * 1000:.0f}", str(rounds)])
                result.targets.append(Target(
                    f"listing {store}: GUI worst stall", f"{stall * 1000:.0f} ms "
                    f"(ended {worst['worst_at']:.1f} s into a {worst['seconds']:.1f} s listing)",
                    "< 100 ms", stall < 0.1))
                result.data[f"{store}/{name}"] = {"runs": measured, "reports": reports}
                continue
            lines = [w.lines for w in watches[name]]
            if min(lines) < count:
                raise RuntimeError(f"{name} printed {min(lines)} lines for {count} entries")
            first = _med(firsts[name])
            total = _med(walls)
            runs_note = (str(rounds) if len(firsts[name]) == rounds else
                         f"{rounds} (first entry: {len(firsts[name])})")
            result.rows.append([store, f"{count:,}", name, f"{first:.2f}", f"{total:.1f}",
                                f"({min(walls):.1f}-{max(walls):.1f})",
                                f"{count / total:,.0f}", f"{rss / MiB:.0f}", "", runs_note])
            result.data[f"{store}/{name}"] = {"runs": measured, "first": firsts[name]}
            if name == "orbit ls":
                result.targets.append(Target(f"listing {store}: orbit ls first entry",
                                             f"{first:.2f} s", "< 0.5 s", first < 0.5))
                result.targets.append(Target(f"listing {store}: orbit ls peak RSS",
                                             f"{rss / 1e6:.0f} MB", "< 100 MB", rss < 100e6))
    result.notes.append("First entry = seconds from spawn to the first byte on stdout "
                        "(interpreter start-up and connecting included), the median of "
                        "the rounds (a client that lists a huge folder once gets its other "
                        "rounds stopped at the first entry); GUI first rows = "
                        "seconds from set_path() to the first rowsInserted.")
    return result


async def _gui(profile: str, path: str) -> dict[str, Any]:
    from bench._qt import Heartbeat
    from orbit_gui.engine.connections import ConnectionPool
    from orbit_gui.engine.profiles import ProfileStore
    from orbit_gui.gc_timer import GarbageCollector
    from orbit_gui.models.listing_model import ListingModel, ListingState
    from orbit_gui.views.file_table import FileTable

    collector = GarbageCollector()  # as in the app: on the Qt thread, settled on connect
    collector.start()
    pool = ConnectionPool(ProfileStore())
    backend = await pool.get(profile)
    collector.settle()
    model = ListingModel(backend, fetch_size=1 << 40)
    view = FileTable()
    view.setModel(model)
    view.resize(1000, 700)
    view.show()
    done = asyncio.Event()
    first: list[float] = []
    start = time.perf_counter()

    def inserted(*_: object) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    model.rowsInserted.connect(inserted)
    model.listing_finished.connect(lambda p: done.set())
    model.listing_failed.connect(lambda p, why: done.set())
    beat = Heartbeat()
    model.set_path(path)
    await done.wait()
    seconds = time.perf_counter() - start
    beat.stop()
    rows = model.rowCount()
    failed = model.state == ListingState.FAILED
    await model.aclose()
    await pool.aclose()
    collector.stop()
    return {"rows": rows, "failed": failed, "error": model.error, "seconds": seconds,
            "first_rows": first[0] if first else None, "worst_stall": beat.worst,
            "worst_at": beat.worst_at,
            "ticks": beat.ticks}


if __name__ == "__main__":
    if sys.argv[1:2] == ["gui"]:
        from bench._qt import run_on_qt

        sys.exit(run_on_qt(lambda: _gui(sys.argv[2], sys.argv[3])))
    sys.exit(case_main("listing", run, __doc__))
