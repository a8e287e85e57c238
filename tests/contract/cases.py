"""The backends the conformance suite runs against.

Each case opens a connected backend and a fresh, empty scratch folder on it,
and cleans up afterwards. A backend joins the suite by adding a case here;
what it cannot do is declared in its ``Features``, never skipped by name.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest

from orbit_gui.engine import Backend
from orbit_gui.engine.backends.local import LocalBackend

__all__ = ["CASES", "BackendCase", "Target"]


@dataclass(frozen=True)
class Target:
    """A backend under test and an empty folder on it that the test may fill."""

    backend: Backend
    root: str

    def path(self, *names: str) -> str:
        return "/".join([self.root.rstrip("/"), *names])


OpenTarget = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[Target]]


@dataclass(frozen=True)
class BackendCase:
    id: str
    open: OpenTarget


@asynccontextmanager
async def _local(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    tmp = request.getfixturevalue("tmp_path")
    root = tmp / f"scratch-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    async with LocalBackend() as backend:
        yield Target(backend, str(root))


CASES: list[BackendCase] = [
    BackendCase("local", _local),
]
