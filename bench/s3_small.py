"""Case 2, S3 many small files: `orbit cp -R` vs `aws s3 cp --recursive` vs `rclone copy`.

A folder tree of N x 16 KiB files (default 1,000; 5,000 with --small-files 5000), up and
down against `rclone serve s3`, alternating runs; files/s. Target: >= 1.0x
the aws CLI.

    python -m bench.s3_small [--quick] [--small-files 5000] [--rounds 3]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench._harness import Contender, alternate
from bench._report import TRANSFER_HEADERS, CaseResult, Options, Target, case_main, compare
from bench._servers import BUCKET, Session
from bench.bench_s3 import Client, s3_admin
from bench.s3_large import peers
from tests.servers.info import S3Server

__all__ = ["make_tree", "run"]

FILE_SIZE = 16 * 1024


def make_tree(root: Path, count: int, size: int = FILE_SIZE, per_folder: int = 100) -> None:
    """``count`` files of ``size`` random bytes, ``per_folder`` to a folder, two levels."""
    for n in range(count):
        folder = root / f"d{n // (per_folder * 10):02}" / f"e{n // per_folder:03}"
        if n % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n:06}.bin").write_bytes(os.urandom(size))


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def _prefix_keys(server: S3Server, prefix: str) -> list[str]:
    admin = s3_admin(server)
    keys: list[str] = []
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def _delete_prefix(server: S3Server, keys: list[str]) -> None:
    admin = s3_admin(server)
    for start in range(0, len(keys), 1000):
        admin.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})


def _argv(client: Client | None, session: Session, server: S3Server, src: str,
          dst: str, up: bool) -> list[str]:
    """A recursive copy: orbit cp -R, aws s3 cp --recursive, rclone copy."""
    if client is None:
        return session.orbit_cp(src if up else f"{server.name}:/{BUCKET}/{src}",
                                f"{server.name}:/{BUCKET}/{dst}" if up else dst, "-R")
    line = client.upload(server, Path(src), dst) if up else client.download(server, src,
                                                                            Path(dst))
    if client.name == "aws-cli":
        return [*line, "--recursive"]
    return [line[0], "copy", *line[2:]]  # rclone copyto -> copy (a folder)


def run(session: Session, options: Options) -> CaseResult:
    count = options.small_files
    result = CaseResult("s3_small", f"2. S3 many small files ({count} x 16 KiB, a tree), "
                        "orbit cp -R vs aws s3 cp --recursive vs rclone copy", TRANSFER_HEADERS)
    server = session.s3()
    tree = session.work / "small-tree"
    print(f"making {count} files ...", file=sys.stderr)
    make_tree(tree, count)
    clients = peers(session)
    rclone = next(c for c in clients if c.name == "rclone")
    subprocess.run([*_argv(rclone, session, server, str(tree), "small-seed", True),
                    "--transfers", "16"], env=rclone.env(server), check=True,
                   capture_output=True)
    target = session.work / "small-down"
    try:
        for direction in ("up", "down"):
            up = direction == "up"

            def contender(client: Client | None, up: bool = up,
                          direction: str = direction) -> Contender:
                name = client.name if client else "orbit"
                env = client.env(server) if client else session.env

                def argv(n: int) -> list[str]:
                    if up:
                        return _argv(client, session, server, str(tree), f"small-{name}-{n}",
                                     True)
                    return _argv(client, session, server, "small-seed", str(target), False)

                def after(n: int) -> None:
                    if up:
                        keys = _prefix_keys(server, f"small-{name}-{n}/")
                        _delete_prefix(server, keys)
                        found = len(keys)
                    else:
                        found = count_files(target)
                        shutil.rmtree(target)
                    if found != count:
                        raise RuntimeError(f"{name} {direction}: {found} files, not {count}")

                return Contender(name, argv, env, after=after)

            runs = alternate([contender(c) for c in [None, *clients]], options.rounds,
                             label=f"small {direction}", amount=count, unit="files")
            rows, summaries, _ = compare(direction, runs, count, scale=1, unit="files/s",
                                         reference="aws-cli")
            result.rows += rows
            ours, aws = summaries["orbit"], summaries["aws-cli"]
            result.targets.append(Target(
                f"small files {direction} vs aws CLI", f"{ours.mib_s / aws.mib_s:.2f}x "
                f"({ours.mib_s:.0f} vs {aws.mib_s:.0f} files/s)", ">= 1.0x",
                ours.mib_s >= aws.mib_s))
            result.data[direction] = {"runs": runs, "summaries": summaries}
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
    result.notes.append("Defaults of each client: orbit 3 files at once, aws CLI 10 "
                        "requests at once, rclone 4 transfers (+ 8 checkers).")
    return result


if __name__ == "__main__":
    sys.exit(case_main("s3_small", run, __doc__))
