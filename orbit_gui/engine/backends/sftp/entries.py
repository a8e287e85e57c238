"""SFTP file attributes as Entries, and the version tag that stands in for an ETag."""

from __future__ import annotations

import mimetypes
import stat as stat_mod

import asyncssh

from ...types import Entry

__all__ = ["entry_from_attrs", "is_dir", "is_symlink", "version_tag"]


def _mode(attrs: asyncssh.SFTPAttrs) -> int:
    return attrs.permissions or 0


def is_dir(attrs: asyncssh.SFTPAttrs) -> bool:
    if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
        return True
    return stat_mod.S_ISDIR(_mode(attrs))


def is_symlink(attrs: asyncssh.SFTPAttrs) -> bool:
    if attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
        return True
    return stat_mod.S_ISLNK(_mode(attrs))


def version_tag(attrs: asyncssh.SFTPAttrs) -> str:
    """Changes whenever the file is rewritten: mtime (ns where the server gives it) and size.

    SFTP version 3 (OpenSSH) carries whole seconds and no inode; a rewrite
    through our own write() also replaces the file by rename, which moves the
    mtime along with the size in practice.
    """
    if attrs.mtime_ns is not None:
        mtime = attrs.mtime_ns
    else:
        mtime = (attrs.mtime or 0) * 1_000_000_000
    return f"{mtime:x}-{attrs.size or 0:x}"


def entry_from_attrs(path: str, name: str, attrs: asyncssh.SFTPAttrs,
                     *, link: bool = False) -> Entry:
    directory = is_dir(attrs)
    extra: dict[str, str] = {}
    if attrs.permissions is not None:
        extra["mode"] = stat_mod.filemode(attrs.permissions)
    if attrs.uid is not None:
        extra["uid"] = str(attrs.uid)
    if attrs.gid is not None:
        extra["gid"] = str(attrs.gid)
    if link:
        extra["symlink"] = "yes"
    mtime: float | None = None
    if attrs.mtime_ns is not None:
        mtime = attrs.mtime_ns / 1e9
    elif attrs.mtime is not None:
        mtime = float(attrs.mtime)
    return Entry(
        name=name,
        path=path,
        is_dir=directory,
        size=None if directory else (attrs.size or 0),
        mtime=mtime,
        etag=None if directory else version_tag(attrs),
        content_type=None if directory else mimetypes.guess_type(name)[0],
        extra=extra,
    )
