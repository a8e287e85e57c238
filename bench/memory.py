"""Case 4, memory scaling: peak RSS of `orbit cp` for a 1 GiB and a 4 GiB file, up
and down, on S3 (`rclone serve s3`), SFTP and SMB.

Targets: peak RSS <= 150 MB, and 4 GiB / 1 GiB <= 1.1 (memory does not grow
with the file). The 4 GiB side is skipped, with a note, when the disk holding
the test data lacks room for it (source, server copy and download).

    python -m bench.memory [--quick] [--large 1GiB] [--huge 4GiB] [--rounds 3]
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from bench._harness import Contender, MiB, alternate, disk_room, format_size, make_file, same
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


def _remover(path: Path) -> Callable[[int], None]:
    return lambda n: path.unlink()


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
    sources = {size: session.work / f"mem-{format_size(size)}.bin" for size in sizes}
    try:
        for size, path in sources.items():
            print(f"generating {format_size(size)} ...", file=sys.stderr)
            make_file(path, size)
        rounds = max(1, min(options.rounds, 2))
        for protocol, folder, prefix in _targets(session):
            rss: dict[tuple[str, int], list[int]] = {}
            for direction in ("up", "down"):
                contenders = []
                for size, path in sources.items():
                    name = f"{format_size(size)}.bin"
                    local = session.work / f"mem-down-{name}"
                    argv = (session.orbit_cp(str(path), prefix + name) if direction == "up"
                            else session.orbit_cp(prefix + name, str(local)))
                    contenders.append(Contender(
                        format_size(size), same(argv), session.env,
                        after=None if direction == "up" else _remover(local)))
                runs = alternate(contenders, rounds, label=f"mem {protocol} {direction}",
                                 amount=0)
                for size in sources:
                    rss[(direction, size)] = [r.max_rss for r in runs[format_size(size)]]
                    result.data[f"{protocol}/{direction}/{format_size(size)}"] = runs[
                        format_size(size)]
            for direction in ("up", "down"):
                low = statistics.median(rss[(direction, small)])
                high = statistics.median(rss[(direction, big)]) if big in sources else None
                peak = max(low, high or 0)
                scale = high / low if high else None
                result.rows.append([protocol, direction, f"{low / MiB:.0f}",
                                    "skipped" if high is None else f"{high / MiB:.0f}",
                                    "" if scale is None else f"{scale:.2f}", str(rounds)])
                ratio_ok = scale is None or scale <= 1.1
                result.targets.append(Target(
                    f"memory {protocol} {direction}",
                    f"{peak / 1e6:.0f} MB peak" + ("" if scale is None else
                                                  f", {scale:.2f}x for {big // small}x size"),
                    "<= 150 MB, <= 1.1x", peak <= LIMIT and ratio_ok,
                    "" if scale is not None else "large size skipped"))
            if folder is not None:
                for size in sources:
                    (folder / f"mem-{format_size(size)}.bin").unlink(missing_ok=True)
    finally:
        for path in sources.values():
            path.unlink(missing_ok=True)
    result.notes.append("Peak RSS is the child's ru_maxrss (os.wait4), interpreter and "
                        "imports included; MB = 10^6 bytes in the targets, MiB in the table.")
    return result


if __name__ == "__main__":
    sys.exit(case_main("memory", run, __doc__))
