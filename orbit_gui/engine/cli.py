"""The ``orbit`` command: the transfer engine without the GUI, on the same events.

Targets are ``PROFILE:/path`` (a saved connection; a relative path is taken
from the profile's root) or a local path. Errors end in one line on stderr
(never a traceback, never a secret) and a non-zero exit status: 1 for a
failure, 2 for a usage error, 130 when interrupted (the transfer stays in the
journal: ``orbit resume`` continues it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TextIO

from .backend import Backend
from .connections import ConnectionPool, HostKeyTrust
from .errors import HostKeyChanged, HostKeyUnknown, InvalidPath, NotFound, OrbitError
from .profiles import BACKEND_KINDS, REMEMBER_OPTION, Profile, ProfileStore, SecretStore
from .transfer.bandwidth import parse_rate
from .transfer.conflicts import Conflict, ConflictAnswer, ConflictPolicy
from .transfer.progress import TransferEvent, TransferSnapshot, TransferState
from .transfer.request import Endpoint, TransferOptions, TransferRequest, resolve_destination
from .types import Entry, ListOptions

if TYPE_CHECKING:
    # Imported by the commands that use them: `orbit ls` never needs the queue,
    # its jobs or the journal (SQLite).
    from .transfer.journal import TransferRecord
    from .transfer.queue import Transfer, TransferQueue

__all__ = ["main", "parse_size", "parse_target", "run"]

log = logging.getLogger("orbit_gui.engine.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""The reader of our output went away (``orbit ls | head``): 128 + SIGPIPE, as
the shell reports for tools that die of it."""

_TARGET = re.compile(r"^([\w][\w .@+-]{0,63}):(.*)$", re.DOTALL)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class UsageError(Exception):
    """Bad arguments: exit status 2."""


