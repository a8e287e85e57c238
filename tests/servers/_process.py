"""The one way a test server is run: start it on a free 127.0.0.1 port with its
output in a log file, probe it until it answers (bounded), stop it by PID.

A server module supplies only a ``build(port) -> Launch`` (its command line,
having written its config for that port) and a readiness probe; everything
else (port choice and retry, log file, deadline, error with the log tail,
SIGTERM/SIGKILL and leftover children) lives here.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "HOST",
    "Launch",
    "NotReady",
    "ServerProcess",
    "ServerStartError",
    "ServerUnavailable",
    "free_port",
    "is_listening",
    "pid_running",
    "start_server",
    "start_timeout",
]

HOST = "127.0.0.1"

_DEFAULT_TIMEOUT = 30.0
_PORT_IN_USE = re.compile(r"address already in use|is in use by another program", re.IGNORECASE)
_TAIL_LINES = 40


class ServerUnavailable(Exception):
    """The server cannot run on this machine (missing program, needs root, ...)."""


class ServerStartError(RuntimeError):
    """The server was started but did not become ready; the message ends with its log tail."""


class NotReady(Exception):
    """Raised by a probe when the server may still be starting: probe again later.

    Any other exception from a probe means the server is up but wrong, and
    fails the start at once.
    """


@dataclass(frozen=True)
class Launch:
    """How to run one attempt of a server on a given port."""

    argv: Sequence[str]
    probe: Callable[[], None]  # returns when ready; raises NotReady to be called again
    env: Mapping[str, str] | None = None  # None: inherit the test process's environment
    # A string (such as its unique config path) in the command line of every helper the
    # server spawns that detaches itself (setsid, double fork): stop() ends those too.
    marker: str | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(port: int, host: str = HOST) -> bool:
    """Whether something accepts TCP connections on host:port right now."""
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


def start_timeout() -> float:
    """Seconds a server gets to become ready (env ORBIT_TEST_SERVER_TIMEOUT, default 30)."""
    raw = os.environ.get("ORBIT_TEST_SERVER_TIMEOUT", "")
    try:
        return float(raw) if raw else _DEFAULT_TIMEOUT
    except ValueError:
        return _DEFAULT_TIMEOUT


# --- process bookkeeping through /proc -------------------------------------------------


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    pgrp: int
    start: int  # start time in clock ticks: (pid, start) names one process for good
    state: str


def _read_proc(pid: int) -> _Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode(errors="replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces
    return _Proc(pid, int(fields[1]), int(fields[2]), int(fields[19]), fields[0])


def _all_procs() -> list[_Proc]:
    procs = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            proc = _read_proc(int(entry.name))
            if proc is not None:
                procs.append(proc)
    return procs


def _family(pid: int, descendants: bool = True) -> list[_Proc]:
    """Members of pid's process group (pgid == pid), and its descendants (only while
    pid is not yet reaped: afterwards the number may belong to someone else)."""
    procs = _all_procs()
    found = {p.pid: p for p in procs if p.pgrp == pid and p.pid != pid}
    frontier = [pid] if descendants else []
    while frontier:
        parent = frontier.pop()
        for proc in procs:
            if proc.ppid == parent and proc.pid not in found and proc.pid != pid:
                found[proc.pid] = proc
                frontier.append(proc.pid)
    return list(found.values())


def _marked(marker: str) -> list[_Proc]:
    """Processes whose command line contains marker (a unique temp path)."""
    found = []
    needle = marker.encode()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            proc = _read_proc(int(entry.name)) if needle in cmdline else None
            if proc is not None:
                found.append(proc)
    return found


def _alive(proc: _Proc) -> bool:
    now = _read_proc(proc.pid)
    if now is None or now.start != proc.start:
        return False
    if now.state in ("Z", "X"):
        if now.ppid == os.getpid():  # an orphan handed to us (pytest as PID 1): reap it
            with contextlib.suppress(ChildProcessError):
                os.waitpid(now.pid, os.WNOHANG)
        return False
    return True


def pid_running(pid: int) -> bool:
    """Whether a process with this PID exists and has not exited (zombies count as gone)."""
    proc = _read_proc(pid)
    return proc is not None and _alive(proc)


def _signal_all(procs: Sequence[_Proc], sig: int) -> None:
    for proc in procs:
        if _alive(proc):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, sig)


def _wait_gone(procs: Sequence[_Proc], timeout: float) -> list[_Proc]:
    deadline = time.monotonic() + timeout
    left = [p for p in procs if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    return left


# --- the server process ---------------------------------------------------------------


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:  # PR_SET_PDEATHSIG: no orphan server if pytest itself is killed
        _LIBC.prctl(1, signal.SIGTERM, 0, 0, 0)


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class ServerProcess:
    """A started server: its port, PID and log; ``stop()`` ends it and its children."""

    def __init__(
        self,
        name: str,
        port: int,
        popen: subprocess.Popen[bytes],
        log_path: Path,
        log: IO[bytes],
        marker: str | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        self._popen = popen
        self._log = log
        self._marker = marker
        self._stopped = False
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def running(self) -> bool:
        return self._popen.poll() is None

    def exit_status(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return self._popen.poll()

    def helpers(self) -> list[int]:
        """PIDs of the processes the server has spawned so far (children, its process
        group, detached helpers named by the launch marker)."""
        found = _family(self.pid, descendants=self.running())
        found += _marked(self._marker) if self._marker else []
        return sorted({p.pid for p in found if _alive(p)})

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, SIGKILL after ``grace`` seconds, wait for exit; then the same for any
        child it left behind (an sshd session, a Samba helper). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        _LIVE.discard(self)
        try:
            family = _family(self.pid)
            if self._popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self._popen.send_signal(signal.SIGTERM)
                try:
                    self._popen.wait(grace)
                except subprocess.TimeoutExpired:
                    self._popen.kill()
                    self._popen.wait()
            later = _family(self.pid, descendants=False)  # it is reaped now
            later += _marked(self._marker) if self._marker else []
            family += [p for p in later if p.pid not in {f.pid for f in family}]
            _signal_all(family, signal.SIGTERM)
            left = _wait_gone(family, grace)
            if left:
                _signal_all(left, signal.SIGKILL)
                _wait_gone(left, grace)
        finally:
            self._log.close()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} pid={self.pid} port={self.port}>"


_LIVE: set[ServerProcess] = set()


@atexit.register
def _stop_leftovers() -> None:  # a session that died before its fixtures' teardown
    for server in list(_LIVE):
        server.stop(grace=3.0)


def _tail(path: Path, lines: int) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"(no log: {exc})"
    text = data[-64 * 1024 :].decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _failure(name: str, log_path: Path, reason: str) -> ServerStartError:
    return ServerStartError(
        f"{name}: {reason}\n--- last lines of {log_path} ---\n{_tail(log_path, _TAIL_LINES)}"
    )


def start_server(
    name: str,
    root: Path,
    build: Callable[[int], Launch],
    *,
    timeout: float | None = None,
    attempts: int = 3,
) -> ServerProcess:
    """Start ``name`` on a free port and return once its probe passes.

    ``build(port)`` writes whatever config the port needs and returns the
    command line and probe. The output goes to ``root/<name>.log``. If the
    server exits because another process took the port first, it is retried
    on a new port (``attempts`` in all). Raises ServerStartError, with the
    log tail, when it exits early, a probe fails for good, or the deadline
    (``start_timeout()`` by default) passes.
    """
    log_path = root / f"{name}.log"
    deadline = time.monotonic() + (timeout if timeout is not None else start_timeout())
    for attempt in range(1, attempts + 1):
        port = free_port()
        launch = build(port)
        log = log_path.open("ab")
        command = " ".join(launch.argv)
        log.write(f"=== {name} attempt {attempt} on port {port}: {command}\n".encode())
        log.flush()
        log_start = log.tell()
        in_main_thread = threading.current_thread() is threading.main_thread()
        try:
            popen = subprocess.Popen(
                list(launch.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(launch.env) if launch.env is not None else None,
                cwd=root,
                start_new_session=True,  # its own process group: found and stopped as one
                preexec_fn=_die_with_parent if _LIBC is not None and in_main_thread else None,
            )
        except OSError as exc:
            log.close()
            raise _failure(name, log_path, f"cannot run {launch.argv[0]}: {exc}") from exc
        server = ServerProcess(name, port, popen, log_path, log, launch.marker)
        try:
            if _await_ready(server, launch.probe, log_start, deadline, retry=attempt < attempts):
                return server
        except BaseException:
            server.stop()
            raise
    raise AssertionError("unreachable")


def _await_ready(
    server: ServerProcess, probe: Callable[[], None], log_start: int, deadline: float, retry: bool
) -> bool:
    """True once the probe passes; False if the port was taken and a retry is allowed."""
    name, log_path = server.name, server.log_path

    def port_taken() -> bool:  # the server said so in this attempt's part of the log
        with log_path.open("rb") as f:
            f.seek(log_start)
            if not _PORT_IN_USE.search(f.read().decode(errors="replace")):
                return False
        server.stop()
        if retry:
            return True
        raise _failure(name, log_path, f"port {server.port} was taken by another process")

    last_error: Exception | None = None
    pause = 0.05
    while True:
        if port_taken():
            return False  # someone took the port between free_port() and the bind
        code = server.exit_status()
        if code is not None:
            raise _failure(name, log_path, f"exited with status {code} before it was ready")
        try:
            probe()
            return True
        except NotReady as exc:
            last_error = exc
        except Exception as exc:
            if port_taken():  # the probe talked to whoever holds the port
                return False
            raise _failure(name, log_path, f"started but its check failed: {exc!r}") from exc
        if time.monotonic() >= deadline:
            raise _failure(
                name,
                log_path,
                f"not ready on port {server.port} within the deadline (last probe: {last_error!r})",
            )
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)
