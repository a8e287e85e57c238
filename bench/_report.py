"""What a benchmark case hands back (tables, targets met or not) and the options
and command-line entry every case shares (``python -m bench.<case> [--quick]``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench._harness import (
    Measurement,
    MiB,
    Summary,
    parse_size,
    summarise,
    table,
    write_results,
)

__all__ = ["CaseResult", "Options", "Target", "case_main", "compare", "md_table", "ratio"]


@dataclass(frozen=True)
class Options:
    """Sizes of one run of the suite; ``--quick`` shrinks every one of them."""

    quick: bool = False
    rounds: int = 3
    large: int = 1024 * MiB
    """The large-file size of cases 1, 3 and 6 (and the small side of case 4)."""
    huge: int = 4096 * MiB
    """The large side of the memory case."""
    small_files: int = 1000
    listing: int = 1_000_000
    """Entries of the SFTP listing (and the GUI model's)."""
    listing_s3: int = 20_000
    window_size: int = 512 * MiB
    moto: bool = True
    """Case 1 on moto too (issue 9 asks for both servers; --quick leaves it out)."""
    tmp: Path | None = None

    @classmethod
    def parser(cls, description: str) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--quick", action="store_true",
                            help="small sizes: a run of the whole suite in a few minutes")
        parser.add_argument("--rounds", type=int, default=None,
                            help="alternating rounds per pair (default 3)")
        parser.add_argument("--large", type=parse_size, help="large file (default 1GiB)")
        parser.add_argument("--huge", type=parse_size,
                            help="memory case's large file (default 4GiB)")
        parser.add_argument("--small-files", type=int, help="small files (default 1000)")
        parser.add_argument("--listing", type=int,
                            help="SFTP listing entries (default 1000000)")
        parser.add_argument("--listing-s3", type=int,
                            help="S3 listing entries (default 20000)")
        parser.add_argument("--window-size", type=parse_size,
                            help="sliding-window case's file (default 512MiB)")
        parser.add_argument("--moto", action=argparse.BooleanOptionalAction, default=None,
                            help="case 1 on moto too (default: yes, but not with --quick)")
        parser.add_argument("--tmp", type=Path, help="where the test data goes")
        return parser

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Options:
        base = cls(quick=True, large=128 * MiB, huge=512 * MiB, small_files=300,
                   listing=20_000, listing_s3=5000, window_size=128 * MiB,
                   moto=False) if args.quick else cls()
        given = {name: getattr(args, name) for name in
                 ("rounds", "large", "huge", "small_files", "listing", "listing_s3",
                  "window_size", "moto", "tmp")
                 if getattr(args, name) is not None}
        merged = {**asdict(base), **given}
        return cls(**merged)


@dataclass
class Target:
    """One target of issue 9: the figure measured, the goal, and whether it is met
    (None: not measured in this run, with the reason in ``note``)."""

    name: str
    figure: str
    goal: str
    met: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "met", False: "not met", None: "not measured"}[self.met]


@dataclass
class CaseResult:
    case: str
    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        parts = [f"### {self.title}", ""]
        if self.rows:
            parts += [md_table(self.headers, self.rows), ""]
        if self.targets:
            parts += [md_table(["target", "figure", "goal", "verdict"],
                               [[t.name, t.figure, t.goal,
                                 f"**{t.verdict}**" + (f" ({t.note})" if t.note else "")]
                                for t in self.targets]), ""]
        parts += [f"- {note}" for note in self.notes]
        return "\n".join(parts).rstrip() + "\n"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("inf")


TRANSFER_HEADERS = ["case", "client", "rate med", "(min-max)", "CPU s", "(min-max)",
                    "peak RSS MiB", "x ref rate", "x ref CPU"]


def compare(label: str, runs: Mapping[str, Sequence[Measurement]], amount: float, *,
            scale: float = MiB, unit: str = "MiB/s", ours: str = "orbit",
            reference: str | None = None) -> tuple[list[list[str]], dict[str, Summary], str]:
    """Rows for one comparison and the summaries; the reference is ``reference`` or
    else the fastest contender other than ``ours``. Returns (rows, summaries, reference)."""
    summaries = {name: summarise(r, amount, scale) for name, r in runs.items() if r}
    peers = {n: s for n, s in summaries.items() if n != ours}
    ref = reference or (max(peers, key=lambda n: peers[n].mib_s) if peers else ours)
    rows = []
    for name, s in summaries.items():
        r = summaries[ref]
        marks = (["(ref)", ""] if name == ref else
                 [f"{ratio(s.mib_s, r.mib_s):.2f}", f"{ratio(s.cpu, r.cpu):.2f}"])
        rows.append([label, name, f"{s.mib_s:.1f} {unit}", f"({s.mib_s_min:.0f}-{s.mib_s_max:.0f})",
                     f"{s.cpu:.2f}", f"({s.cpu_min:.2f}-{s.cpu_max:.2f})",
                     f"{s.rss / MiB:.0f}", *marks])
    return rows, summaries, ref


def case_main(name: str, run: Callable[[Any, Options], CaseResult], doc: str,
              argv: Sequence[str] | None = None) -> int:
    """The ``python -m bench.<name>`` entry of one case: its own servers, its report
    printed, its JSON in bench/results/."""
    from bench._servers import Session

    options = Options.from_args(Options.parser(doc.split("\n\n")[0]).parse_args(argv))
    with Session(options.tmp) as session:
        result = run(session, options)
    print(result.markdown())
    print(table(["target", "figure", "verdict"],
                [[t.name, t.figure, t.verdict] for t in result.targets]), file=sys.stderr)
    path = write_results(name, {"options": options, "result": result})
    print(f"results: {path}", file=sys.stderr)
    return 0