def parse_size(text: str) -> int:
    """``"8M"``, ``"16MiB"``, ``"1g"``, ``"65536"`` -> bytes."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = value[-1] if value and value[-1] in _SIZE_UNITS else ""
    number = value[: len(value) - len(unit)] if unit else value
    try:
        size = int(float(number) * _SIZE_UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (like 8M, 64k, 1G)") from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a size must be positive")
    return size


def _rate(text: str) -> float | None:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _policy(text: str) -> ConflictPolicy:
    try:
        return ConflictPolicy.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# -- targets and connections ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    profile: str | None
    path: str
    trailing_slash: bool = False


def parse_target(text: str, store: ProfileStore) -> Target:
    """``PROFILE:/path`` if PROFILE is a saved connection, else a local path."""
    match = _TARGET.match(text)
    if match is not None and not os.path.exists(text):
        name, rest = match.groups()
        try:
            profile = store.get(name)
        except NotFound:
            raise UsageError(f"{text!r}: there is no saved connection named {name!r} "
                             "(see `orbit profile list`)") from None
        root = profile.root or "/"
        path = rest if rest.startswith("/") else f"{root.rstrip('/')}/{rest}" if rest else root
        return Target(name, _clean(path), rest.endswith("/"))
    if not text:
        raise UsageError("an empty path is not a target")
    return Target(None, os.path.abspath(os.path.expanduser(text)), text.endswith("/"))


def _clean(path: str) -> str:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidPath(f"{path!r}: '..' is not allowed in a remote path", path=path)
    return "/" + "/".join(parts)


class Connections(ConnectionPool):
    """The pool with the CLI's answers: a host key is trusted only when the command
    says ``--accept-new-host-key``; a changed key is refused with its fingerprint."""

    def __init__(self, store: ProfileStore, *, accept_new_host_key: bool = False) -> None:
        super().__init__(store, host_key_prompt=self._host_key)
        self.accept_new_host_key = accept_new_host_key

    async def _host_key(self, profile: Profile, exc: HostKeyUnknown) -> HostKeyTrust:
        if not self.accept_new_host_key or getattr(exc, "public_key", None) is None:
            raise OrbitError(
                f"the host key of {exc.host} is not known: its fingerprint is "
                f"{exc.fingerprint}. If that is right, run the command again with "
                "--accept-new-host-key", host=exc.host) from None
        print(f"orbit: recorded the host key of {exc.host} ({exc.fingerprint})",
              file=sys.stderr)
        return HostKeyTrust.ALWAYS

    async def get(self, ref: str | None) -> Backend:
        try:
            return await super().get(ref)
        except HostKeyChanged as exc:
            raise OrbitError(
                f"{exc.message} (fingerprint now {exc.fingerprint}); refusing to connect",
                host=exc.host) from None

    async def endpoint(self, target: Target) -> Endpoint:
        return Endpoint(await self.get(target.profile), target.path, target.profile)


# -- output ---------------------------------------------------------------------------------


def _human(size: float | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class ProgressPrinter:
    """Shows transfer events: a bar redrawn in place, JSON lines, or nothing."""

    def __init__(self, mode: str, *, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream or (sys.stdout if mode == "json" else sys.stderr)
        self._width = 0
        self._paused = False

    def __call__(self, event: TransferEvent) -> None:
        if not isinstance(event, TransferSnapshot) or self.mode == "none":
            return
        if self.mode == "json":
            self.stream.write(json.dumps(event.to_json()) + "\n")
            self.stream.flush()
            return
        if self._paused:
            return
        self._bar(event)

    def _bar(self, snap: TransferSnapshot) -> None:
        fraction = snap.fraction
        width = 24
        filled = int(width * (fraction or 0.0))
        bar = "=" * filled + (">" if filled < width else "") + " " * (width - filled - 1)
        percent = "  ?%" if fraction is None else f"{fraction * 100:3.0f}%"
        total = _human(snap.total) + ("+" if snap.counting else "")
        files = f" {snap.files_done}/{snap.files_total} files" if snap.files_total > 1 else ""
        line = (f"[{bar[:width]}] {percent} {_human(snap.bytes_done)}/{total} "
                f"{_human(snap.speed)}/s ETA {_duration(snap.eta)}{files} {snap.state_text()}")
        line = line[:200]
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self._width = len(line)
        if snap.finished:
            self.stream.write("\n")
            self._width = 0
        self.stream.flush()

    @contextlib.contextmanager
    def paused(self) -> Any:
        """Stop drawing while a prompt is on screen."""
        self._paused = True
        if self._width and self.mode == "bar":
            self.stream.write("\n")
            self._width = 0
        try:
            yield
        finally:
            self._paused = False


def _fail(message: str) -> None:
    print(f"orbit: error: {message}", file=sys.stderr)


# -- conflicts on a terminal ----------------------------------------------------------------

_ANSWERS = {"o": ConflictPolicy.OVERWRITE, "s": ConflictPolicy.SKIP, "r": ConflictPolicy.RENAME,
            "u": ConflictPolicy.RESUME, "n": ConflictPolicy.NEWER, "z": ConflictPolicy.SIZE}


def _describe(entry: Entry) -> str:
    when = ("unknown time" if entry.mtime is None else
            datetime.datetime.fromtimestamp(entry.mtime).strftime("%Y-%m-%d %H:%M:%S"))
    return f"{_human(entry.size)}, modified {when}"


def terminal_resolver(printer: ProgressPrinter) -> Callable[[Conflict], Awaitable[ConflictAnswer]]:
    async def ask(conflict: Conflict) -> ConflictAnswer:
        with printer.paused():
            print(f"{conflict.destination_label} already exists ({_describe(conflict.destination)})"
                  f"\n  source {conflict.source_label} ({_describe(conflict.source)})",
                  file=sys.stderr)
            prompt = ("[o]verwrite, [s]kip, [r]ename (keep both), res[u]me, overwrite if "
                      "[n]ewer, overwrite if si[z]e differs; capital letter = for all: ")
            while True:
                print(prompt, end="", file=sys.stderr, flush=True)
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    raise OrbitError(f"{conflict.destination_label} already exists and no "
                                     "answer came (use --on-conflict)")
                key = line.strip()[:1]
                if key.lower() in _ANSWERS:
                    return ConflictAnswer(_ANSWERS[key.lower()], apply_to_all=key.isupper())

    return ask


# -- commands ---------------------------------------------------------------------------------


async def _cmd_profile(args: argparse.Namespace, store: ProfileStore) -> int:
    if args.profile_command == "list":
        profiles = store.load()
        if args.json:
            for profile in profiles:
                print(json.dumps(_profile_json(profile)))
        else:
            for profile in profiles:
                where = profile.host or profile.options.get("endpoint_url", "") or profile.root
                print(f"{profile.name}\t{profile.kind}\t{where}")
        return EXIT_OK
    if args.profile_command == "show":
        profile = store.get(args.name)
        data = _profile_json(profile)
        data["secret"] = "stored" if await asyncio.to_thread(store.secrets.get, profile.name) \
            else "none"
        if args.json:
            print(json.dumps(data))
        else:
            for key, value in data.items():
                print(f"{key}: {value}")
        return EXIT_OK
    if args.profile_command == "rm":
        await asyncio.to_thread(store.remove, args.name)
        return EXIT_OK
    # add
    if args.kind not in BACKEND_KINDS:
        raise UsageError(f"unknown kind {args.kind!r} (this build knows "
                         f"{', '.join(sorted(BACKEND_KINDS))})")
    options: dict[str, Any] = {}
    for flag, key in (("endpoint", "endpoint_url"), ("region", "region"),
                      ("key_file", "key_file"), ("share", "share"), ("domain", "domain")):
        value = getattr(args, flag)
        if value is not None:
            options[key] = _local_path(value) if flag == "key_file" else value
    if args.path_style:
        options["path_style"] = True
    if args.access_key is not None and args.user is not None:
        raise UsageError("--access-key is the S3 user name: give --access-key or --user")
    for item in args.option or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--option {item!r}: use KEY=VALUE")
        options[key] = _option_value(value)
    secret = None
    if args.secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise UsageError("--secret-stdin: nothing came on standard input")
        if options.get(REMEMBER_OPTION) is False:
            raise UsageError(f"--secret-stdin with --option {REMEMBER_OPTION}=false: that "
                             "profile never uses a stored secret (it asks each time)")
    root = args.root or "/"
    profile = Profile(name=args.name, kind=args.kind, host=args.host or "", port=args.port,
                      user=args.user or args.access_key or "", root=root, options=options)
    saved = await asyncio.to_thread(store.save, profile, secret)
    if secret is not None and not saved:
        print("orbit: warning: no usable keyring; the secret was not saved and lasts only "
              "for this command", file=sys.stderr)
    return EXIT_OK


def _local_path(value: str) -> str:
    return os.path.abspath(os.path.expanduser(value))


def _option_value(value: str) -> Any:
    """JSON where it parses (true, 3, [], "x"), else the text itself."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _profile_json(profile: Profile) -> dict[str, Any]:
    return {"name": profile.name, "kind": profile.kind, "host": profile.host,
            "port": profile.port, "user": profile.user, "root": profile.root,
            "options": dict(profile.options)}


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {"name": entry.name, "path": entry.path, "is_dir": entry.is_dir, "size": entry.size,
            "mtime": entry.mtime, "etag": entry.etag}


