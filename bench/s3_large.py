"""Case 1, S3 large file: `orbit cp` vs the aws CLI vs `rclone copyto`, up and down.

Against `rclone serve s3` and moto (--no-moto: rclone only), the same file, alternating
runs; MiB/s, client CPU seconds and peak RSS of each child process. Target:
throughput >= 1.0x the faster peer in each direction at <= 1.0x its CPU.

    python -m bench.s3_large [--quick] [--large 1GiB] [--rounds 3] [--no-moto]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench._harness import Contender, alternate, ensure_awscli, format_size
from bench._report import TRANSFER_HEADERS, CaseResult, Options, Target, case_main, compare
from bench._servers import BUCKET, Session
from bench.bench_s3 import Client, aws_client, md5_of, rclone_client, s3_admin
from tests.servers.info import S3Server

__all__ = ["ONCE_IF_SLOWER", "peers", "run", "transfer_contenders"]


def peers(session: Session) -> list[Client]:
    """The aws CLI (s3transfer defaults) and the rclone client, configured for ``session``."""
    from tests.servers.rclone import rclone_binary

    folder = session.folder("peer-config")
    return [aws_client(ensure_awscli(session.aws_venv), folder),
            rclone_client(rclone_binary(), folder)]


def transfer_contenders(session: Session, server: S3Server, source: Path, direction: str,
                        seed_key: str) -> list[Contender]:
    """orbit, aws and rclone moving ``source`` up (checked by size, then deleted) or
    ``seed_key`` down (checked by MD5, then deleted)."""
    admin = s3_admin(server)
    size = source.stat().st_size
    digest = md5_of(source) if direction == "down" else ""
    target = session.work / "download.bin"

    def uploaded(key: str) -> None:
        head = admin.head_object(Bucket=BUCKET, Key=key)
        if head["ContentLength"] != size:
            raise RuntimeError(f"{key}: {head['ContentLength']} bytes uploaded, not {size}")
        admin.delete_object(Bucket=BUCKET, Key=key)

    def downloaded(name: str) -> None:
        if md5_of(target) != digest:
            raise RuntimeError(f"{name} downloaded a different file")
        target.unlink()

    def contender(client: Client | None) -> Contender:
        name = client.name if client else "orbit"

        def argv(n: int) -> list[str]:
            key = f"up/{name}-{n}"
            if direction == "up":
                return (client.upload(server, source, key) if client else
                        session.orbit_cp(str(source), f"{server.name}:/{BUCKET}/{key}"))
            return (client.download(server, seed_key, target) if client else
                    session.orbit_cp(f"{server.name}:/{BUCKET}/{seed_key}", str(target)))

        def after(n: int) -> None:
            if direction == "up":
                uploaded(f"up/{name}-{n}")
            else:
                downloaded(name)

        return Contender(name, argv, client.env(server) if client else session.env,
                         after=after)

    return [contender(client) for client in [None, *peers(session)]]


ONCE_IF_SLOWER = 4.0
"""A client this many times slower than the fastest in the first round is not repeated."""


def seed(server: S3Server, source: Path, key: str) -> None:
    admin = s3_admin(server)
    admin.upload_file(str(source), BUCKET, key)
    admin.head_object(Bucket=BUCKET, Key=key)  # rclone hashes it once, not in a run


def run(session: Session, options: Options) -> CaseResult:
    size = options.large
    result = CaseResult("s3_large", f"1. S3 large file ({format_size(size)}), "
                        "orbit cp vs aws CLI vs rclone copyto", TRANSFER_HEADERS)
    with session.test_file("large.bin", size) as source:
        for kind in ["rclone", "moto"] if options.moto else ["rclone"]:
            server = session.s3(kind)
            seed(server, source, "large-seed.bin")
            for direction in ("up", "down"):
                contenders = transfer_contenders(session, server, source, direction,
                                                 "large-seed.bin")
                runs = alternate(contenders, options.rounds, label=f"s3 {kind} {direction}",
                                 amount=size / 2**20, unit="MiB",
                                 once_if_slower=ONCE_IF_SLOWER)
                rows, summaries, ref = compare(f"{kind} {direction}", runs, size)
                result.notes += [f"{kind} {direction}: {name} ran once (over "
                                 f"{ONCE_IF_SLOWER:g}x slower than the fastest client in "
                                 "the first round)"
                                 for name, done in runs.items() if len(done) < options.rounds]
                result.rows += rows
                ours, peer = summaries["orbit"], summaries[ref]
                fast = ours.mib_s >= peer.mib_s
                lean = ours.cpu <= peer.cpu
                result.targets.append(Target(
                    f"S3 {kind} {direction}: rate and CPU vs {ref}",
                    f"{ours.mib_s / peer.mib_s:.2f}x rate, {ours.cpu / peer.cpu:.2f}x CPU "
                    f"({ours.mib_s:.0f} vs {peer.mib_s:.0f} MiB/s, {ours.cpu:.2f} vs "
                    f"{peer.cpu:.2f} s)", ">= 1.0x rate at <= 1.0x CPU", fast and lean))
                result.data[f"{kind}/{direction}"] = {"reference": ref, "runs": runs,
                                                      "summaries": summaries}
                if kind == "rclone":
                    session.orbit_runs[("S3", direction, size)] = runs["orbit"]
    result.notes.append("Every client with its defaults (orbit: 8 MiB parts/ranges x 4, "
                        "whole-file MD5 check on download; aws CLI: s3transfer 8 MiB x 10; "
                        "rclone: 4 streams); CPU is user+sys of the client process only.")
    return result


if __name__ == "__main__":
    sys.exit(case_main("s3_large", run, __doc__))
