"""Case 4, memory scaling: peak RSS of `orbit cp` for a 1 GiB and a 4 GiB file, up
and down, on S3 (`rclone serve s3`), SFTP and SMB.

Targets: peak RSS <= 150 MB, and 4 GiB / 1 GiB <= 1.1 (memory does not grow
with the file). The 1 GiB runs of cases 1 and 3 are reused when they ran in the
same session (`make bench`); the 4 GiB side runs once per protocol and
direction (peak RSS varies little run to run; a 4 GiB run costs a minute), and
is skipped, with a note, when the disk lacks room for the source, the server's
copy and the download.

    python -m bench.memory [--quick] [--large 1GiB] [--huge 4GiB] [--rounds 3]
"""

from __future__ import annotations

import contextlib
import statistics
import sys
from pathlib import Path

from bench._harness import Contender, Measurement, MiB, alternate, disk_room, format_size, same
from bench._report import CaseResult, Options, Target, case_main
from bench._servers import BUCKET, Session
from bench.sftp_smb import remotes

__all__ = ["run"]

LIMIT = 150 * 1000 * 1000


def _targets(session: Session) -> list[tuple[str, Path | None, str]]:
    """(protocol, local folder behind the remote root or None for S3, orbit prefix)."""
    session.s3()
    found: list[tuple[str, Path | None, str]] = [("S3", None, f"rclone:/{BUCKET}/mem-")]
    for remote in remotes(session):
        found.append((remote.protocol, remote.folder, remote.orbit_path("mem-")))
    return found


def _measure(session: Session, source: Path, prefix: str, rounds: int, label: str
             ) -> dict[str, list[Measurement]]:
    """orbit cp of ``source`` up to ``prefix``+name, then down again."""
    name = source.name
    local = session.work / f"mem-down-{name}"
    up = Contender("up", same(session.orbit_cp(str(source), prefix + name)), session.env)
    down = Contender("down", same(session.orbit_cp(prefix + name, str(local))), session.env,
                     after=lambda n: local.unlink())
    runs = alternate([up], rounds, label=f"{label} up")
    runs.update(alternate([down], rounds, label=f"{label} down"))
    return runs


def run(session: Session, options: Options) -> CaseResult:
    small, big = options.large, options.huge
    result = CaseResult("memory", f"4. Memory: peak RSS of orbit cp, {format_size(small)} vs "
                        f"{format_size(big)}", ["protocol", "dir", f"{format_size(small)} MiB",
                                                f"{format_size(big)} MiB", "ratio", "runs"])
    sizes = [small]
    if disk_room(session.work, 3 * big):
        sizes.append(big)
    else:
        result.notes.append(f"{format_size(big)} skipped: not enough free disk for the "
                            "source, the server's copy and the download")
    targets = _targets(session)
    for size in sizes:
        wanted = [t for t in targets
                  if any((t[0], d, size) not in session.orbit_runs for d in ("up", "down"))]
        if not wanted:
            continue
        rounds = 1 if size >= 2 * 1024 * MiB else max(1, min(options.rounds, 2))
        with session.test_file(f"mem-{format_size(size)}.bin", size) as source:
            for protocol, folder, prefix in wanted:
                runs = _measure(session, source, prefix, rounds,
                                f"mem {protocol} {format_size(size)}")
                for direction in ("up", "down"):
                    session.orbit_runs[(protocol, direction, size)] = runs[direction]
                if folder is not None:
                    with contextlib.suppress(OSError):
                        (folder / source.name).unlink()
    for protocol, _, _ in targets:
        for direction in ("up", "down"):
            low_runs = session.orbit_runs[(protocol, direction, small)]
            high_runs = session.orbit_runs.get((protocol, direction, big))
            low = statistics.median(r.max_rss for r in low_runs)
            high = statistics.median(r.max_rss for r in high_runs) if high_runs else None
            peak = max(r.max_rss for r in [*low_runs, *(high_runs or [])])
            scale = high / low if high else None
            result.rows.append([protocol, direction, f"{low / MiB:.0f}",
                                "skipped" if high is None else f"{high / MiB:.0f}",
                                "" if scale is None else f"{scale:.2f}",
                                f"{len(low_runs)} + {len(high_runs or [])}"])
            result.data[f"{protocol}/{direction}"] = {"small": low_runs, "big": high_runs}
            result.targets.append(Target(
                f"memory {protocol} {direction}",
                f"{peak / 1e6:.0f} MB peak" + ("" if scale is None else
                                              f", {scale:.2f}x for {big // small}x size"),
                "<= 150 MB, <= 1.1x", peak <= LIMIT and (scale is None or scale <= 1.1),
                "" if scale is not None else "large size skipped"))
    result.notes.append("Peak RSS of the orbit cp process (GNU time's %M: the largest "
                        "resident set, interpreter and imports included); MB = 10^6 bytes "
                        "in the targets, MiB in the table; the figure is the worst run.")
    return result


if __name__ == "__main__":
    sys.exit(case_main("memory", run, __doc__))