async def _cmd_ls(args: argparse.Namespace, store: ProfileStore) -> int:
    connections = Connections(store, accept_new_host_key=args.accept_new_host_key)
    try:
        target = parse_target(args.target, store)
        backend = await connections.get(target.profile)
        entry = await backend.stat(target.path)
        entries: AsyncIterator[Entry]
        if entry.is_dir:
            entries = backend.list(target.path, ListOptions(recursive=args.recursive))
        else:
            entries = _single(entry)
        base = target.path.rstrip("/") + "/"
        async for item in entries:
            if args.json:
                print(json.dumps(_entry_json(item)), flush=False)
                continue
            name = item.path[len(base):] if args.recursive and item.path.startswith(base) \
                else item.name
            when = "" if item.mtime is None else datetime.datetime.fromtimestamp(
                item.mtime).strftime("%Y-%m-%d %H:%M")
            size = "-" if item.is_dir else str(item.size if item.size is not None else "?")
            print(f"{'d' if item.is_dir else '-'} {size:>14} {when:16} "
                  f"{name}{'/' if item.is_dir else ''}")
        sys.stdout.flush()
    finally:
        await connections.aclose()
    return EXIT_OK


async def _single(entry: Entry) -> AsyncIterator[Entry]:
    yield entry


async def _cmd_rm(args: argparse.Namespace, store: ProfileStore) -> int:
    connections = Connections(store, accept_new_host_key=args.accept_new_host_key)
    try:
        target = parse_target(args.target, store)
        if target.path == "/":
            raise UsageError("refusing to remove the root")
        backend = await connections.get(target.profile)
        await backend.delete(target.path, recursive=args.recursive)
    finally:
        await connections.aclose()
    return EXIT_OK


