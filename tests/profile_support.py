"""Profile stores for GUI tests: a private config folder and keyring service per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import keyring
import pytest

from orbit_gui.engine import InvalidPath
from orbit_gui.engine.profiles import ProfileStore, SecretStore

__all__ = ["profile_store", "real_keyring"]


@pytest.fixture
def real_keyring() -> None:
    """Skip (fail under CI) unless a real keyring answers (scripts/test-session.sh)."""
    backend = keyring.get_keyring()
    if backend.priority <= 0 or "fail" in type(backend).__module__:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Secret Service keyring in CI (got {backend!r})")
        pytest.skip("no keyring here: run the tests through scripts/test-session.sh")


@pytest.fixture
def profile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProfileStore]:
    """A store in ORBIT_CONFIG_DIR=tmp_path/orbit with its own keyring service."""
    monkeypatch.setenv("ORBIT_CONFIG_DIR", str(tmp_path / "orbit"))
    store = ProfileStore(secrets=SecretStore(service=f"orbit-gui-test-{tmp_path.name}"))
    yield store
    with suppress(InvalidPath):
        for profile in store.load():
            store.secrets.delete(profile.name)
