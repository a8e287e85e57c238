"""What to do when a destination file already exists.

A transfer carries a :class:`ConflictPolicy`. Every policy but ``ASK`` decides
by itself (:func:`decide`). ``ASK`` goes through the queue's
:class:`ConflictGate` to the front end's async resolver (a dialog, a terminal
prompt): one question at a time, while the asking file holds no transfer slot,
so other transfers go on. An answer may apply to all remaining conflicts.
"""

from __future__ import annotations

import asyncio
import enum
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..backend import Backend
from ..errors import AlreadyExists
from ..types import Entry

__all__ = [
    "Conflict",
    "ConflictAnswer",
    "ConflictGate",
    "ConflictPolicy",
    "ConflictResolver",
    "decide",
    "free_name",
]


class ConflictPolicy(enum.StrEnum):
    ASK = "ask"
    OVERWRITE = "overwrite"
    SKIP = "skip"
    RENAME = "rename"
    """Keep both: the new file gets a free name such as ``report (1).pdf``."""
    RESUME = "resume"
    """Continue a partial destination (or an interrupted transfer) where it stopped."""
    NEWER = "newer"
    """Overwrite only when the source is newer than the destination, else skip."""
    SIZE = "size"
    """Overwrite only when the sizes differ, else skip."""

    @classmethod
    def parse(cls, text: str) -> ConflictPolicy:
        aliases = {"overwrite-if-newer": cls.NEWER, "if-newer": cls.NEWER,
                   "overwrite-if-size-differs": cls.SIZE, "size-differs": cls.SIZE,
                   "keep-both": cls.RENAME}
        key = text.strip().lower().replace("_", "-")
        if key in aliases:
            return aliases[key]
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(policy.value for policy in cls)
            raise ValueError(f"unknown conflict policy {text!r} (use one of {names})") from None


@dataclass(frozen=True, slots=True)
class Conflict:
    """One question for the user: the source and the existing destination side by side."""

    transfer_id: str
    source: Entry
    destination: Entry
    source_label: str
    destination_label: str
    can_resume: bool
    """A partial copy could be continued (else RESUME acts as overwrite/skip by size)."""


@dataclass(frozen=True, slots=True)
class ConflictAnswer:
    action: ConflictPolicy
    """Anything but ASK."""
    apply_to_all: bool = False
    """Use the same action for every remaining conflict in the queue."""

    def __post_init__(self) -> None:
        if self.action is ConflictPolicy.ASK:
            raise ValueError("an answer must be an action, not ASK")


ConflictResolver = Callable[[Conflict], Awaitable[ConflictAnswer]]


def decide(policy: ConflictPolicy, source: Entry, destination: Entry) -> ConflictPolicy:
    """Reduce a policy to the action for one file: OVERWRITE, SKIP, RENAME or RESUME."""
    if policy is ConflictPolicy.NEWER:
        if source.mtime is None or destination.mtime is None:
            return ConflictPolicy.OVERWRITE
        return ConflictPolicy.OVERWRITE if source.mtime > destination.mtime else ConflictPolicy.SKIP
    if policy is ConflictPolicy.SIZE:
        same = source.size is not None and source.size == destination.size
        return ConflictPolicy.SKIP if same else ConflictPolicy.OVERWRITE
    if policy is ConflictPolicy.ASK:
        raise ValueError("ASK needs the user: go through a ConflictGate")
    return policy


class ConflictGate:
    """Asks the front end, one conflict at a time, remembering "apply to all"."""

    def __init__(self, resolver: ConflictResolver | None = None) -> None:
        self.resolver = resolver
        self.sticky: ConflictPolicy | None = None
        """The answer given with "apply to all", used for every later conflict."""
        self._lock = asyncio.Lock()

    async def ask(self, conflict: Conflict) -> ConflictPolicy:
        if self.sticky is not None:
            return self.sticky
        async with self._lock:
            if self.sticky is not None:  # answered for all while we waited our turn
                return self.sticky
            if self.resolver is None:
                raise AlreadyExists(
                    f"{conflict.destination_label} already exists; choose what to do with "
                    "an on-conflict policy (overwrite, skip, rename, resume, newer, size)",
                    path=conflict.destination.path)
            answer = await self.resolver(conflict)
            if answer.apply_to_all:
                self.sticky = answer.action
            return answer.action

    def reset(self) -> None:
        self.sticky = None


async def free_name(backend: Backend, path: str, *, limit: int = 10_000) -> str:
    """``path`` with " (n)" before its extension, for the lowest n not taken."""
    folder, name = posixpath.split(path)
    stem, ext = posixpath.splitext(name)
    if stem.startswith(".") and not ext:
        stem, ext = name, ""
    for number in range(1, limit + 1):
        candidate = posixpath.join(folder, f"{stem} ({number}){ext}")
        if not await backend.exists(candidate):
            return candidate
    raise AlreadyExists(f"no free name like {name!r} left in {folder}", path=path)