async def _cmd_mkdir(args: argparse.Namespace, store: ProfileStore) -> int:
    connections = Connections(store, accept_new_host_key=args.accept_new_host_key)
    try:
        target = parse_target(args.target, store)
        backend = await connections.get(target.profile)
        await backend.mkdir(target.path, parents=True)
    finally:
        await connections.aclose()
    return EXIT_OK


def _progress_mode(args: argparse.Namespace) -> str:
    if args.progress:
        return str(args.progress)
    return "bar" if sys.stderr.isatty() else "none"


async def _run_transfers(queue: TransferQueue, transfers: Sequence[Transfer]) -> int:
    """Wait for ``transfers``; report failures one line each; the exit status."""
    results = await asyncio.gather(*(transfer.wait() for transfer in transfers))
    queue.hub.flush()
    status = EXIT_OK
    for snap in results:
        if snap.state is not TransferState.DONE:
            status = EXIT_FAILED
            _fail(f"{snap.source} -> {snap.destination}: {snap.error or snap.state.value}"
                  f" (transfer {snap.id})")
    return status


def _queue_kwargs(args: argparse.Namespace, printer: ProgressPrinter,
                  policy: ConflictPolicy | None) -> dict[str, Any]:
    resolver = None
    if policy is ConflictPolicy.ASK and sys.stdin.isatty():
        resolver = terminal_resolver(printer)
    kwargs: dict[str, Any] = {"resolver": resolver, "bwlimit": args.bwlimit}
    if args.concurrency is not None:
        kwargs["concurrency"] = args.concurrency
    return kwargs


async def _cmd_cp(args: argparse.Namespace, store: ProfileStore) -> int:
    from .transfer.queue import TransferQueue

    mode = _progress_mode(args)
    printer = ProgressPrinter(mode)
    connections = Connections(store, accept_new_host_key=args.accept_new_host_key)
    queue: TransferQueue | None = None
    try:
        source_target = parse_target(args.source, store)
        dest_target = parse_target(args.destination, store)
        source = await connections.endpoint(source_target)
        destination = await connections.endpoint(dest_target)
        entry = await source.backend.stat(source.path)
        if entry.is_dir and not args.recursive:
            raise UsageError(f"{source.label} is a folder: use -R to copy it")
        destination = await resolve_destination(
            source, destination, into=True if dest_target.trailing_slash else None)
        options = TransferOptions(
            part_size=args.part_size, window=args.window or TransferOptions().window,
            conflict=args.on_conflict, bwlimit=None)
        request = TransferRequest(source, destination, recursive=args.recursive,
                                  options=options)
        queue = await TransferQueue.open(opener=connections.get,
                                         **_queue_kwargs(args, printer, args.on_conflict))
        queue.hub.add_listener(printer)
        transfer = queue.add(request)
        return await _run_transfers(queue, [transfer])
    finally:
        if queue is not None:
            await queue.aclose()
        await connections.aclose()


def _record_line(record: TransferRecord) -> str:
    data = record.to_json()
    total = "?" if record.total is None else _human(record.total)
    when = datetime.datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M")
    line = (f"{record.id}  {when}  {data['state']:<11} {record.direction:<8} "
            f"{_human(record.bytes_done)}/{total}  {record.source} -> {record.destination}")
    if record.error:
        line += f"  ({record.error})"
    return line


