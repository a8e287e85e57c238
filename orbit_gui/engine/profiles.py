"""Connection profiles, their secrets, and how a backend is opened from one.

A Profile holds everything needed to connect except secrets. Profiles are
saved as a JSON file; secrets live only in the OS keyring (Secret Service,
macOS Keychain, Windows Credential Locker) and are handed to ``open_backend``
separately, so they can never be written out with the profile. Where no
keyring works, a secret is kept in memory for this session only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backend import Backend
from .errors import InvalidPath, NotFound, Unsupported
from .locations import APP_NAME, config_dir

__all__ = ["BACKEND_KINDS", "REMEMBER_OPTION", "Profile", "ProfileStore", "SecretStore",
           "backend_class", "open_backend"]

log = logging.getLogger(__name__)

BACKEND_KINDS: Mapping[str, str] = {
    "local": "orbit_gui.engine.backends.local:LocalBackend",
    "s3": "orbit_gui.engine.backends.s3:S3Backend",
    "smb": "orbit_gui.engine.backends.smb:SmbBackend",
    "sftp": "orbit_gui.engine.backends.sftp:SftpBackend",
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


def _unknown_kind(kind: str) -> Unsupported:
    known = ", ".join(sorted(BACKEND_KINDS))
    return Unsupported(f"unknown connection kind {kind!r} (known: {known})")


def backend_class(kind: str) -> type[Backend]:
    """The backend class of a profile kind, imported on first use (blocks: seconds)."""
    target = BACKEND_KINDS.get(kind)
    if target is None:
        raise _unknown_kind(kind)
    module_name, _, class_name = target.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), class_name)
    return cls


async def open_backend(profile: Profile, secret: str | None = None) -> Backend:
    """Connect to the store ``profile`` describes, with ``secret`` if it needs one."""
    # A backend's first import (aiobotocore, asyncssh) takes a second or more: in a
    # worker thread, so a GUI's event loop keeps painting meanwhile.
    cls = await asyncio.to_thread(backend_class, profile.kind)
    return await cls.from_profile(profile, secret)


_NAME = re.compile(r"^[\w][\w .@+-]{0,63}$")
_SECRET_LOOKING = re.compile(r"secret|password|passphrase|token|private", re.IGNORECASE)


def _check_profile(profile: Profile) -> None:
    if not _NAME.match(profile.name) or profile.name != profile.name.strip():
        raise InvalidPath(
            f"{profile.name!r} is not a usable profile name: use letters, digits, "
            "spaces, '.', '-', '_', '@' or '+', at most 64 characters"
        )
    if profile.kind not in BACKEND_KINDS:
        raise _unknown_kind(profile.kind)
    leaked = [key for key in profile.options if _SECRET_LOOKING.search(key)]
    if leaked:
        raise InvalidPath(
            f"profile {profile.name!r}: {', '.join(leaked)} must be stored as the "
            "profile's secret (in the keyring), not as an option"
        )


REMEMBER_OPTION = "remember_credentials"
"""A profile option (the GUI's choice): False means its secret is never stored, so
connecting does not look in the keyring for one."""


def _keyring() -> Any:
    """The keyring package, imported on first use: it costs ~0.1 s at start-up, which
    a command given its secret (or using none) need not pay."""
    if sys.platform != "darwin":
        # keyring loads every backend it ships. Its macOS one imports a module that
        # looks for the Security framework with ctypes' find_library, which off macOS
        # runs ldconfig, gcc and ld for each of three libraries (~0.1 s of CPU) to find
        # nothing. That backend is not viable here whatever it finds (its priority
        # says "macOS required"): marked missing, the module fails to import at once,
        # which the backend already handles.
        sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]
    import keyring
    import keyring.errors

    return keyring


class SecretStore:
    """Secrets by profile name: the OS keyring, else memory for this session.

    Calls may block on D-Bus: from async code, run them in a worker thread.
    """

    def __init__(self, service: str = APP_NAME) -> None:
        self.service = service
        self._session: dict[str, str] = {}
        self.persistent = True
        """False once the keyring failed: secrets then last for this session only."""

    def kept(self, name: str) -> str | None:
        """The secret kept in memory for this session, if any (never the keyring)."""
        return self._session.get(name)

    def get(self, name: str) -> str | None:
        if name in self._session:
            return self._session[name]
        if not self.persistent:
            return None
        keyring = _keyring()
        try:
            secret: str | None = keyring.get_password(self.service, name)
            return secret
        except keyring.errors.KeyringError as exc:
            self._keyring_failed(exc)
            return None

    def set(self, name: str, secret: str) -> bool:
        """Store ``secret``; True if it was saved in the keyring, False if only
        kept for this session (the caller should tell the user)."""
        if self.persistent:
            keyring = _keyring()
            try:
                keyring.set_password(self.service, name, secret)
                self._session.pop(name, None)
                return True
            except keyring.errors.KeyringError as exc:
                self._keyring_failed(exc)
        self._session[name] = secret
        return False

    def keep_for_session(self, name: str, secret: str) -> None:
        """Remember ``secret`` in memory until the process ends, never in the keyring
        (a secret the user typed without saving it: the next connection to the same
        profile, a transfer's own included, need not ask again)."""
        self._session[name] = secret

    def delete(self, name: str) -> None:
        self._session.pop(name, None)
        if not self.persistent:
            return
        keyring = _keyring()
        try:
            keyring.delete_password(self.service, name)
        except keyring.errors.PasswordDeleteError:
            pass  # there was none
        except keyring.errors.KeyringError as exc:
            self._keyring_failed(exc)

    def _keyring_failed(self, exc: Exception) -> None:
        self.persistent = False
        log.warning("no usable keyring (%s): secrets are kept for this session only",
                    type(exc).__name__)


class ProfileStore:
    """Saved profiles in ``profiles.json`` under the config folder, secrets apart."""

    def __init__(self, path: Path | None = None, secrets: SecretStore | None = None) -> None:
        self.path = path or config_dir() / "profiles.json"
        self.secrets = secrets or SecretStore()

    def load(self) -> list[Profile]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise InvalidPath(f"cannot read the profiles in {self.path}: {exc}",
                              path=str(self.path)) from exc
        fields = {f.name for f in dataclasses.fields(Profile)}
        return [Profile(**{k: v for k, v in item.items() if k in fields})
                for item in raw.get("profiles", [])]

    def get(self, name: str) -> Profile:
        for profile in self.load():
            if profile.name == name:
                return profile
        raise NotFound(f"there is no saved connection named {name!r}")

    def save(self, profile: Profile, secret: str | None = None) -> bool:
        """Add or replace ``profile``; store ``secret`` if given.

        Returns False when the secret could only be kept for this session.
        """
        _check_profile(profile)
        profiles = [p for p in self.load() if p.name != profile.name]
        profiles.append(profile)
        self._write(profiles)
        if secret is None:
            return True
        return self.secrets.set(profile.name, secret)

    def remove(self, name: str) -> None:
        profiles = self.load()
        kept = [p for p in profiles if p.name != name]
        if len(kept) == len(profiles):
            raise NotFound(f"there is no saved connection named {name!r}")
        self._write(kept)
        self.secrets.delete(name)

    def _write(self, profiles: list[Profile]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "profiles": [
            {**dataclasses.asdict(p), "options": dict(p.options)}
            for p in sorted(profiles, key=lambda p: p.name.casefold())
        ]}
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".profiles-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
