"""Shared machinery of the benchmarks: run a client as a child process and measure
it the same way whoever it is (wall time, CPU user+sys and peak RSS from
``os.wait4``), alternate the contenders run by run, and summarise (median,
min-max, ratios) as a table and a JSON file in ``bench/results/``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "RESULTS",
    "ROOT",
    "Contender",
    "Measurement",
    "MiB",
    "Summary",
    "Watch",
    "alternate",
    "disk_room",
    "ensure_awscli",
    "first_output",
    "format_size",
    "make_file",
    "parse_size",
    "run_measured",
    "run_watched",
    "same",
    "summarise",
    "table",
    "write_results",
]

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
"""The project root (bench/ lives directly below it)."""
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Measurement:
    """One run of one client: its own resources only (not the server's)."""

    wall: float
    """Seconds from spawn to exit, interpreter start-up included."""
    user: float
    system: float
    max_rss: int
    """Peak resident set size in bytes."""
    load: float = 0.0
    """The machine's 1-minute load average when the run ended (others' work shows here)."""

    @property
    def cpu(self) -> float:
        return self.user + self.system


class Watch:
    """Reads a child's standard output as it comes: when the first byte arrived
    (seconds after spawn), how many bytes and lines, and the last 64 KiB."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.bytes = 0
        self.lines = 0
        self._tail = bytearray()
        self._start = 0.0

    def _pump(self, stream: IO[bytes]) -> None:
        while chunk := stream.read1(1 << 16):  # type: ignore[attr-defined]
            if self.first is None:
                self.first = time.perf_counter() - self._start
            self.bytes += len(chunk)
            self.lines += chunk.count(b"\n")
            self._tail += chunk
            del self._tail[:-65536]

    @property
    def tail(self) -> str:
        return self._tail.decode(errors="replace")


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 timeout: float = 1800.0) -> Measurement:
    """Run ``argv`` to completion and measure it; raise with its output if it fails.

    ``os.wait4`` reports the resources of exactly this child (and of children it
    waited for itself), so parallel activity elsewhere on the machine (the S3
    server) is not counted.
    """
    return _run(argv, env, timeout, None)


def run_watched(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                timeout: float = 1800.0) -> tuple[Measurement, Watch]:
    """:func:`run_measured`, with its standard output read through a :class:`Watch`
    (time to the first byte, line count, the tail for a child's JSON summary)."""
    watch = Watch()
    return _run(argv, env, timeout, watch), watch


def first_output(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 timeout: float = 120.0) -> float:
    """Seconds from spawning ``argv`` to the first byte on its standard output; the
    child is stopped then (a listing's first entry without the minutes of the rest)."""
    start = time.perf_counter()
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, env=dict(env) if env else None)
    assert process.stdout is not None
    try:
        ready = select.select([process.stdout], [], [], timeout)[0]
        first = time.perf_counter() - start
        if not ready or not process.stdout.read1(1):  # type: ignore[attr-defined]
            raise RuntimeError(f"{' '.join(argv[:4])} printed nothing "
                               f"(exit status {process.poll()})")
        return first
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


GNU_TIME = Path("/usr/bin/time")
"""GNU time: the peak RSS of a child must come from a small parent.

Linux carries a process's peak RSS across exec, and a child spawned from this
(large) Python process starts out with this process's peak: ``os.wait4`` would
report at least that for every client, even /bin/true. GNU time, small itself,
forks the client and reports its real peak; CPU and wall time still come from
``os.wait4`` here (GNU time's own share is a millisecond).
"""


def _run(argv: Sequence[str], env: Mapping[str, str] | None, timeout: float,
         watch: Watch | None) -> Measurement:
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as peak:
        command = list(argv)
        if GNU_TIME.exists():
            command = [str(GNU_TIME), "-f", "%M", "-o", peak.name, "--", *command]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE if watch else out,
                                   stderr=out if watch else subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=dict(env) if env else None)
        reader = None
        if watch is not None:
            assert process.stdout is not None
            watch._start = start
            reader = threading.Thread(target=watch._pump, args=(process.stdout,), daemon=True)
            reader.start()
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        if reader is not None:
            reader.join()
            assert process.stdout is not None
            process.stdout.close()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-4000:]
            if watch is not None:
                tail = watch.tail[-2000:] + tail
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({process.returncode}):\n{tail}")
        reported = peak.read().split()
        max_rss = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
    return Measurement(wall, usage.ru_utime, usage.ru_stime, max_rss * 1024,
                       os.getloadavg()[0])