async def _cmd_transfers(args: argparse.Namespace, store: ProfileStore) -> int:
    from .transfer.journal import AsyncJournal

    journal = await AsyncJournal.open(prune=True)
    try:
        records = await journal.call(journal.journal.transfers, limit=args.limit)
    finally:
        await journal.aclose()
    for record in records:
        if args.json:
            print(json.dumps(record.to_json()))
        else:
            print(_record_line(record))
    return EXIT_OK


def _select(records: list[TransferRecord], ids: Sequence[str],
            pool: list[TransferRecord]) -> list[TransferRecord]:
    if not ids:
        return records
    chosen: list[TransferRecord] = []
    for wanted in ids:
        matches = [record for record in pool if record.id.startswith(wanted)]
        if not matches:
            raise UsageError(f"no unfinished transfer has the id {wanted!r} "
                             "(see `orbit transfers`)")
        if len(matches) > 1:
            raise UsageError(f"the id {wanted!r} is ambiguous")
        chosen.append(matches[0])
    return chosen


async def _cmd_resume(args: argparse.Namespace, store: ProfileStore) -> int:
    from .transfer.queue import TransferQueue

    mode = _progress_mode(args)
    printer = ProgressPrinter(mode)
    connections = Connections(store, accept_new_host_key=args.accept_new_host_key)
    queue = await TransferQueue.open(opener=connections.get,
                                     **_queue_kwargs(args, printer, ConflictPolicy.ASK))
    try:
        interrupted = await queue.interrupted()
        pool = await queue.journal.call(queue.journal.journal.resumable)
        records = _select(interrupted, args.ids, pool)
        if args.list:
            for record in interrupted:
                print(_record_line(record))
            return EXIT_OK
        if not records:
            print("orbit: nothing to resume", file=sys.stderr)
            return EXIT_OK
        if args.discard:
            for record in records:
                await queue.discard_record(record)
                print(f"discarded {record.id}: {record.source} -> {record.destination}",
                      file=sys.stderr)
            return EXIT_OK
        queue.hub.add_listener(printer)

        def override(options: TransferOptions) -> TransferOptions:
            if args.window:
                options = replace(options, window=args.window)
            if args.on_conflict is not None:
                options = replace(options, conflict=args.on_conflict)
            return options

        transfers = [await queue.resume_record(record, override) for record in records]
        return await _run_transfers(queue, transfers)
    finally:
        await queue.aclose()
        await connections.aclose()


