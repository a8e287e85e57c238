"""Host key trust for SFTP: OpenSSH ``known_hosts`` files, read exactly as ssh reads them.

A server's key is checked against ``~/.ssh/known_hosts`` plus the app's own
known-hosts file. The outcome is one of three: trusted; unknown (never seen
for this host and port: the user must compare the fingerprint and accept it,
which :func:`accept_host_key` records in the app's file); or changed (another
key of the same type is recorded, or the key is revoked: refused, never
accepted silently).

Matching follows OpenSSH rather than asyncssh's own lookup, which falls back
from ``[host]:port`` to the bare host: a key recorded for port 22 says nothing
about a server on another port of the same machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from ...errors import HostKeyChanged, HostKeyUnknown
from ...locations import config_dir

__all__ = [
    "DEFAULT_SSH_PORT",
    "HostKeyMatch",
    "KnownHosts",
    "SftpHostKeyChanged",
    "SftpHostKeyUnknown",
    "accept_host_key",
    "app_known_hosts_path",
    "host_token",
    "system_known_hosts_path",
    "trust_host_key_for_session",
]

DEFAULT_SSH_PORT = 22

_session_keys: list[tuple[str, asyncssh.SSHKey]] = []
"""(host token, key) pairs the user accepted once: trusted until the process ends."""


def app_known_hosts_path() -> Path:
    """The app's own known-hosts file (under ORBIT_CONFIG_DIR when that is set)."""
    return config_dir() / "known_hosts"


def system_known_hosts_path() -> Path:
    """The user's OpenSSH known-hosts file, shared with the ssh command."""
    return Path("~", ".ssh", "known_hosts").expanduser()


def host_token(host: str, port: int | None) -> str:
    """How OpenSSH writes a host in known_hosts: ``host`` or ``[host]:port``."""
    if port is None or port == DEFAULT_SSH_PORT:
        return host
    return f"[{host}]:{port}"


class SftpHostKeyUnknown(HostKeyUnknown):
    """An unknown SFTP host key, with what :func:`accept_host_key` needs to record it."""

    def __init__(self, message: str, *, host: str, port: int, fingerprint: str,
                 public_key: str) -> None:
        super().__init__(message, host=host, fingerprint=fingerprint)
        self.hostname = host
        self.port = port
        self.public_key = public_key
        """The key in OpenSSH text form ("ssh-ed25519 AAAA...")."""

    def accept(self, *, known_hosts: Path | None = None) -> Path:
        """Record this key as trusted (after the user compared the fingerprint)."""
        return accept_host_key(self.hostname, self.port, self.public_key,
                               known_hosts=known_hosts)

    def accept_once(self) -> None:
        """Trust this key until the process ends, recording it nowhere."""
        trust_host_key_for_session(self.hostname, self.port, self.public_key)


class SftpHostKeyChanged(HostKeyChanged):
    """A changed or revoked SFTP host key; ``recorded_in`` names the file(s) holding the old one."""

    def __init__(self, message: str, *, host: str, port: int, fingerprint: str,
                 public_key: str, recorded_in: Sequence[str] = ()) -> None:
        super().__init__(message, host=host, fingerprint=fingerprint)
        self.port = port
        self.public_key = public_key
        self.recorded_in = tuple(recorded_in)


@dataclass(frozen=True)
class _Line:
    source: str  # "file:line"
    marker: str | None  # None, "revoked" or "cert-authority"
    patterns: str
    key: asyncssh.SSHKey


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _hashed_match(entry: str, name: str) -> bool:
    try:
        _, magic, salt64, digest64 = entry.split("|")
        if magic != "1":
            return False
        salt = base64.b64decode(salt64)
        digest = base64.b64decode(digest64)
    except ValueError:
        return False
    mine = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mine, digest)


def _patterns_match(patterns: str, name: str) -> bool:
    """OpenSSH host pattern-list semantics: any positive match and no negated one."""
    if patterns.startswith("|"):
        return _hashed_match(patterns, name)
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if _pattern_regex(pattern).fullmatch(name):
            if negated:
                return False
            matched = True
    return matched


def _parse(path: Path) -> list[_Line]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    lines: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = None
        if fields[0].startswith("@"):
            marker, fields = fields[0][1:], fields[1:]
        if len(fields) < 3:
            continue
        try:
            key = asyncssh.import_public_key(f"{fields[1]} {fields[2]}")
        except (asyncssh.KeyImportError, ValueError):
            continue  # a key type we cannot read: ssh would skip it too
        lines.append(_Line(f"{path}:{number}", marker, fields[0], key))
    return lines


