"""Copy one file to or from S3 through our engine, headless: the benchmark's runner.

    orbit_s3_cp.py up   LOCAL_FILE /bucket/key [--part-size 16MiB --parallel 8]
    orbit_s3_cp.py down /bucket/key LOCAL_FILE [--window 4 --slot-size 8MiB]

The endpoint comes from ORBIT_S3_ENDPOINT, the keys and region from the usual
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION. Uploads use the
S3 backend's streaming ``write`` fed by a LocalFileReader; downloads use the
sliding-window downloader. Prints one JSON line with what it did.

(The ``orbit cp`` command of a later issue replaces this; it runs in its own
process so that the benchmark measures it exactly like the other clients.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

from orbit_gui.engine import LocalFileReader, Profile, open_backend
from orbit_gui.engine.transfer import WindowOptions, download_to_file


def size(text: str) -> int:
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "k": 1024, "m": 1024**2, "g": 1024**3}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)]) * factor)
    return int(lowered)


def profile(args: argparse.Namespace) -> Profile:
    options: dict[str, Any] = {
        "endpoint_url": os.environ["ORBIT_S3_ENDPOINT"],
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "path_style": True,
    }
    if args.part_size:
        options["part_size"] = args.part_size
    if args.parallel:
        options["parallel_operations"] = args.parallel
    for item in args.opt:
        key, _, value = item.partition("=")
        options[key] = int(value) if value.isdigit() else value
    return Profile(name="bench", kind="s3", user=os.environ["AWS_ACCESS_KEY_ID"],
                   options=options)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    opened = time.perf_counter()
    backend = await open_backend(profile(args), os.environ["AWS_SECRET_ACCESS_KEY"])
    start = time.perf_counter()
    try:
        if args.direction == "up":
            total = os.stat(args.src).st_size
            async with LocalFileReader(args.src, buffer_size=args.buffer) as reader:
                written = await backend.write(args.dst, reader, total)
            result: dict[str, Any] = {"bytes": written}
        else:
            options = WindowOptions(window=args.window, slot_size=args.slot_size,
                                    batched=args.batched, verify_md5=not args.no_verify)
            outcome = await download_to_file(backend, args.src, args.dst,
                                             options=options, fsync=not args.no_fsync)
            result = {"bytes": outcome.entry.size, "fetched": outcome.fetched,
                      "verified_md5": outcome.verified_md5}
    finally:
        done = time.perf_counter()
        await backend.aclose()
    result["seconds"] = done - start
    result["open_seconds"] = start - opened
    result["close_seconds"] = time.perf_counter() - done
    result["cpu_seconds"] = time.process_time()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("direction", choices=["up", "down"])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--window", type=int, default=WindowOptions().window)
    parser.add_argument("--slot-size", type=size, default=None,
                        help="bytes per range (default: chosen from the file size)")
    parser.add_argument("--batched", action="store_true", help="stop-and-wait batches")
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--no-verify", action="store_true", help="skip the MD5 check")
    parser.add_argument("--part-size", type=size, default=None)
    parser.add_argument("--parallel", type=int, default=None)
    parser.add_argument("--buffer", type=size, default=1024 * 1024,
                        help="read size from the local file when uploading")
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="extra S3 profile option")
    args = parser.parse_args()
    if args.direction == "down":
        args.dst = os.path.abspath(args.dst)
    print(json.dumps(asyncio.run(run(args))))
    # Like `orbit` itself (orbit_gui.engine.cli.exit_without_teardown): no interpreter
    # teardown at exit, which costs 0.2-0.3 s of CPU; everything is closed by now.
    if threading.active_count() == 1 and "coverage" not in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
