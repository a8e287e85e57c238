"""SMB paths: ``/share/dir/file`` split into a share and a share-relative name.

SMB forbids ``" * : < > ? |`` and control characters in names (``:`` even opens
an alternate data stream). Like macOS, Windows Services for Macintosh and the
Linux kernel's ``mapposix``, such characters travel as their Unicode
private-use stand-ins (U+F001-U+F027, the "SFM" mapping) and are mapped back
when names are listed, so ``why?.txt`` round-trips. Samba's ``vfs_catia`` and
``vfs_fruit`` understand the same mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import InvalidPath
from ...paths import normalize

__all__ = ["SmbPath", "decode_name", "encode_name", "split_path"]

_SFM_SPECIAL = '"*:<>?'
_SFM_BASE = 0xF000

_ENCODE: dict[int, str] = {c: chr(_SFM_BASE + c) for c in range(1, 0x20)}
_ENCODE.update({ord(c): chr(0xF020 + i) for i, c in enumerate(_SFM_SPECIAL)})
_ENCODE[ord("|")] = chr(0xF027)
# U+F026 stands for a backslash, which can never be part of one of our names: it
# is left as it is when listing (and such a name shows with that character).
_DECODE: dict[int, str] = {ord(v): chr(k) for k, v in _ENCODE.items()}


def encode_name(name: str) -> str:
    """One name as it goes on the wire."""
    return name.translate(_ENCODE)


def decode_name(name: str) -> str:
    """One name as the server sent it, back in the user's characters."""
    return name.translate(_DECODE)


@dataclass(frozen=True, slots=True)
class SmbPath:
    """A normalised path and where it lives on the server."""

    path: str
    """The POSIX-style path, e.g. ``/data/dir/file``; ``/`` is the list of shares."""
    share: str
    """The share name; empty for ``/``."""
    parts: tuple[str, ...]
    """The components below the share (user characters)."""

    @property
    def is_root(self) -> bool:
        return not self.share

    @property
    def is_share(self) -> bool:
        return bool(self.share) and not self.parts

    @property
    def name(self) -> str:
        """The last component (the share name for a share, ``/`` for the root)."""
        if self.parts:
            return self.parts[-1]
        return self.share or "/"

    @property
    def wire(self) -> str:
        """The share-relative name SMB uses: ``dir\\file`` (empty for the share itself)."""
        return "\\".join(encode_name(p) for p in self.parts)

    def parent(self) -> SmbPath:
        if self.parts:
            return SmbPath(self.path.rsplit("/", 1)[0] or "/", self.share, self.parts[:-1])
        return SmbPath("/", "", ())

    def child(self, name: str) -> SmbPath:
        base = self.path.rstrip("/")
        if not self.share:
            return SmbPath(f"/{name}", name, ())
        return SmbPath(f"{base}/{name}", self.share, (*self.parts, name))

    def sibling(self, name: str) -> SmbPath:
        return self.parent().child(name)


def split_path(path: str) -> SmbPath:
    """Check and split an absolute path; refuses what SMB can never name."""
    if not path.startswith("/"):
        raise InvalidPath(f"{path!r} is not an absolute path (/share/folder/file)", path=path)
    clean = normalize(path)
    parts = tuple(p for p in clean.split("/") if p)
    for part in parts:
        if "\\" in part:
            raise InvalidPath(f"the name {part!r} contains '\\', which SMB cannot store",
                              path=path)
    if not parts:
        return SmbPath("/", "", ())
    return SmbPath(clean, parts[0], parts[1:])
