"""The engine is plain asyncio: no Qt anywhere below orbit_gui/engine/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import orbit_gui.engine

ENGINE = Path(orbit_gui.engine.__file__).parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qasync")


def test_no_engine_module_imports_qt() -> None:
    offenders = []
    for source in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            offenders += [f"{source.relative_to(ENGINE)}: {m}" for m in modules
                          if m.split(".")[0] in QT_MODULES]
    assert offenders == []


def test_importing_every_engine_module_loads_no_qt() -> None:
    script = (
        "import importlib, pkgutil, sys, orbit_gui.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'orbit_gui.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_is_declared() -> None:
    for name in orbit_gui.engine.__all__:
        assert hasattr(orbit_gui.engine, name), name
