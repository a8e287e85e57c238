from __future__ import annotations

import errno

import pytest

from orbit_gui.engine import errors
from orbit_gui.engine.backends.local import map_os_error


def test_every_error_belongs_to_the_tree() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.OrbitError)


@pytest.mark.parametrize(
    ("cls", "retriable"),
    [(errors.NotFound, False), (errors.AuthenticationFailed, False), (errors.NoSpace, False),
     (errors.ConnectionFailed, True), (errors.Timeout, True), (errors.Throttled, True),
     (errors.ServerError, True), (errors.IntegrityError, True), (errors.Cancelled, False)],
)
def test_retriable_verdicts(cls: type[errors.OrbitError], retriable: bool) -> None:
    assert cls("x").retriable is retriable


def test_a_verdict_can_be_overridden_per_error() -> None:
    assert errors.OrbitError("odd server reply", retriable=True).retriable


@pytest.mark.parametrize(
    ("code", "cls"),
    [(errno.ENOENT, errors.NotFound), (errno.EACCES, errors.PermissionDenied),
     (errno.ENOSPC, errors.NoSpace), (errno.ENOTEMPTY, errors.DirectoryNotEmpty),
     (errno.EEXIST, errors.AlreadyExists), (errno.EIO, errors.OrbitError)],
)
def test_os_errors_map_into_the_tree_and_name_the_path(code: int, cls: type) -> None:
    mapped = map_os_error(OSError(code, "reason"), "/some/where")
    assert type(mapped) is cls
    assert "/some/where" in str(mapped) and mapped.path == "/some/where"
