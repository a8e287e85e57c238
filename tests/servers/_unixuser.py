"""The unix account the SFTP and SMB servers log tests in as, and the folder
permissions that account needs.

As root: a dedicated system user ``orbit-test`` (no login shell, home
/home/orbit-test) is created once per machine with a random password, kept in
/var/lib/orbit-gui-tests/password (root only, mode 0600) and set again with
chpasswd at each use. sshd (UsePAM no) checks it against /etc/shadow; the SMB
server gets the same password in its private passdb. Not as root: the
current user, with no password (key authentication only).

The servers act as that user on folders that live in pytest's private temp
tree, so the user is given, by POSIX ACL, traverse rights on the folders
above them and full, inherited rights on the shared folders themselves.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import secrets
import shutil
import stat
import struct
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.servers._process import ServerUnavailable

__all__ = [
    "TEST_USER",
    "UnixUser",
    "current_user",
    "grant_access",
    "is_root",
    "server_user",
    "test_user",
    "verify_access",
]

TEST_USER = "orbit-test"
_STATE_DIR = Path("/var/lib/orbit-gui-tests")


@dataclass(frozen=True)
class UnixUser:
    name: str
    uid: int
    gid: int
    home: Path
    password: str | None  # None: key authentication only

    def is_current(self) -> bool:
        return self.uid == os.geteuid()


def is_root() -> bool:
    return os.geteuid() == 0


def current_user() -> UnixUser:
    entry = pwd.getpwuid(os.geteuid())
    return UnixUser(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), None)


def server_user() -> UnixUser:
    """``test_user()`` when root, else the current user without a password."""
    return test_user() if is_root() else current_user()


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    _STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (_STATE_DIR / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(argv: Sequence[str], stdin: str | None = None) -> None:
    try:
        result = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise ServerUnavailable(f"cannot run {argv[0]}: {exc}") from exc
    if result.returncode != 0:
        raise ServerUnavailable(
            f"{' '.join(argv)} failed with status {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise ServerUnavailable(f"{name} not found (Debian package passwd)")
    return found


def test_user() -> UnixUser:
    """The ``orbit-test`` account with its password, created if missing. Root only."""
    if not is_root():
        raise ServerUnavailable(f"creating the {TEST_USER} test account needs root")
    with _machine_lock():
        try:
            entry = pwd.getpwnam(TEST_USER)
        except KeyError:
            shells = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
            shell = next((s for s in shells if Path(s).exists()), "/bin/false")
            _run(
                [
                    _tool("useradd"),
                    "--system",
                    "--user-group",
                    "--create-home",
                    "--home-dir",
                    f"/home/{TEST_USER}",
                    "--shell",
                    shell,
                    "--comment",
                    "Orbit GUI test servers",
                    TEST_USER,
                ]
            )
            entry = pwd.getpwnam(TEST_USER)
        home = Path(entry.pw_dir)
        if not home.is_dir():
            home.mkdir(mode=0o755, parents=True)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        password_file = _STATE_DIR / "password"
        try:
            password = password_file.read_text().strip()
        except FileNotFoundError:
            password = ""
        if not password:
            password = secrets.token_urlsafe(18)
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
        # Set every time: cheap, and repairs a locked or changed account.
        _run([_tool("chpasswd")], stdin=f"{TEST_USER}:{password}\n")
    return UnixUser(TEST_USER, entry.pw_uid, entry.pw_gid, home, password)


# --- POSIX ACLs (system.posix_acl_* xattrs, Linux layout) ------------------------------

_ACL_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
_UNDEFINED = 0xFFFFFFFF


def _acl_blob(mode: int, uid: int, perm: int) -> bytes:
    owner, group, other = (mode >> 6) & 7, (mode >> 3) & 7, mode & 7
    entries = [
        (_USER_OBJ, owner, _UNDEFINED),
        (_USER, perm, uid),
        (_GROUP_OBJ, group, _UNDEFINED),
        (_MASK, group | perm, _UNDEFINED),
        (_OTHER, other, _UNDEFINED),
    ]
    return struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *e) for e in entries)


def _set_acl(path: Path, uid: int, perm: int, inherit: bool) -> bool:
    """Give uid ``perm`` on path (and on what is created inside, if ``inherit``).
    False when the filesystem has no POSIX ACLs."""
    mode = stat.S_IMODE(path.stat().st_mode)
    try:
        os.setxattr(path, "system.posix_acl_access", _acl_blob(mode, uid, perm))
        if inherit:
            os.setxattr(path, "system.posix_acl_default", _acl_blob(0o755, uid, perm))
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise
    return True


def _can_traverse(path: Path, user: UnixUser) -> bool:
    st = path.stat()
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_access(folders: Sequence[Path], user: UnixUser, base: Path) -> None:
    """Let ``user`` reach and fully use ``folders`` (each inside ``base``).

    Folders between ``base`` and each of them (and ``base`` itself) that the
    user cannot traverse get a traverse-only ACL entry for that user; the
    folders themselves a read-write-execute one, inherited by what is created
    inside. Without ACL support: traverse bit for others on the folders above,
    ownership of the folders themselves. Nothing outside ``base`` is changed.
    """
    if user.is_current():
        return
    base = base.resolve()
    for folder in folders:
        folder = folder.resolve()
        if folder != base and base not in folder.parents:
            raise ValueError(f"{folder} is not inside {base}")
        if not _set_acl(folder, user.uid, 0o7, inherit=True):
            os.chown(folder, user.uid, user.gid)
            folder.chmod(0o775)
        for parent in folder.parents:
            if parent == base.parent:
                break
            if not _can_traverse(parent, user) and not _set_acl(parent, user.uid, 0o1, False):
                parent.chmod(stat.S_IMODE(parent.stat().st_mode) | stat.S_IXOTH)


def verify_access(user: UnixUser, readable: Sequence[Path], writable: Sequence[Path]) -> None:
    """Check, as ``user``, that files are readable and folders writable; else explain."""
    if user.is_current():
        return
    script = (
        'mode=r; for p; do if [ "$p" = -- ]; then mode=w; continue; fi; '
        'if [ $mode = r ]; then test -r "$p" || { echo "$p"; exit 3; }; '
        'else test -w "$p" -a -x "$p" || { echo "$p"; exit 4; }; fi; done'
    )
    argv = ["/bin/sh", "-c", script, "sh", *map(str, readable), "--", *map(str, writable)]
    result = subprocess.run(
        argv,
        env={"PATH": "/usr/bin:/bin"},
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        what = "read" if result.returncode == 3 else "write into"
        raise ServerUnavailable(
            f"user {user.name} cannot {what} {result.stdout.strip() or '?'} "
            f"(status {result.returncode}): the test folders are not open to it"
        )
