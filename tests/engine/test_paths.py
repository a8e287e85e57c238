from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orbit_gui.engine import InvalidPath
from orbit_gui.engine.paths import check_name, join, normalize, parent


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "../etc", "a\\b", "..\\..\\x", "nul\x00byte", "bell\x07", "n" * 256,
     "é" * 128],
)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidPath):
        check_name(name)


@pytest.mark.parametrize("name", ["a.txt", "...", "..a", "🚀", "n" * 255, "é" * 127, " x "])
def test_ordinary_names_pass(name: str) -> None:
    assert check_name(name) == name


@given(st.text())
def test_join_never_escapes_the_folder(name: str) -> None:
    try:
        joined = join("/safe/folder", name)
    except InvalidPath:
        return
    assert parent(joined) == "/safe/folder"


def test_normalize() -> None:
    assert normalize("") == "/"
    assert normalize("a//b/./c/") == "/a/b/c"
    with pytest.raises(InvalidPath):
        normalize("/a/../b")