@dataclass(frozen=True)
class Contender:
    """One side of a comparison: its command line for round ``n``, its environment,
    and what to do around each run (prepare the target, check and clean up after)."""

    name: str
    argv: Callable[[int], Sequence[str]]
    env: Mapping[str, str] | None = None
    before: Callable[[int], None] | None = None
    after: Callable[[int], None] | None = None


def same(argv: Sequence[str]) -> Callable[[int], Sequence[str]]:
    """A :class:`Contender` command line that is the same every round."""
    return lambda round_no: argv


def alternate(contenders: Sequence[Contender], rounds: int, *, label: str = "",
              amount: float = 0.0, unit: str = "MiB",
              watches: dict[str, list[Watch]] | None = None,
              once_if_slower: float | None = None) -> dict[str, list[Measurement]]:
    """Run the contenders in turn, ``rounds`` times (A B A B ...), so drift on the
    machine hits all alike. ``amount`` (in ``unit``) only feeds the progress line.
    With ``watches``, standard output is read through a :class:`Watch` per run,
    collected there by contender. With ``once_if_slower``, a contender whose first run
    took more than that many times the fastest first run is not repeated: it cannot
    be the reference, and its repeats would cost the suite minutes (the aws CLI
    downloads from moto at a tenth of the others' rate)."""
    runs: dict[str, list[Measurement]] = {c.name: [] for c in contenders}
    for round_no in range(rounds):
        if round_no == 1 and once_if_slower is not None:
            fastest = min(done[0].wall for done in runs.values())
            contenders = [c for c in contenders
                          if runs[c.name][0].wall <= once_if_slower * fastest]
        for contender in contenders:
            if contender.before is not None:
                contender.before(round_no)
            os.sync()  # earlier runs' dirty pages are not this run's work
            if watches is None:
                run = run_measured(contender.argv(round_no), env=contender.env)
            else:
                run, watch = run_watched(contender.argv(round_no), env=contender.env)
                watches.setdefault(contender.name, []).append(watch)
            if contender.after is not None:
                contender.after(round_no)
            runs[contender.name].append(run)
            rate = f"{amount / run.wall:9.1f} {unit}/s" if amount else f"{run.wall:7.2f} s"
            print(f"  {label:24} {contender.name:26} {rate}  cpu {run.cpu:6.2f}s  "
                  f"rss {run.max_rss / MiB:6.1f} MiB  load {run.load:.1f}", file=sys.stderr)
    return runs


def disk_room(path: Path, need: int, margin: int = 2 * 1024**3) -> bool:
    """Whether the file system holding ``path`` has ``need`` bytes free, plus a margin."""
    return shutil.disk_usage(path).free >= need + margin


@dataclass(frozen=True)
class Summary:
    runs: int
    mib_s: float
    """Median throughput in MiB/s (in things/s when summarised with ``scale`` 1)."""
    mib_s_min: float
    mib_s_max: float
    cpu: float
    """Median CPU seconds (user + system)."""
    cpu_min: float
    cpu_max: float
    rss: int
    """Median peak RSS in bytes."""
    rss_max: int


def summarise(runs: Sequence[Measurement], size: float, scale: float = MiB) -> Summary:
    """``size`` bytes per run in MiB/s (or, with ``scale`` 1, ``size`` things per second:
    files, entries)."""
    speeds = [size / scale / run.wall for run in runs]
    cpus = [run.cpu for run in runs]
    rss = [run.max_rss for run in runs]
    return Summary(len(runs), statistics.median(speeds), min(speeds), max(speeds),
                   statistics.median(cpus), min(cpus), max(cpus),
                   int(statistics.median(rss)), max(rss))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows,
                                                                           strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
              for row in rows]
    return "\n".join(lines)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}


def parse_size(text: str) -> int:
    """``"256MiB"``, ``"1GiB"``, ``"8M"`` (1000-based without the i), ``"4096"``."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    unit = (match.group(2) or "").lower().removesuffix("b")
    if unit not in _UNITS:
        raise ValueError(f"unknown unit in {text!r}")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def make_file(path: Path, size: int) -> None:
    """Write ``size`` random bytes (incompressible, no repeated blocks) to ``path``."""
    block = 16 * MiB
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(block, left)
            out.write(os.urandom(n))
            left -= n


def ensure_awscli(venv: Path) -> Path:
    """The aws CLI (v1, from PyPI) in its own venv, installed on first use."""
    aws = venv / "bin" / "aws"
    if aws.exists():
        return aws
    print(f"installing the aws CLI into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "awscli"], check=True)
    return aws


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_results(name: str, data: Mapping[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "when": stamp, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)  # type: ignore[call-overload]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