@dataclass(frozen=True)
class HostKeyMatch:
    """What the known-hosts files say about one host and port."""

    host: str
    port: int
    trusted: list[tuple[asyncssh.SSHKey, str]] = field(default_factory=list)
    revoked: list[tuple[asyncssh.SSHKey, str]] = field(default_factory=list)

    def preferred_algorithms(self) -> list[bytes]:
        """Host key algorithms to ask for first: those of the recorded keys."""
        algs: list[bytes] = []
        for key, _ in self.trusted:
            for alg in key.sig_algorithms:
                if alg not in algs:
                    algs.append(alg)
        return algs

    def check(self, key: asyncssh.SSHKey) -> SftpHostKeyUnknown | SftpHostKeyChanged | None:
        """None when ``key`` is trusted, else the error to raise."""
        fingerprint = key.get_fingerprint("sha256")
        text = key.export_public_key("openssh").decode().split()
        public_key = " ".join(text[:2])
        where = f"{self.host}:{self.port}"
        for revoked, source in self.revoked:
            if revoked == key:
                return SftpHostKeyChanged(
                    f"The host key of {where} ({fingerprint}) is marked as revoked in "
                    f"{source}; the connection was refused.",
                    host=self.host, port=self.port, fingerprint=fingerprint,
                    public_key=public_key, recorded_in=[source],
                )
        if any(trusted == key for trusted, _ in self.trusted):
            return None
        same_type = [source for trusted, source in self.trusted
                     if trusted.algorithm == key.algorithm]
        if same_type:
            return SftpHostKeyChanged(
                f"WARNING: the host key of {where} has CHANGED (it is now {fingerprint}; "
                f"another key is recorded in {', '.join(same_type)}). Someone may be "
                "intercepting the connection, so it was refused. If the server was "
                "reinstalled, ask its administrator for the new fingerprint and remove "
                "the old entry.",
                host=self.host, port=self.port, fingerprint=fingerprint,
                public_key=public_key, recorded_in=same_type,
            )
        other = ""
        if self.trusted:
            other = " Keys of another type are already recorded for this host."
        return SftpHostKeyUnknown(
            f"The authenticity of {where} cannot be established: its host key "
            f"({key.get_algorithm()}) has the fingerprint {fingerprint}, which is not "
            f"known yet.{other} Compare it with the one the server's administrator gives "
            "you before accepting it.",
            host=self.host, port=self.port, fingerprint=fingerprint, public_key=public_key,
        )


class KnownHosts:
    """The known-hosts files consulted for a connection (re-read at each lookup)."""

    def __init__(self, files: Iterable[Path]) -> None:
        self.files = list(files)

    def lookup(self, host: str, port: int | None) -> HostKeyMatch:
        port = port or DEFAULT_SSH_PORT
        name = host_token(host, port)
        match = HostKeyMatch(host, port)
        for path in self.files:
            for line in _parse(path):
                if not _patterns_match(line.patterns, name):
                    continue
                if line.marker is None:
                    match.trusted.append((line.key, line.source))
                elif line.marker == "revoked":
                    match.revoked.append((line.key, line.source))
                # @cert-authority: host certificates are not accepted here
        match.trusted.extend((key, "this session") for token, key in _session_keys
                             if token == name)
        return match


def _as_key(key: str | bytes | asyncssh.SSHKey) -> asyncssh.SSHKey:
    return key if isinstance(key, asyncssh.SSHKey) else asyncssh.import_public_key(key)


def trust_host_key_for_session(host: str, port: int | None,
                               key: str | bytes | asyncssh.SSHKey) -> None:
    """Trust ``key`` for ``host:port`` until this process ends ("accept once")."""
    entry = (host_token(host, port or DEFAULT_SSH_PORT), _as_key(key))
    if entry not in _session_keys:
        _session_keys.append(entry)


def accept_host_key(host: str, port: int | None, key: str | bytes | asyncssh.SSHKey, *,
                    known_hosts: Path | None = None) -> Path:
    """Record ``key`` as trusted for ``host:port`` in the app's known-hosts file.

    Called after the user compared the fingerprint of a HostKeyUnknown (its
    ``public_key``). Returns the file written.
    """
    key = _as_key(key)
    path = known_hosts or app_known_hosts_path()
    text = key.export_public_key("openssh").decode().split()
    line = f"{host_token(host, port)} {text[0]} {text[1]}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as file:
        existing = file.read()
        if line in existing.splitlines(keepends=True):
            return path
        if existing and not existing.endswith("\n"):
            file.write("\n")
        file.write(line)
        file.flush()
        os.fsync(file.fileno())
    return path
