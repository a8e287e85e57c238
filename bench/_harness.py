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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "ROOT",
    "Measurement",
    "MiB",
    "Summary",
    "ensure_awscli",
    "format_size",
    "make_file",
    "parse_size",
    "run_measured",
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


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 timeout: float = 1800.0) -> Measurement:
    """Run ``argv`` to completion and measure it; raise with its output if it fails.

    ``os.wait4`` reports the resources of exactly this child (and of children it
    waited for itself), so parallel activity elsewhere on the machine (the S3
    server) is not counted.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=dict(env) if env else None)
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
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"{argv[0]} failed ({process.returncode}):\n{tail}")
    return Measurement(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss * 1024,
                       os.getloadavg()[0])


@dataclass(frozen=True)
class Summary:
    runs: int
    mib_s: float
    """Median throughput in MiB/s."""
    mib_s_min: float
    mib_s_max: float
    cpu: float
    """Median CPU seconds (user + system)."""
    cpu_min: float
    cpu_max: float
    rss: int
    """Median peak RSS in bytes."""
    rss_max: int


def summarise(runs: Sequence[Measurement], size: int) -> Summary:
    speeds = [size / MiB / run.wall for run in runs]
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
