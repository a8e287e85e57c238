"""Transfers: how bytes move between backends (windowed downloads, sinks, checkpoints).

Importing the package itself is cheap: a name taken from it imports the
submodules on first use, so a command that needs one light submodule (``orbit
ls`` needs ``bandwidth`` and ``conflicts`` to parse its arguments) does not pay
for the transfer machinery (~0.1 s of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bandwidth import BandwidthLimiter, TokenBucket, parse_rate
    from .conflicts import Conflict, ConflictAnswer, ConflictGate, ConflictPolicy, ConflictResolver
    from .journal import AsyncJournal, FileRecord, Journal, TransferRecord
    from .progress import (
        Direction,
        FileFailure,
        PartProgress,
        PartState,
        ProgressHub,
        Subscription,
        TransferEvent,
        TransferRemoved,
        TransferSnapshot,
        TransferState,
    )
    from .queue import BackendOpener, Transfer, TransferQueue
    from .request import Endpoint, FileItem, TransferOptions, TransferRequest, resolve_destination
    from .scheduler import Scheduler
    from .sink import DigestSink, Hasher, LocalFileSink, RangeSink
    from .window import (
        DEFAULT_SLOT_SIZE,
        DEFAULT_WINDOW,
        CheckpointCallback,
        EventCallback,
        RangeState,
        SlotEvent,
        WindowDownload,
        WindowOptions,
        WindowResult,
        check_source,
        download_to_file,
        plain_md5,
        slot_size_for,
    )
    from .window_state import WindowState

__all__ = [
    "DEFAULT_SLOT_SIZE",
    "DEFAULT_WINDOW",
    "AsyncJournal",
    "BackendOpener",
    "BandwidthLimiter",
    "CheckpointCallback",
    "Conflict",
    "ConflictAnswer",
    "ConflictGate",
    "ConflictPolicy",
    "ConflictResolver",
    "DigestSink",
    "Direction",
    "Endpoint",
    "EventCallback",
    "FileFailure",
    "FileItem",
    "FileRecord",
    "Hasher",
    "Journal",
    "LocalFileSink",
    "PartProgress",
    "PartState",
    "ProgressHub",
    "RangeSink",
    "RangeState",
    "Scheduler",
    "SlotEvent",
    "Subscription",
    "TokenBucket",
    "Transfer",
    "TransferEvent",
    "TransferOptions",
    "TransferQueue",
    "TransferRecord",
    "TransferRemoved",
    "TransferRequest",
    "TransferSnapshot",
    "TransferState",
    "WindowDownload",
    "WindowOptions",
    "WindowResult",
    "WindowState",
    "check_source",
    "download_to_file",
    "parse_rate",
    "plain_md5",
    "resolve_destination",
    "slot_size_for",
]

_SUBMODULES = ("bandwidth", "conflicts", "journal", "progress", "queue", "request",
               "scheduler", "sink", "window", "window_state")


def __getattr__(name: str) -> object:
    if name in __all__:
        for submodule in _SUBMODULES:
            module = importlib.import_module(f"{__name__}.{submodule}")
            if name in getattr(module, "__all__", ()):
                value: object = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
