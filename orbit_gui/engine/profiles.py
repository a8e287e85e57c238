"""Connection profiles and how a backend is opened from one.

A Profile holds everything needed to connect except secrets; those live in
the OS keyring (see the profile store) and are handed to ``open_backend``
separately so they can never be written out with the profile.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .backend import Backend
from .errors import Unsupported

__all__ = ["BACKEND_KINDS", "Profile", "open_backend"]

BACKEND_KINDS: Mapping[str, str] = {
    "local": "orbit_gui.engine.backends.local:LocalBackend",
}
"""Profile kind -> "module:class" of its backend, imported on first use."""


@dataclass(frozen=True, slots=True)
class Profile:
    """A saved or ad-hoc connection: which store, where, as whom."""

    name: str
    kind: str
    host: str = ""
    port: int | None = None
    user: str = ""
    root: str = "/"
    """The folder (or /bucket, /share) the browser opens first."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Kind specific settings: region, endpoint URL, encryption, key file..."""


def _backend_class(kind: str) -> type[Backend]:
    target = BACKEND_KINDS.get(kind)
    if target is None:
        known = ", ".join(sorted(BACKEND_KINDS))
        raise Unsupported(f"unknown connection kind {kind!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), class_name)
    return cls


async def open_backend(profile: Profile, secret: str | None = None) -> Backend:
    """Connect to the store ``profile`` describes, with ``secret`` if it needs one."""
    cls = _backend_class(profile.kind)
    return await cls.from_profile(profile, secret)