# -- argument parsing -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orbit", description="Copy files between this computer, S3, SFTP and SMB.",
        epilog="Targets: PROFILE:/path (a saved connection) or a local path.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    profile = commands.add_parser("profile", help="manage saved connections")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True,
                                              metavar="ACTION")
    add = profile_commands.add_parser("add", help="save a connection")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=["s3", "sftp", "smb", "local"])
    add.add_argument("--endpoint", help="S3 endpoint URL (S3-compatible stores)")
    add.add_argument("--region")
    add.add_argument("--path-style", action="store_true", help="S3 path-style addressing")
    add.add_argument("--access-key", help="S3 access key id (the secret comes on stdin)")
    add.add_argument("--host")
    add.add_argument("--port", type=int)
    add.add_argument("--user")
    add.add_argument("--key-file", help="SSH private key file")
    add.add_argument("--share", help="SMB share")
    add.add_argument("--domain", help="SMB domain")
    add.add_argument("--root", help="the folder opened first (default /)")
    add.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="another backend option, VALUE as JSON where it parses (repeatable)")
    add.add_argument("--secret-stdin", action="store_true",
                     help="read the password / secret key from standard input (one line)")
    listing = profile_commands.add_parser("list", help="list saved connections")
    listing.add_argument("--json", action="store_true")
    show = profile_commands.add_parser("show", help="show one connection (never its secret)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    remove = profile_commands.add_parser("rm", help="forget a connection and its secret")
    remove.add_argument("name")

    def connection_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--accept-new-host-key", action="store_true",
                         help="trust and record an SFTP server's unknown host key")

    ls = commands.add_parser("ls", help="list a folder")
    ls.add_argument("-R", "--recursive", action="store_true", help="every file below")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.add_argument("target")
    connection_flags(ls)

    def transfer_flags(sub: argparse.ArgumentParser, *, conflict_default: Any) -> None:
        sub.add_argument("--concurrency", type=_positive, help="files at once (default 3)")
        sub.add_argument("--window", type=_positive,
                         help="parts or ranges of one file in flight (default 4)")
        sub.add_argument("--bwlimit", type=_rate, default=None,
                         help="bandwidth limit in bytes/s: 500k, 10M (default none)")
        sub.add_argument("--on-conflict", type=_policy, default=conflict_default,
                         metavar="POLICY",
                         help="ask, overwrite, skip, rename, resume, newer, size")
        sub.add_argument("--progress", choices=["bar", "json", "none"],
                         help="bar (default on a terminal), json lines on stdout, none")
        connection_flags(sub)

    cp = commands.add_parser("cp", help="copy a file or (with -R) a folder")
    cp.add_argument("-R", "--recursive", action="store_true")
    cp.add_argument("source")
    cp.add_argument("destination")
    cp.add_argument("--part-size", type=parse_size, help="bytes per part/range (default 8M)")
    transfer_flags(cp, conflict_default=ConflictPolicy.ASK)

    rm = commands.add_parser("rm", help="remove a file or (with -R) a folder")
    rm.add_argument("-R", "--recursive", action="store_true")
    rm.add_argument("target")
    connection_flags(rm)

    mkdir = commands.add_parser("mkdir", help="make a folder (and its parents)")
    mkdir.add_argument("target")
    connection_flags(mkdir)

    resume = commands.add_parser("resume", help="continue interrupted transfers")
    resume.add_argument("ids", nargs="*", metavar="ID",
                        help="transfers to resume (default: every interrupted one)")
    resume.add_argument("--discard", action="store_true",
                        help="give them up instead: abort uploads, remove partial files")
    resume.add_argument("--list", action="store_true", help="only list interrupted transfers")
    transfer_flags(resume, conflict_default=None)

    transfers = commands.add_parser("transfers", help="the transfer journal, newest first")
    transfers.add_argument("--json", action="store_true")
    transfers.add_argument("--limit", type=_positive, default=50)
    return parser


_COMMANDS: dict[str, Callable[[argparse.Namespace, ProfileStore], Awaitable[int]]] = {
    "profile": _cmd_profile,
    "ls": _cmd_ls,
    "cp": _cmd_cp,
    "rm": _cmd_rm,
    "mkdir": _cmd_mkdir,
    "resume": _cmd_resume,
    "transfers": _cmd_transfers,
}


async def _dispatch(args: argparse.Namespace) -> int:
    store = ProfileStore(secrets=SecretStore())
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        if task is not None:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, interrupt)
    try:
        return await _COMMANDS[args.command](args, store)
    except asyncio.CancelledError:
        if not interrupted:
            raise
        print("\norbit: interrupted; `orbit resume` continues unfinished transfers",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the exit status (no logging setup)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_dispatch(args))
    except UsageError as exc:
        print(f"orbit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OrbitError as exc:
        _fail(exc.message)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Nobody reads any more: stop quietly, and keep the final flush from failing too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        log.exception("orbit %s failed", args.command)
        _fail(f"internal error ({type(exc).__name__}); details are in the log")
        return EXIT_FAILED


def _setup_logging() -> None:
    try:
        from orbit_gui.log import setup_logging
    except ImportError:  # pragma: no cover - the engine shipped alone
        logging.basicConfig(level=logging.WARNING)
        return
    setup_logging()


def exit_without_teardown(status: int) -> None:
    """End the process now, without the interpreter's teardown.

    Unloading botocore's and aiohttp's modules at exit takes 0.2-0.3 s of CPU,
    as much as downloading 100 MiB. By now every file, connection and the journal
    is closed; logs and the standard streams are flushed here. Returns (so the
    caller exits normally) if a thread still runs, if a stream cannot be flushed,
    or under coverage, which writes its data at exit.
    """
    import threading

    if threading.active_count() > 1 or "coverage" in sys.modules:
        return
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    _setup_logging()
    status = run(argv)
    if argv is None:  # the process's own command line: `orbit ...`
        exit_without_teardown(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
