"""Case 7, sliding window vs stop-and-wait: an S3 download through a loopback proxy
that holds back every ranged GET's response for a random, heavy-tailed time
(log-normal, median 40 ms, sigma 1.2, capped at 2 s; p99 ~0.65 s).

The same engine and the same ranges (N in flight x 8 MiB): the engine's window
downloader (orbit_gui/engine/transfer/window.py, the next range starts the
moment one finishes) vs a stop-and-wait baseline written here (batches of N
ranges, each batch waited for whole), plus `orbit cp` through the same proxy.
The delays of a round come from one seed, so both modes draw the same ones.
Target: window >= 1.3x stop-and-wait.

    python -m bench.sliding_window [--quick] [--window-size 512MiB] [--rounds 3]
    python -m bench.sliding_window child window|batch PROFILE PATH DESTINATION N SLOT
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import random
import statistics
import sys
import threading
import time
from typing import Any
from urllib.parse import urlparse

from bench._harness import Contender, MiB, Watch, alternate, format_size, make_file, same
from bench._report import CaseResult, Options, Target, case_main
from bench._servers import BUCKET, Session
from bench.bench_s3 import md5_of
from bench.s3_large import seed
from tests.engine.delay_proxy import DelayProxy, HeldRequest

__all__ = ["RandomDelayProxy", "run"]

WINDOW = 4
SLOT = 8 * MiB
MEDIAN, SIGMA, CAP = 0.040, 1.2, 2.0


class RandomDelayProxy:
    """A :class:`DelayProxy` on its own loop thread that delays every ranged GET's
    response by a random time drawn from a seeded log-normal."""

    def __init__(self, host: str, port: int) -> None:
        self.proxy = DelayProxy(host, port)
        self.random = random.Random(0)
        self.delays: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> str:
        self._thread.start()
        self._call(self._start())
        return self.proxy.url

    def reseed(self, seed_value: int) -> None:
        self.random.seed(seed_value)

    def close(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _call(self, coroutine: Any) -> Any:
        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(
            coroutine, self._loop)
        return future.result(30)

    async def _start(self) -> None:
        await self.proxy.start()
        for _ in range(64):  # enough free holds that every request finds one at once
            self._hold()

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.proxy.aclose()

    def _hold(self) -> None:
        held = self.proxy.hold(lambda head: head.method == "GET" and head.range is not None)
        task = asyncio.ensure_future(self._delay(held))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delay(self, held: HeldRequest) -> None:
        await held.arrived.wait()
        self._hold()
        delay = min(CAP, self.random.lognormvariate(math.log(MEDIAN), SIGMA))
        self.delays.append(delay)
        await asyncio.sleep(delay)
        held.release()


# -- the child: one download, timed from the first request to the last byte ---------------


async def _download(mode: str, profile: str, path: str, destination: str, window: int,
                    slot: int) -> dict[str, Any]:
    from orbit_gui.engine.connections import ConnectionPool
    from orbit_gui.engine.profiles import ProfileStore
    from orbit_gui.engine.transfer import WindowOptions, download_to_file

    pool = ConnectionPool(ProfileStore())
    backend = await pool.get(profile)
    try:
        start = time.perf_counter()
        if mode == "window":
            await download_to_file(backend, path, destination, fsync=False, options=WindowOptions(
                window=window, slot_size=slot, verify_md5=False))
        else:
            await stop_and_wait(backend, path, destination, window, slot)
        seconds = time.perf_counter() - start
    finally:
        await pool.aclose()
    return {"seconds": seconds}


async def stop_and_wait(backend: Any, path: str, destination: str, batch: int,
                        slot: int) -> None:
    """The baseline: ranges of ``slot`` bytes, ``batch`` at a time, each batch waited
    for whole before the next starts; written at their offsets."""
    size = (await backend.stat(path)).size
    ranges = [(offset, min(slot, size - offset)) for offset in range(0, size, slot)]
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    async def fetch(offset: int, length: int) -> None:
        position = offset
        async for chunk in backend.read(path, offset, length):
            await asyncio.to_thread(os.pwrite, fd, chunk, position)
            position += len(chunk)
        if position != offset + length:
            raise RuntimeError(f"range at {offset}: {position - offset} of {length} bytes")

    try:
        for first in range(0, len(ranges), batch):
            await asyncio.gather(*(fetch(o, n) for o, n in ranges[first:first + batch]))
    finally:
        os.close(fd)


# -- the parent ------------------------------------------------------------------------------


def run(session: Session, options: Options) -> CaseResult:
    size = options.window_size
    result = CaseResult("sliding_window", f"7. Sliding window vs stop-and-wait: S3 "
                        f"{format_size(size)} download, {WINDOW} x {format_size(SLOT)} ranges, "
                        "random heavy-tailed delay per request",
                        ["client", "MiB/s med", "(min-max)", "CPU s", "x stop-and-wait"])
    server = session.s3()
    source = session.work / "window.bin"
    make_file(source, size)
    digest = md5_of(source)
    seed(server, source, "window-seed.bin")
    source.unlink()
    url = urlparse(server.endpoint_url)
    proxy = RandomDelayProxy(url.hostname or "127.0.0.1", url.port or 80)
    profile = session.s3_profile("delayed", server, proxy.start())
    session.on_close(proxy.close)
    local = session.work / "window-down.bin"
    remote = f"/{BUCKET}/window-seed.bin"
    child = [sys.executable, "-m", "bench.sliding_window", "child"]

    def after(n: int) -> None:
        if md5_of(local) != digest:
            raise RuntimeError("the sliding-window benchmark downloaded a different file")
        local.unlink()

    def child_of(mode: str) -> list[str]:
        return [*child, mode, profile, remote, str(local), str(WINDOW), str(SLOT)]

    contenders = [
        Contender("window (engine)", same(child_of("window")), session.env,
                  before=proxy.reseed, after=after),
        Contender("stop-and-wait (batches of 4)", same(child_of("batch")), session.env,
                  before=proxy.reseed, after=after),
        Contender("orbit cp", same(session.orbit_cp(f"{profile}:{remote}", str(local),
                                                    "--window", str(WINDOW))),
                  session.env, before=proxy.reseed, after=after)]
    watches: dict[str, list[Watch]] = {}
    runs = alternate(contenders, options.rounds, label="window", watches=watches)
    rates: dict[str, list[float]] = {}
    for contender in contenders:
        name = contender.name
        if name == "orbit cp":
            rates[name] = [size / MiB / m.wall for m in runs[name]]
        else:
            reports = [json.loads(w.tail.strip().splitlines()[-1]) for w in watches[name]]
            rates[name] = [size / MiB / r["seconds"] for r in reports]
    med = {n: statistics.median(r) for n, r in rates.items()}
    base = med["stop-and-wait (batches of 4)"]
    for contender in contenders:
        name = contender.name
        result.rows.append([name, f"{med[name]:.1f}",
                            f"({min(rates[name]):.0f}-{max(rates[name]):.0f})",
                            f"{statistics.median(m.cpu for m in runs[name]):.2f}",
                            f"{med[name] / base:.2f}"])
    window = med["window (engine)"]
    result.targets.append(Target("window vs stop-and-wait", f"{window / base:.2f}x "
                                 f"({window:.0f} vs {base:.0f} MiB/s)", ">= 1.3x",
                                 window >= 1.3 * base))
    delays = sorted(proxy.delays)
    if delays:
        result.notes.append(f"{len(delays)} delayed requests: median "
                            f"{statistics.median(delays) * 1000:.0f} ms, p90 "
                            f"{delays[int(len(delays) * 0.9)] * 1000:.0f} ms, max "
                            f"{delays[-1] * 1000:.0f} ms.")
    result.notes.append("Window and stop-and-wait rates are the download's own time; "
                        "orbit cp's is its whole process (start-up, MD5 check, journal).")
    result.data = {"runs": runs, "rates": rates, "delays": delays}
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        mode, profile, path, destination, window, slot = sys.argv[2:8]
        print(json.dumps(asyncio.run(_download(mode, profile, path, destination, int(window),
                                               int(slot)))), flush=True)
        sys.exit(0)
    sys.exit(case_main("sliding_window", run, __doc__))
